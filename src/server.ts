/** Runs the HTTP server plus the background tickers, and shuts both down cleanly. */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { Deps } from './deps.js';
import { Engine } from './engine/worker.js';
import { startTreeHeadTicker } from './audit/ticker.js';
import { Deliverer } from './webhooks/deliverer.js';
import { MailSender } from './mail/sender.js';
import { metricsApp } from './metrics/routes.js';

export interface RunningServer {
  url: string;
  /** The metrics listener's /metrics (OUBLI_METRICS_BIND), when there is one. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/** Starts `fetch` on host:port; answers the server and its base URL once it listens. */
async function listen(fetch: Parameters<typeof serve>[0]['fetch'], host: string, port: number) {
  const server = serve({ fetch, port, hostname: host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}` };
}

function closeServer(server: ReturnType<typeof serve>): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
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
  const { server, url } = await listen(fetch, deps.config.host, deps.config.port);
  // Unauthenticated, on its own address only: the API listener's /metrics still needs the scope.
  let metrics: Awaited<ReturnType<typeof listen>> | undefined;
  if (deps.config.metricsBind) {
    const { host, port } = deps.config.metricsBind;
    try {
      metrics = await listen(metricsApp(deps).fetch, host, port);
    } catch (err) {
      // A taken or unknown address stops the start-up, as the API's own would.
      await closeServer(server);
      throw err;
    }
  }

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
    metricsUrl: metrics && `${metrics.url}/metrics`,
    close: async () => {
      await engine.stop();
      await webhooks.stop();
      await mails.stop();
      await Promise.all([closeServer(server), metrics && closeServer(metrics.server)]);
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
