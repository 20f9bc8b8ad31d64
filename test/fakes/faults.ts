import type http from 'node:http';
import { mulberry32 } from '../../src/common/random';

/** A failure a fake vendor server can inject instead of answering. */
export type Fault =
  /** An error status with the vendor's error body; `headers` e.g. `{ 'retry-after': '1' }`. */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** 200 with a body that is not JSON. */
  | { kind: 'malformed' }
  /** Never answers (the client must time out); the socket is destroyed when the server closes. */
  | { kind: 'hang' }
  /** Drops the connection without a reply. */
  | { kind: 'reset' };

/**
 * The fault knobs shared by the fake vendor servers: faults queued for the next requests (in order),
 * and random faults at a rate from a seeded generator, so a test can push thousands of records
 * through a flaky vendor deterministically.
 */
export class FaultInjector {
  private queue: Fault[] = [];
  private random: () => number = () => 1;
  private rate = 0;
  private randomFaults: Fault[] = [];
  /** Faults injected so far, by kind. */
  readonly injected: Record<string, number> = {};

  /** Queues faults for the next matching requests. */
  next(...faults: Fault[]): this {
    this.queue.push(...faults);
    return this;
  }

  /** Each matching request fails with probability `rate`, with a fault drawn from `faults`. */
  randomly(rate: number, faults: Fault[], seed = 1): this {
    this.rate = rate;
    this.randomFaults = faults;
    this.random = mulberry32(seed);
    return this;
  }

  clear(): void {
    this.queue = [];
    this.rate = 0;
  }

  /**
   * Applies a fault to this request if one is due; true when it answered (or dropped) the request.
   * `hung` collects hanging responses so the server can end them on close.
   */
  apply(res: http.ServerResponse, hung: Set<http.ServerResponse>): boolean {
    let fault = this.queue.shift();
    if (!fault && this.rate > 0 && this.random() < this.rate) {
      fault = this.randomFaults[Math.floor(this.random() * this.randomFaults.length)];
    }
    if (!fault) return false;
    this.injected[fault.kind] = (this.injected[fault.kind] ?? 0) + 1;
    switch (fault.kind) {
      case 'status':
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(fault.body === undefined ? '' : JSON.stringify(fault.body));
        return true;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"results": [ {"id": "1", "prop');
        return true;
      case 'hang':
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return true;
      case 'reset':
        res.socket?.destroy();
        return true;
    }
  }
}
