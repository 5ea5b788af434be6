/**
 * Domain errors: an UPPER_SNAKE code, a message safe to show, no knowledge of HTTP.
 * src/http/errors.ts maps each class to a status.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
export class ValidationError extends AppError {}
export class NotFoundError extends AppError {}
export class ConflictError extends AppError {}
/** The thing existed and is no more (a callback for a task already answered). */
export class GoneError extends AppError {}
export class UnauthenticatedError extends AppError {}
export class ForbiddenError extends AppError {}
export class PayloadTooLargeError extends AppError {}
export class TooManyRequestsError extends AppError {
  constructor(code: string, message: string, readonly retryAfterSeconds: number) {
    super(code, message);
  }
}
