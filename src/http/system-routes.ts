/** Public, unauthenticated routes: health, readiness, public keys, API description. */
import { createRoute } from '@hono/zod-openapi';
import { createRouter, z } from './openapi.js';
import { probeJson } from './basics.js';

const Status = z.object({ status: z.string(), checks: z.record(z.string(), z.boolean()).optional() });

export const systemRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['System'],
      summary: 'Liveness: the process answers',
      responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Status } } } },
    }),
    (c) => probeJson(c.get('requestId'), { status: 'ok' }, 200) as never,
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['System'],
      summary: 'Readiness: database reachable, migrations applied, start-up work done',
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: Status } } },
        503: { description: 'Not ready', content: { 'application/json': { schema: Status } } },
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      let database = false;
      let migrations = false;
      try {
        database = await deps.db.system.ping();
        migrations = await deps.db.system.migrationsApplied();
      } catch {
        // unreachable, closed, or no migrations journal at all: not ready
      }
      const startup = deps.startup.ready;
      const ok = database && migrations && startup;
      return probeJson(c.get('requestId'), { status: ok ? 'ready' : 'not_ready', checks: { database, migrations, startup } }, ok ? 200 : 503) as never;
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/.well-known/jwks.json',
      tags: ['System'],
      summary: 'Public keys (Ed25519) that sign tree heads, receipts and manifests — old ones included',
      description:
        'A retired key (after `oubli keys rotate`) carries `notAfter`, in milliseconds since the Unix epoch like ' +
        'tree-head timestamps: its private half was destroyed then, so a head or receipt it signed later is forged.',
      responses: {
        200: {
          description: 'JWK set',
          content: { 'application/json': { schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) } },
        },
      },
    }),
    (c) => {
      c.header('Cache-Control', 'public, max-age=300');
      return c.json(c.get('deps').keys.jwks() as { keys: Record<string, unknown>[] }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/.well-known/oubli-audit-key',
      tags: ['System'],
      summary: "Verifier key of the audit log's checkpoints, in the note format name+keyhash+base64",
      description:
        'The key name is the log id (the origin line of GET /v1/audit/checkpoint); golang.org/x/mod/sumdb/note ' +
        'NewVerifier and transparency-log witnesses read it as is. It changes when the signing key is rotated.',
      responses: { 200: { description: 'Verifier key', content: { 'text/plain': { schema: z.string() } } } },
    }),
    (c) => {
      c.header('Cache-Control', 'public, max-age=300');
      return c.text(c.get('deps').treeHeads.verifierKey(), 200, { 'Content-Type': 'text/plain; charset=utf-8' });
    },
  );
