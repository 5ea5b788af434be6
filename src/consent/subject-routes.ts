/** /v1/subjects/{identifier}/consents…: a person's current states (the hot path) and ledger. consents:read. */
import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, jsonResponse, z } from '../http/openapi.js';
import { parseIdentifierParam } from '../identity.js';
import { readConsents } from './states.js';
import { consentHistoryOf } from './history.js';
import { ConsentEvent, ConsentStates, IdentifierParam } from './schemas.js';
import { read } from './route-kit.js';

export const subjectConsentRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/{identifier}/consents',
      tags: ['Consents'],
      summary: 'Current state of every purpose for a person (the hot path: "may I email them?")',
      security: AUTHED,
      middleware: [read] as const,
      request: {
        params: IdentifierParam,
        query: z.object({ purpose: z.string().max(2000).optional().openapi({ description: 'Comma-separated purpose ids' }) }),
      },
      responses: { 200: jsonResponse(ConsentStates, 'States'), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const identity = parseIdentifierParam(c.req.valid('param').identifier, { defaultRegion: deps.config.phoneRegion });
      const only = c.req.valid('query').purpose;
      return c.json(await readConsents(deps, identity, deps.now(), only ? only.split(',').filter(Boolean) : undefined), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/{identifier}/consents/history',
      tags: ['Consents'],
      summary: "A person's consent events, oldest occurredAt first",
      security: AUTHED,
      middleware: [read] as const,
      request: { params: IdentifierParam },
      responses: {
        200: jsonResponse(z.object({ subjectId: z.string(), events: z.array(ConsentEvent) }), 'History'),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const identity = parseIdentifierParam(c.req.valid('param').identifier, { defaultRegion: deps.config.phoneRegion });
      return c.json(await consentHistoryOf(deps, identity), 200);
    },
  );
