// Typed errors with stable codes. The domain throws these; the GraphQL layer shows `code` as
// extensions.code and the message as is. Anything else that escapes is masked.
export type ErrorCode =
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "BAD_USER_INPUT"
  | "CONFLICT"
  | "LAST_OWNER"
  | "INVITATION_EXPIRED"
  | "STALE_VERSION"
  | "CURSOR_EXPIRED"
  | "SERVICE_UNAVAILABLE"
  | "RATE_LIMITED"
  | "SLOW_CONSUMER"
  | "NOT_CONFIGURED";

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable facts, e.g. which input field was wrong. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);

/** The value, or NOT_FOUND naming `what` when there is none: the one way to say a row is missing. */
export function found<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw notFound(what);
  return value;
}

export const invalid = (field: string, message: string) => new AppError("BAD_USER_INPUT", message, { field });


export const conflict = (message: string, details: Record<string, unknown> = {}) =>
  new AppError("CONFLICT", message, details);

export const unauthenticated = (message: string) => new AppError("UNAUTHENTICATED", message);

/** The same error, naming the input field it is about (forms show it next to that field). */
export function withField(error: AppError, field: string): AppError {
  return new AppError(error.code, error.message, { ...error.details, field });
}
