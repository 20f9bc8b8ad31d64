import WebSocket from 'ws';

export interface Init {
  acked: boolean;
  socket: WebSocket;
  /** How the server closed it, when it did before acknowledging. */
  close?: { code: number; reason: string };
  closed: Promise<{ code: number; reason: string }>;
  /** Messages after the acknowledgement. */
  messages: Array<{ type: string; id?: string; payload?: unknown }>;
}

/** A raw graphql-transport-ws connection: opens, sends connection_init, and reports the server's answer. */
export function init(
  url: string,
  payload: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Init> {
  const socket = new WebSocket(url.replace('http://', 'ws://'), 'graphql-transport-ws', { headers });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const messages: Init['messages'] = [];
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as Init['messages'][number];
      if (message.type === 'connection_ack') resolve({ acked: true, socket, closed, messages });
      else messages.push(message);
    });
    void closed.then((close) => resolve({ acked: false, socket, close, closed, messages }));
  });
}
