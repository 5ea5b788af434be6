/**
 * Errors as the logs may show them: without the values a query was given.
 *
 * drizzle wraps every failed query in a DrizzleQueryError whose message, stack and `params` list
 * the bound values — emails, identifiers, names — and PostgreSQL puts the offending value in its
 * error's `detail` ("Key (email)=(…) already exists") and, for a data exception (class 22), in the
 * message itself. Logged as they are, those would put personal data in every log that records a
 * failed query. Here an error keeps what an operator needs (type, code, constraint, table, the
 * query text with its placeholders, where it was thrown) and loses the values.
 */
export interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  cause?: LoggedError;
}

const PARAMS = /\nparams:[\s\S]*$/;

function firstLineReplaced(stack: string | undefined, message: string): string | undefined {
  if (!stack) return undefined;
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l));
  return [message, ...frames].join('\n');
}

/** A PostgreSQL error (pg's DatabaseError): a five-character SQLSTATE. */
function sqlState(err: object): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function errorForLog(err: unknown, depth = 0): LoggedError {
  if (!(err instanceof Error)) return { type: typeof err, message: 'non-error thrown' };
  const e = err as Error & { code?: unknown; constraint?: unknown; table?: unknown; column?: unknown; cause?: unknown };
  const state = sqlState(e);
  let message = e.message.replace(PARAMS, '');
  // A data exception quotes the value it could not take.
  if (state?.startsWith('22')) message = `data exception ${state}`;
  const out: LoggedError = { type: e.constructor?.name ?? 'Error', message, stack: firstLineReplaced(e.stack, `${e.name}: ${message}`) };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = String(e.code);
  if (typeof e.constraint === 'string') out.constraint = e.constraint;
  if (typeof e.table === 'string') out.table = e.table;
  if (typeof e.column === 'string') out.column = e.column;
  if (e.cause !== undefined && depth < 3) out.cause = errorForLog(e.cause, depth + 1);
  return out;
}

/** pino's serializers: every `err` field goes through errorForLog. */
export const logSerializers = { err: errorForLog, error: errorForLog };
