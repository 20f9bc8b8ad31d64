import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** Frontend message types after which the backend answers ReadyForQuery. */
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'

/**
 * PGlite served over the PostgreSQL wire protocol on loopback, so the app talks `pg` whether the
 * database is embedded or real.
 *
 * PGlite has one backend. Clients take turns on it by whole protocol cycles: a connection holds the
 * backend from its first message until the backend is ready for a query again outside a transaction
 * (after Sync or a simple Query). A transaction, and an extended-protocol Parse/Bind/Execute run, thus
 * always stays on one connection; interleaving them per message would let one client's unnamed
 * statement replace another's.
 */
export class EmbeddedPostgres {
  private server: net.Server | undefined;
  private owner: Connection | undefined;
  private waiting: Array<() => void> = [];
  private readonly connections = new Set<Connection>();

  private constructor(
    readonly db: PGlite,
    private readonly lock: DataDirLock | undefined,
  ) {}

  /**
   * Opens (or creates) the database at `dataDir`; `memory://` keeps it in memory. Takes the directory's
   * lock first: PGlite has no postmaster.pid of its own, and two processes on one directory corrupt it.
   */
  static async open(dataDir: string): Promise<EmbeddedPostgres> {
    if (dataDir.startsWith('memory://')) return new EmbeddedPostgres(await PGlite.create(dataDir), undefined);
    fs.mkdirSync(dataDir, { recursive: true });
    const lock = DataDirLock.take(dataDir);
    try {
      return new EmbeddedPostgres(await PGlite.create(dataDir), lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /**
   * Listens on 127.0.0.1 (port 0: an ephemeral one) and returns a `postgres://` URL for it. `onError`
   * hears what goes wrong once it listens (the server failing, a connection's rollback failing): each
   * ends at most that connection, never the process.
   */
  async listen(port = 0, onError: (error: unknown) => void = () => undefined): Promise<string> {
    this.onError = onError;
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        server.on('error', (error) => this.onError(error));
        resolve();
      });
    });
    const address = server.address() as net.AddressInfo;
    return `postgres://postgres@127.0.0.1:${address.port}/postgres?sslmode=disable`;
  }

  private onError: (error: unknown) => void = () => undefined;

  /** Set once close() starts: connections dropped from then on need no rollback. */
  closing = false;

  async close(): Promise<void> {
    this.closing = true;
    for (const connection of this.connections) connection.socket.destroy();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    await this.db.close();
    this.lock?.release();
  }

  /** Waits until `connection` owns the backend. */
  async acquire(connection: Connection): Promise<void> {
    while (this.owner && this.owner !== connection) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.owner = connection;
  }

  release(connection: Connection): void {
    if (this.owner !== connection) return;
    this.owner = undefined;
    const waiters = this.waiting;
    this.waiting = [];
    for (const wake of waiters) wake();
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const connection = new Connection(this, socket);
    this.connections.add(connection);
    socket.on('close', () => {
      this.connections.delete(connection);
      connection.abandon().catch((error: unknown) => this.onError(error));
    });
    socket.on('error', () => socket.destroy());
  }
}

/** Another live process holds the data directory. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the data directory ${dataDir} is in use by process ${pid} (another Nerve hub); stop that process, ` +
        'or point NERVE_DATA_DIR at another directory',
    );
    this.name = 'DataDirInUseError';
  }
}

/** Lock files this process holds: a second open in the same process is as unsafe as one from another. */
const heldLocks = new Set<string>();

/**
 * `<dataDir>.lock` beside the database directory, holding the owner's PID. Stale (taken over) when that
 * process is gone, e.g. after a crash or a container restart (where the new process may even reuse the
 * PID, hence the set of locks held here rather than a PID comparison alone).
 */
export class DataDirLock {
  private constructor(readonly file: string) {}

  static take(dataDir: string): DataDirLock {
    const resolved = path.resolve(dataDir);
    const file = `${resolved}.lock`;
    for (;;) {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
        heldLocks.add(file);
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const pid = Number.parseInt(readOr(file, ''), 10);
      const mine = pid === process.pid && heldLocks.has(file);
      if (mine || (pid > 0 && pid !== process.pid && alive(pid)))
        throw new DataDirInUseError(path.dirname(resolved), pid);
      // Stale (or half-written by a process that died at once): remove it and race for it again.
      fs.rmSync(file, { force: true });
    }
  }

  release(): void {
    if (!heldLocks.delete(this.file)) return;
    fs.rmSync(this.file, { force: true });
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class Connection {
  private buffer = Buffer.alloc(0);
  private started = false;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly host: EmbeddedPostgres,
    readonly socket: net.Socket,
  ) {
    socket.on('data', (chunk) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.chain = this.chain
        .then(() => this.drain())
        .catch(() => {
          socket.destroy();
        });
    });
  }

  /** Rolls back whatever the connection left open and frees the backend. */
  async abandon(): Promise<void> {
    this.closed = true;
    await this.chain;
    if (this.host.closing || this.host.db.closed) return;
    await this.host.acquire(this);
    try {
      if (this.host.db.isInTransaction()) await this.host.db.exec('ROLLBACK');
    } finally {
      this.host.release(this);
    }
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const message = this.next();
      if (!message) return;
      if (!this.started) {
        const code = message.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          this.socket.end();
          return;
        }
        this.started = true;
        await this.exchange(message, true);
        continue;
      }
      const type = message[0];
      if (type === TERMINATE) {
        this.socket.end();
        return;
      }
      await this.exchange(message, type === SYNC || type === QUERY);
    }
  }

  /** The next whole message in the buffer: startup messages have no type byte. */
  private next(): Buffer | undefined {
    const headerLength = this.started ? 5 : 4;
    if (this.buffer.length < headerLength) return undefined;
    const length = this.started ? 1 + this.buffer.readInt32BE(1) : this.buffer.readInt32BE(0);
    if (this.buffer.length < length) return undefined;
    const message = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return message;
  }

  private async exchange(message: Buffer, endsCycle: boolean): Promise<void> {
    const { db } = this.host;
    await this.host.acquire(this);
    try {
      await db.execProtocolRawStream(new Uint8Array(message), {
        onRawData: (data) => {
          // The chunk may be a view into PGlite's memory, reused once this callback returns.
          if (!this.socket.destroyed) this.socket.write(Buffer.from(data));
        },
      });
    } finally {
      if (endsCycle && !db.isInTransaction()) this.host.release(this);
    }
  }
}
