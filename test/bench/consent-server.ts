/**
 * Child process for the consent benchmarks, so the server and autocannon each get a core:
 * - `consent-server.ts hello` serves a bare Hono hello-world (a floor no real handler reaches);
 * - `consent-server.ts minimal <db>` serves the reference for the hot path: the same stack (Hono
 *   on @hono/node-server, better-sqlite3) doing only what GET /v1/subjects/{id}/consents must —
 *   the API key looked up by its SHA-256, the identifier looked up with the person's states, the
 *   five purposes' states as JSON — with none of oubli's plumbing;
 * - `consent-server.ts app <db>` serves the real app over the fixture database (a SQLite file or
 *   a postgres:// URL).
 * Prints `PORT <n>` once listening, on 127.0.0.1 only; answers the IPC message 'cpu' with its
 * CPU time in µs.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import Sqlite from '../../connectors/sql/sqlite-binding.js';
import { createApp } from '../../src/app.js';
import { benchCtx, openBenchDatabase } from './consent-fixture.js';

const [mode, target] = process.argv.slice(2);
let fetch: (req: Request) => Response | Promise<Response>;
if (mode === 'hello') {
  const hello = new Hono();
  hello.get('/', (c) => c.text('Hello Hono!'));
  fetch = hello.fetch;
} else if (mode === 'minimal') {
  fetch = minimal(target!).fetch;
} else {
  const db = await openBenchDatabase(target!);
  const { actor: _actor, ...deps } = await benchCtx(db);
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

/** The reference handler (see the header), on a read-only connection with oubli's page cache. */
function minimal(path: string) {
  const sqlite = new Sqlite(path, { readonly: true, fileMustExist: true });
  sqlite.pragma('cache_size = -262144');
  const key = sqlite.prepare('select id from api_keys where hash = ? and revoked_at is null');
  const states = sqlite
    .prepare(
      `select i.subject_id, c.purpose_id, c.decision, c.occurred_at, c.channel from subject_identifiers i
       left join consent_states c on c.subject_id = i.subject_id where i.type = ? and i.value = ?`,
    )
    .raw();
  const purposes = sqlite.prepare('select id from purposes order by id').pluck().all() as string[];
  const app = new Hono();
  app.get('/v1/subjects/:identifier/consents', (c) => {
    const bearer = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '');
    if (!bearer || !key.get(createHash('sha256').update(bearer[1]!).digest('hex'))) return c.json({ error: 'unauthorized' }, 401);
    const param = c.req.param('identifier');
    const colon = param.indexOf(':');
    const rows = states.all(param.slice(0, colon), param.slice(colon + 1).toLowerCase()) as [string, string | null, string | null, number | null, string | null][];
    return c.json({
      subjectId: rows[0]?.[0] ?? null,
      consents: purposes.map((p) => {
        const r = rows.find((x) => x[1] === p);
        return r ? { purpose: p, state: r[2], since: new Date(r[3]!).toISOString(), channel: r[4] } : { purpose: p, state: 'unknown', since: null, channel: null };
      }),
    });
  });
  return app;
}
