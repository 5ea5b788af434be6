/** Runs the HTTP server plus the background tickers, and shuts both down cleanly. */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { Deps } from './deps.js';
import { Engine } from './engine/worker.js';
import { startTreeHeadTicker } from './audit/ticker.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(deps: Deps): Promise<RunningServer> {
  const app = createApp(deps);
  const server = serve({ fetch: app.fetch, port: deps.config.port, hostname: deps.config.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = deps.config.host.includes(':') ? `[${deps.config.host}]` : deps.config.host;
  const url = `http://${host}:${port}`;

  // Tree heads at most once per second while the log grows, by one instance at a time.
  const heads = startTreeHeadTicker(deps.treeHeads, deps.logger);

  // The durable request engine: claims due tasks, calls connectors, survives restarts.
  const engine = new Engine(deps);
  engine.start();

  return {
    url,
    close: async () => {
      await engine.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await heads.stop();
    },
  };
}
