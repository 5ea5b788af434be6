/**
 * Child process for the consent benchmarks, so the server and autocannon each get a core:
 * `consent-server.ts hello` serves a bare Hono hello-world (the baseline);
 * `consent-server.ts app <db>` serves the real app over the fixture database.
 * Prints `PORT <n>` once listening, on 127.0.0.1 only; answers the IPC message 'cpu' with its
 * CPU time in µs.
 */
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.js';
import { migrateDatabase, openDatabase } from '../../src/db/client.js';
import { benchCtx } from './consent-fixture.js';

const [mode, path] = process.argv.slice(2);
let fetch: (req: Request) => Response | Promise<Response>;
if (mode === 'hello') {
  const hello = new Hono();
  hello.get('/', (c) => c.text('Hello Hono!'));
  fetch = hello.fetch;
} else {
  const db = openDatabase(path!);
  migrateDatabase(db);
  const { actor: _actor, ...deps } = benchCtx(db);
  fetch = createApp(deps).fetch;
}
const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
server.once('listening', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
// The parent asks for this process's CPU time around each measurement (server cost per request,
// independent of how fast the load generator on the same machine can go).
process.on('message', (m) => {
  if (m === 'cpu') {
    const u = process.cpuUsage();
    process.send!({ cpu: u.user + u.system });
  }
});
