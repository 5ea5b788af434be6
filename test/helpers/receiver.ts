/**
 * A real HTTP server on 127.0.0.1 (port 0) for tests of outbound calls: it records every
 * request it gets (method, path, headers, body) and every socket opened to it, and answers with
 * the handler the test gives.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Sockets opened to the server so far (keep-alive reuse shows as fewer sockets than requests). */
  sockets(): number;
  close(): Promise<void>;
}

export type Handler = (req: Received, res: ServerResponse, raw: IncomingMessage) => unknown;

export async function startReceiver(handler: Handler): Promise<Receiver> {
  const received: Received[] = [];
  let sockets = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      Promise.resolve(handler(r, res, req)).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
  });
  server.on('connection', () => sockets++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    sockets: () => sockets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (yet): a receiver that is down. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Writes `bytes` bytes of `a` in 64 KiB chunks, respecting backpressure (stops if the peer leaves). */
export function streamBytes(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 97);
  let sent = 0;
  const write = () => {
    while (sent < bytes) {
      if (res.destroyed) return;
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', write);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => (sent = bytes));
  write();
}
