/**
 * Route plumbing shared by every sub-app: an OpenAPIHono whose validation failures become
 * 400 VALIDATION_FAILED listing the fields, and the schemas of the error responses, so
 * /openapi.json is generated from the same definitions that validate requests.
 */
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from './env.js';
import { errorBody } from './errors.js';

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const fields = result.error.issues.map((i) => ({
        path: i.path.join('.') || '(root)',
        message: i.message,
      }));
      const list = fields.map((f) => f.path).join(', ');
      return c.json(errorBody(c, 'VALIDATION_FAILED', `invalid ${result.target}: ${list}`, { fields }), 400);
    },
  });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_FAILED' }),
      message: z.string(),
      requestId: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (INVALID_JSON, VALIDATION_FAILED, …)',
  401: 'Missing or invalid credentials (UNAUTHENTICATED)',
  403: 'Authenticated but not allowed (INSUFFICIENT_SCOPE)',
  404: 'Not found',
  409: 'Conflict with the current state',
  410: 'Gone: no longer accepted',
  413: 'Body too large (PAYLOAD_TOO_LARGE)',
  415: 'Unsupported media type',
  429: 'Too many attempts (see Retry-After)',
};

/** OpenAPI `responses` entries for the given error statuses. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: DESCRIPTIONS[s] ?? 'Error', content: { 'application/json': { schema: ErrorSchema } } }]),
  );
}

/** Security requirement for routes reachable with an API key or a staff session. */
export const AUTHED: Record<string, string[]>[] = [{ bearerAuth: [] }, { cookieAuth: [] }];

/** An OpenAPI response object for a JSON answer: `{ 200: jsonResponse(Schema, 'What it is') }`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** A JSON request body, required (so a wrong content type is a 415, not an empty object). */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { 'application/json': { schema } } } as const;
}

/** Non-negative integer from a query string; rejects "1.5", "-1", "1e3", "". */
export const queryInt = (name: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, `${name} must be a non-negative integer`)
    .transform(Number);

export { z };
