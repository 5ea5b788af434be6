/** /v1/purposes: the purposes catalogue (admin scope). */
import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, jsonBody, jsonResponse, z } from '../http/openapi.js';
import { createPurpose, getPurpose, listPurposes, updatePurpose } from './purposes.js';
import { Purpose, PurposeCreate, PurposePatch, PurposeWithVersions } from './schemas.js';
import { admin, ctxOf } from './route-kit.js';

const PurposeId = z.object({ id: z.string().min(1).max(64) });

export const purposeRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Purposes'],
      summary: 'Adds a purpose to the catalogue (version 1)',
      security: AUTHED,
      middleware: [admin] as const,
      request: { body: jsonBody(PurposeCreate) },
      responses: { 201: jsonResponse(Purpose, 'Created'), ...errorResponses(400, 401, 403, 409) },
    }),
    async (c) => c.json(await createPurpose(ctxOf(c), c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Purposes'],
      summary: 'Lists the purposes catalogue (current versions)',
      security: AUTHED,
      middleware: [admin] as const,
      responses: { 200: jsonResponse(z.object({ purposes: z.array(Purpose) }), 'Catalogue'), ...errorResponses(401, 403) },
    }),
    async (c) => c.json({ purposes: await listPurposes(c.get('deps')) }, 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Purposes'],
      summary: 'One purpose with every text version and its SHA-256',
      security: AUTHED,
      middleware: [admin] as const,
      request: { params: PurposeId },
      responses: { 200: jsonResponse(PurposeWithVersions, 'Purpose'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(await getPurpose(c.get('deps'), c.req.valid('param').id), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['Purposes'],
      summary: 'Changes a purpose; a new title or text makes a new version (old versions are kept)',
      security: AUTHED,
      middleware: [admin] as const,
      request: { params: PurposeId, body: jsonBody(PurposePatch) },
      responses: { 200: jsonResponse(PurposeWithVersions, 'Updated'), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await updatePurpose(ctxOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
  );
