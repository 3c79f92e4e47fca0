// The catalogue of request errors: one code, one HTTP status, one message
// shape. Handlers refer to codes; nothing matches on message text.

export const ERROR_CODES = {
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BODY_TOO_LARGE: 413,
  INVALID_JSON: 400,
  NOT_AN_ADMISSION_REVIEW: 400,
  MISSING_REQUEST: 400,
  MISSING_UID: 400,
  INVALID_REQUEST: 400,
  REQUEST_ABORTED: 400,
  NOT_READY: 503,
  /** A pod's namespace is not in the informer yet and could not be read in time (failurePolicy applies). */
  NAMESPACE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RequestError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.status = ERROR_CODES[code];
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}
