/** GET /.well-known/gpc.json (public): this site honours Global Privacy Control. */
import { createRoute } from '@hono/zod-openapi';
import { createRouter, jsonResponse, z } from '../http/openapi.js';

export const gpcRoutes = createRouter().openapi(
  createRoute({
    method: 'get',
    path: '/.well-known/gpc.json',
    tags: ['Consents'],
    summary: 'Global Privacy Control support resource',
    responses: { 200: jsonResponse(z.object({ gpc: z.boolean(), lastUpdate: z.string() }), 'GPC support') },
  }),
  async (c) => {
    const { list } = await c.get('deps').purposes.get();
    const last = list.reduce((m, p) => (p.view.gpcApplies && p.view.updatedAt > m ? p.view.updatedAt : m), '');
    c.header('Cache-Control', 'public, max-age=3600');
    return c.json({ gpc: true, lastUpdate: (last || '2026-01-01').slice(0, 10) }, 200);
  },
);
