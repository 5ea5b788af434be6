/** Runs the HTTP server plus the background tickers, and shuts both down cleanly. */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { Deps } from './deps.js';
import { Engine } from './engine/worker.js';
import { startTreeHeadTicker } from './audit/ticker.js';
import { Deliverer } from './webhooks/deliverer.js';
import { MailSender } from './mail/sender.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(deps: Deps): Promise<RunningServer> {
  const app = createApp(deps);
  // Handlers still running at shutdown — their client may have gone, closing its connection —
  // finish before the store closes: a write that reached the handler is committed or refused
  // cleanly, never cut off by a closed pool.
  let inFlight = 0;
  let drained: (() => void) | null = null;
  const fetch: typeof app.fetch = async (req, ...rest) => {
    inFlight++;
    try {
      return await app.fetch(req, ...rest);
    } finally {
      if (--inFlight === 0) drained?.();
    }
  };
  const server = serve({ fetch, port: deps.config.port, hostname: deps.config.host });
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

  // Webhook deliveries: durable, retried, one sender per delivery across instances.
  const webhooks = new Deliverer(deps, deps.webhookClient);
  webhooks.start();

  // The person's request e-mails: durable, retried, one sender per mail across instances.
  const mails = new MailSender(deps);
  mails.start();

  return {
    url,
    close: async () => {
      await engine.stop();
      await webhooks.stop();
      await mails.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, 10_000).unref();
        });
      }
      await heads.stop();
    },
  };
}
