import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, jsonResponse, queryInt, z } from '../http/openapi.js';
import { requireScope } from '../http/auth.js';
import { toHex } from './verify.js';

const Hex = z.string().regex(/^[0-9a-f]{64}$/).openapi({ example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });

const TreeHeadSchema = z
  .object({ size: z.number().int(), root: Hex, timestamp: z.number().int(), jws: z.string() })
  .openapi('SignedTreeHead');

const read = requireScope('audit:read');

const NOTE_TEXT = { 'text/plain': { schema: z.string() } };

export const auditRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/checkpoint',
      tags: ['Audit'],
      summary: 'Latest signed tree head as a C2SP tlog-checkpoint signed note (public)',
      description:
        'Public: a checkpoint holds no personal data, only the log id (origin line), tree size and root hash, ' +
        'signed (Ed25519, C2SP signed-note) by the key published at /.well-known/oubli-audit-key. Keep copies ' +
        'outside oubli (a witness, a WORM bucket, the DPO\'s mailbox); `oubli audit verify --checkpoint FILE` ' +
        'later proves the log still extends each of them.',
      responses: { 200: { description: 'Checkpoint note (at most 1 s behind the log)', content: NOTE_TEXT }, ...errorResponses(500) },
    }),
    async (c) => {
      const note = await c.get('deps').treeHeads.checkpoint();
      c.header('Cache-Control', 'no-cache');
      return c.text(note, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/tree-head',
      tags: ['Audit'],
      summary: 'Latest signed tree head (at most 1 s behind the log)',
      security: AUTHED,
      middleware: [read] as const,
      responses: { 200: jsonResponse(TreeHeadSchema, 'Signed tree head'), ...errorResponses(401, 403) },
    }),
    async (c) => {
      const head = await c.get('deps').treeHeads.current();
      return c.json({ size: head.size, root: head.root, timestamp: head.timestamp, jws: head.jws }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/entries',
      tags: ['Audit'],
      summary: 'Entries from an index, as the exact canonical JSON that was hashed',
      security: AUTHED,
      middleware: [read] as const,
      request: {
        query: z
          .object({
            from: queryInt('from').default(0),
            limit: queryInt('limit')
              .pipe(z.number().int().min(1).max(1000))
              .default(100),
          })
          .strict(),
      },
      responses: {
        200: jsonResponse(z.array(z.object({ index: z.number().int(), entry: z.string(), leafHash: Hex })), 'Entries'),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { from, limit } = c.req.valid('query');
      const rows = await c.get('deps').audit.entries(from, limit);
      return c.json(rows.map((r) => ({ index: r.index, entry: r.entry, leafHash: toHex(r.leafHash) })), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/proofs/inclusion',
      tags: ['Audit'],
      summary: 'RFC 9162 inclusion proof of entry `index` in the tree of `size` entries',
      security: AUTHED,
      middleware: [read] as const,
      request: { query: z.object({ index: queryInt('index'), size: queryInt('size') }).strict() },
      responses: {
        200: jsonResponse(z.object({ index: z.number().int(), size: z.number().int(), proof: z.array(Hex) }), 'Inclusion proof'),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { index, size } = c.req.valid('query');
      const proof = await c.get('deps').audit.inclusionProof(index, size);
      return c.json({ index, size, proof: proof.map(toHex) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/proofs/consistency',
      tags: ['Audit'],
      summary: 'RFC 9162 consistency proof between the trees of `from` and `to` entries',
      security: AUTHED,
      middleware: [read] as const,
      request: { query: z.object({ from: queryInt('from'), to: queryInt('to') }).strict() },
      responses: {
        200: jsonResponse(z.object({ from: z.number().int(), to: z.number().int(), proof: z.array(Hex) }), 'Consistency proof'),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { from, to } = c.req.valid('query');
      const proof = await c.get('deps').audit.consistencyProof(from, to);
      return c.json({ from, to, proof: proof.map(toHex) }, 200);
    },
  );
