/** /v1/subjects/{identifier}/identifiers: links another identifier to a person. consents:write. */
import { createRoute } from '@hono/zod-openapi';
import { AUTHED, createRouter, errorResponses, jsonBody, jsonResponse, z } from '../http/openapi.js';
import { actorOf, requireScope } from '../http/auth.js';
import { normalizeIdentity, parseIdentifierParam } from '../identity.js';
import { IdentifierParam } from '../consent/schemas.js';
import { linkSubjectIdentifier } from './service.js';

/** What linking answers: never the person's identifiers (that would be a read with a write scope). */
const IdentifierLinked = z.object({ subjectId: z.string(), linked: z.boolean() }).openapi('IdentifierLinked');

export const subjectRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/{identifier}/identifiers',
    tags: ['Subjects'],
    summary: 'Links another identifier to the same person (409 if it belongs to someone else)',
    security: AUTHED,
    middleware: [requireScope('consents:write')] as const,
    request: {
      params: IdentifierParam,
      body: jsonBody(z.object({ type: z.string().trim().min(1).max(40), value: z.string().trim().min(1).max(320) }).strict()),
    },
    responses: {
      201: jsonResponse(IdentifierLinked, 'Linked'),
      200: jsonResponse(IdentifierLinked, 'Already linked to this person'),
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  async (c) => {
    const deps = c.get('deps');
    const region = { defaultRegion: deps.config.phoneRegion };
    const holder = parseIdentifierParam(c.req.valid('param').identifier, region);
    const identity = normalizeIdentity(c.req.valid('json'), region);
    const body = await linkSubjectIdentifier({ ...deps, actor: actorOf(c) }, holder, identity);
    return body.linked ? c.json(body, 201) : c.json(body, 200);
  },
);
