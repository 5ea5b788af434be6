/**
 * Child process for foundation.bench.ts: serves either a bare Hono hello-world or the real app
 * on 127.0.0.1 (ephemeral port), and reports its own CPU time on request, so the bench can
 * compare server CPU per request as well as throughput on a machine shared with other work.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/runtime.js';
import { createApp } from '../../src/app.js';
import { listen } from './util.js';

const kind = process.argv[2];
let fetchFn: (req: Request) => Response | Promise<Response>;
if (kind === 'bare') {
  const bare = new Hono();
  bare.get('/healthz', (c) => c.json({ status: 'ok' }));
  fetchFn = bare.fetch;
} else {
  const deps = await buildDeps(loadConfig({ OUBLI_DATA_DIR: mkdtempSync(join(tmpdir(), 'oubli-bench-srv-')), OUBLI_LOG_LEVEL: 'silent' }));
  fetchFn = createApp(deps).fetch;
}
const server = await listen(fetchFn);
process.send!({ url: server.url });
process.on('message', (m) => {
  if (m === 'cpu') {
    const u = process.cpuUsage();
    process.send!({ cpuMicros: u.user + u.system });
  } else if (m === 'stop') {
    void server.close().then(() => process.exit(0));
  }
});
