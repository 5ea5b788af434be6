import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  AppError,
  ConflictError,
  ForbiddenError,
  GoneError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthenticatedError,
  ValidationError,
} from '../errors.js';
import type { AppEnv } from './env.js';

function statusOf(err: AppError): ContentfulStatusCode {
  if (err instanceof ValidationError) return 400;
  if (err instanceof UnauthenticatedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof GoneError) return 410;
  if (err instanceof PayloadTooLargeError) return 413;
  if (err instanceof TooManyRequestsError) return 429;
  return 500;
}

/** `{error: {code, message, requestId}}` — the one error shape of the API. */
export function errorBody(c: Context<AppEnv>, code: string, message: string, details?: unknown) {
  const requestId = c.get('requestId') ?? '';
  return { error: { code, message, requestId, ...(details !== undefined ? { details } : {}) } };
}

// Framework exceptions carry a status but no code; give them one.
const HTTP_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

export const handleError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof AppError) {
    const status = statusOf(err);
    if (err instanceof TooManyRequestsError) c.header('Retry-After', String(err.retryAfterSeconds));
    if (status === 500) c.get('deps')?.logger.error({ err, requestId: c.get('requestId') }, 'unhandled app error');
    return c.json(errorBody(c, err.code, err.message, err.details), status);
  }
  if (err instanceof HTTPException) {
    // hono's JSON validator reports unparsable bodies as a plain 400 with this message.
    if (err.status === 400 && /malformed json/i.test(err.message)) {
      return c.json(errorBody(c, 'INVALID_JSON', 'request body is not valid JSON'), 400);
    }
    const code = HTTP_CODES[err.status] ?? 'HTTP_ERROR';
    return c.json(errorBody(c, code, err.message || code.toLowerCase()), err.status as ContentfulStatusCode);
  }
  c.get('deps')?.logger.error({ err, requestId: c.get('requestId') }, 'unhandled error');
  return c.json(errorBody(c, 'INTERNAL', 'internal error'), 500);
};

export const handleNotFound: NotFoundHandler<AppEnv> = (c) =>
  c.json(errorBody(c, 'NOT_FOUND', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404);
