/**
 * Errors a use case answers with. The HTTP layer maps `status` and `code` to SPEC §4's
 * error body `{ error: { code, message, details? } }`.
 */
export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "unavailable";

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
};

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = STATUS[code];
  }
}

/** 400 naming the bad part: `details.path` is the path, the message starts with it. */
export function invalid(path: string, message: string, extra?: Record<string, unknown>): ApiError {
  return new ApiError("invalid_request", path ? `${path}: ${message}` : message, { path, ...extra });
}

export function notFound(what: string, id: string): ApiError {
  return new ApiError("not_found", `${what} "${id}" not found`);
}
