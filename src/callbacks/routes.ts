/**
 * /v1/callbacks/{token} — where a silo that answers later (the webhook connector's internal
 * systems) posts its answer. No API key: the token is the credential (./service.ts). The
 * token is checked before the body is read (route middleware runs before the body's
 * validation), so a caller without one cannot make oubli parse megabytes.
 */
import { createRoute } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { CallbackAnswerSchema } from '../../connectors/callback.js';
import type { AppEnv } from '../http/env.js';
import { createRouter, errorResponses, jsonBody, jsonResponse, z } from '../http/openapi.js';
import { answerCallback, CALLBACK_ACTOR, findWaitingTask } from './service.js';

/** Largest answer accepted (records of an access included); smaller bodies go under the default cap. */
export const CALLBACK_BODY_LIMIT = 8 * 1024 * 1024;

const Token = z.string().max(200).openapi({ param: { name: 'token', in: 'path' }, example: 'cbk_tsk_01jq….Xo2…' });

const Answered = z.object({ task: z.string(), status: z.enum(['done', 'failed']) }).openapi('CallbackAnswered');

/** Refuses an unknown, forged or spent token before anything else happens. */
const knownToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  await findWaitingTask(c.get('deps'), c.req.param('token') ?? '');
  await next();
};

export const callbackRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/{token}',
    tags: ['Callbacks'],
    summary: "A silo's answer to a task waiting for it (erasure or access), authenticated by the task's callback token",
    description:
      'The token (cbk_…) came with the request oubli sent the silo (the webhook connector: `data.callbackUrl` / `data.callbackToken`). ' +
      'It is accepted once, while the task waits: an unknown or forged token is 404 CALLBACK_NOT_FOUND, an answered, timed-out or ' +
      'cancelled task 410 CALLBACK_GONE, and nothing changes. Body: `{status: "completed"|"failed", message?}` with, for an erasure, ' +
      '`counts: {collections: [{name, deleted, masked, retained, retainedBecause?}]}` (or totals `deleted`, `masked`), for an access ' +
      '`collections: [{name, portable, records}]` and `discovered?`. A `failed` answer fails the task for good (the request needs the DPO).',
    middleware: [knownToken] as const,
    request: { params: z.object({ token: Token }), body: jsonBody(CallbackAnswerSchema) },
    responses: {
      200: jsonResponse(Answered, 'Answer recorded'),
      ...errorResponses(400, 404, 410, 413, 415),
    },
  }),
  async (c) => {
    const ctx = { ...c.get('deps'), actor: CALLBACK_ACTOR };
    const r = await answerCallback(ctx, c.req.valid('param').token, c.req.valid('json'));
    return c.json(r, 200);
  },
);
