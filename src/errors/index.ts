/**
 * @module errors
 * The error catalogue: every error switchyard raises on purpose is a {@link SwitchyardError}
 * with a stable `code` (callers switch on the code, never on the message) and the HTTP status
 * the admin API answers with. `docs/errors.md` documents each code; a test pins the two together.
 */

/** Extra fields carried into RFC 9457 problem details. */
export type ProblemExtras = Record<string, unknown>;

/** Base class of all switchyard errors. */
export class SwitchyardError extends Error {
  /** Stable machine-readable code, e.g. `SWY_ENV_NOT_FOUND`. */
  readonly code: string;
  /** HTTP status the admin API and router answer with. */
  readonly statusCode: number;
  /** Extra members for problem details (`env`, `service`, `issues`…). */
  readonly extras: ProblemExtras;

  constructor(code: string, statusCode: number, message: string, extras: ProblemExtras = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwitchyardError';
    this.code = code;
    this.statusCode = statusCode;
    this.extras = extras;
  }
}

/** One spec problem, with its location. `line` is 1-based; 0 when unknown. */
export interface SpecIssue {
  file: string;
  line: number;
  path: string;
  message: string;
}

/**
 * Catalogue: code → [HTTP status, title]. The title is the RFC 9457 `title`; the message of an
 * individual error says what went wrong in that case.
 */
export const ERROR_CODES = {
  SWY_SPEC_INVALID: [400, 'The spec (switchyard.yaml) is invalid'],
  SWY_SPEC_NOT_FOUND: [400, 'The spec file was not found'],
  SWY_BAD_REQUEST: [400, 'The request is invalid'],
  SWY_ENV_NAME_INVALID: [400, 'The environment name is not a valid DNS label'],
  SWY_ENV_NOT_FOUND: [404, 'No such environment'],
  SWY_ENV_EXISTS: [409, 'The environment already exists'],
  SWY_ENV_BASE_PROTECTED: [409, 'The base environment cannot be changed this way'],
  SWY_SERVICE_NOT_FOUND: [404, 'No such service'],
  SWY_ROUTE_NOT_FOUND: [404, 'No route matches the request'],
  SWY_NO_HEALTHY_UPSTREAM: [503, 'No healthy endpoint for the service'],
  SWY_UPSTREAM_CONNECT: [502, 'The upstream could not be reached'],
  SWY_UPSTREAM_TIMEOUT: [504, 'The upstream did not answer in time'],
  SWY_UPSTREAM_ERROR: [502, 'The upstream failed while answering'],
  SWY_CLIENT_ABORTED: [499, 'The client closed the request'],
  SWY_BODY_TOO_LARGE: [413, 'The request body is larger than the router accepts'],
  SWY_HEADERS_TOO_LARGE: [431, 'The request header fields are larger than the router accepts'],
  SWY_INSTANCE_UNHEALTHY: [503, 'An instance did not become healthy'],
  SWY_STORE_LOCKED: [409, 'Another process owns the store'],
  SWY_STORE_UNAVAILABLE: [503, 'The store is unavailable'],
  SWY_ADMIN_UNREACHABLE: [503, 'The admin API could not be reached'],
  SWY_DATA_DIR_UNUSABLE: [400, 'The state folder (--data-dir) cannot be created or written'],
  SWY_ACCESS_LOG_UNUSABLE: [400, 'The access log (--access-log) cannot be created or appended to'],
  SWY_NOT_FOUND: [404, 'Not found'],
  SWY_BLOB_NOT_FOUND: [404, 'No such blob in the blob store'],
  SWY_BLOB_INTEGRITY: [422, 'Blob content does not match its hash or size'],
  SWY_BLOB_STORE_UNAVAILABLE: [503, 'The blob store failed or could not be reached'],
  SWY_RANGE_NOT_SATISFIABLE: [416, 'The requested byte range is not satisfiable'],
  SWY_MANIFEST_INVALID: [400, 'The deploy manifest is invalid'],
  SWY_PATH_INVALID: [400, 'The request path is malformed'],
  SWY_METHOD_NOT_ALLOWED: [405, 'The method is not allowed for this resource'],
  SWY_FILE_NOT_FOUND: [404, 'No such file in the site deploy'],
  SWY_TLS_HOST_REFUSED: [421, 'No certificate is served for this host name'],
  SWY_CERT_INVALID: [400, 'A certificate, key or host name for a certificate is invalid'],
  SWY_SECRET_DECRYPT: [500, 'An encrypted secret could not be decrypted'],
  SWY_ACME_FAILED: [502, 'The ACME certificate order failed'],
  SWY_CIDR_INVALID: [400, 'An IP address or CIDR range is invalid'],
  SWY_ACCESS_DENIED: [403, 'The client address is not allowed for this environment'],
  SWY_RATE_LIMITED: [429, 'Too many requests from this client'],
  SWY_AUTH_REQUIRED: [401, 'This environment needs a password'],
  SWY_TOKEN_INVALID: [401, 'The admin API token is missing or invalid'],
  SWY_INTERNAL: [500, 'Internal error'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Creates a catalogued error; the status comes from the catalogue. */
export function swyError(code: ErrorCode, message: string, extras: ProblemExtras = {}, cause?: unknown): SwitchyardError {
  return new SwitchyardError(code, ERROR_CODES[code][0], message, extras, cause === undefined ? undefined : { cause });
}

/** The aggregate spec error: all issues at once (never the first only). */
export class SpecError extends SwitchyardError {
  readonly issues: SpecIssue[];
  constructor(issues: SpecIssue[]) {
    super('SWY_SPEC_INVALID', 400, `${issues.length} problem${issues.length === 1 ? '' : 's'} in the spec:\n` + issues.map(formatSpecIssue).join('\n'), { issues });
    this.name = 'SpecError';
    this.issues = issues;
  }
}

/** `file:line: path: message`, the form editors and CI annotate. */
export function formatSpecIssue(i: SpecIssue): string {
  return `${i.file}:${i.line}: ${i.path || '(root)'}: ${i.message}`;
}

/**
 * RFC 9457 problem details for an error. `type` is a stable URI naming the code.
 * @see https://www.rfc-editor.org/rfc/rfc9457#section-3
 */
export function toProblem(err: SwitchyardError, instance?: string): Record<string, unknown> {
  const title = (ERROR_CODES as Record<string, readonly [number, string]>)[err.code]?.[1] ?? 'Error';
  return {
    type: `https://switchyard.dev/errors/${err.code}`,
    title,
    status: err.statusCode,
    detail: err.message,
    code: err.code,
    ...(instance ? { instance } : {}),
    ...err.extras,
  };
}
