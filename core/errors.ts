/**
 * The one error catalogue of syncflow. Each entry has a stable code, the HTTP status a boundary
 * should use and a short title. Conversion to Kubernetes Status, problem+json or CLI text happens
 * only at the boundary that speaks that format.
 */
export const ERROR_CATALOGUE = {
  // Definition validation (admission, `syncflow validate`).
  ParseError: { status: 400, title: 'document cannot be parsed' },
  UnknownKind: { status: 422, title: 'unknown kind' },
  FieldRequired: { status: 422, title: 'required field missing' },
  FieldInvalid: { status: 422, title: 'invalid field value' },
  UnknownField: { status: 422, title: 'unknown field' },
  InvalidName: { status: 422, title: 'invalid name' },
  DuplicateName: { status: 422, title: 'duplicate name' },
  InvalidSchema: { status: 422, title: 'invalid JSON Schema' },
  TemplateSyntax: { status: 422, title: 'malformed template' },
  TemplateScope: { status: 422, title: 'template reference not allowed here' },
  UnknownInputField: { status: 422, title: 'unknown input field' },
  UnknownTask: { status: 422, title: 'unknown task' },
  UnknownOutputPath: { status: 422, title: 'output path not in producer outputSchema' },
  UnknownSecret: { status: 422, title: 'unknown secret' },
  TypeMismatch: { status: 422, title: 'type mismatch' },
  MissingRequiredInput: { status: 422, title: 'required input not provided' },
  DependencyCycle: { status: 422, title: 'dependency cycle' },
  InvalidWhen: { status: 422, title: 'invalid when expression' },
  WhenTooCostly: { status: 422, title: 'when expression exceeds the CEL cost limit' },
  UrlTemplatePosition: { status: 422, title: 'template not allowed in that part of the URL' },
  InvalidDuration: { status: 422, title: 'invalid duration' },
  TimeoutTooLarge: { status: 422, title: 'timeout too large' },
  TaskNotFound: { status: 422, title: 'referenced WorkflowTask not found' },
  CrossNamespaceSecret: { status: 422, title: 'secret from another namespace' },
  DependentBroken: { status: 422, title: 'change breaks a dependent workflow' },
  TaskInUse: { status: 422, title: 'task is referenced by workflows' },
  // Execution.
  InvalidInput: { status: 422, title: 'input does not match inputSchema' },
  WorkflowNotFound: { status: 404, title: 'workflow not found' },
  WorkflowNotReady: { status: 409, title: 'workflow not ready' },
  TaskFailed: { status: 502, title: 'task failed' },
  HTTPError: { status: 502, title: 'upstream returned an error status' },
  ConnectError: { status: 502, title: 'upstream connection failed' },
  Timeout: { status: 504, title: 'attempt timed out' },
  DeadlineExceeded: { status: 504, title: 'workflow deadline exceeded' },
  InvalidOutput: { status: 502, title: 'output does not match outputSchema' },
  InvalidResponse: { status: 502, title: 'upstream response is not JSON' },
  ResponseTooLarge: { status: 502, title: 'upstream response too large' },
  EgressDenied: { status: 502, title: 'egress policy denied the destination' },
  RedirectRefused: { status: 502, title: 'redirects are not followed' },
  TemplateResolution: { status: 502, title: 'template could not be resolved' },
  UnsafeRequestValue: { status: 422, title: 'templated value cannot be placed in the request' },
  SecretTooShort: { status: 502, title: 'secret value too short to redact safely' },
  SecretNotFound: { status: 502, title: 'secret value not found' },
  CircuitOpen: { status: 503, title: 'circuit breaker open: the upstream is failing' },
  MapItemsInvalid: { status: 502, title: 'map items are not an array within the limit' },
  Cancelled: { status: 499, title: 'cancelled' },
  DebugAborted: { status: 499, title: 'debug run aborted by the debugger' },
  DebugTimeout: { status: 504, title: 'debug pause got no decision in time' },
  // Serving.
  RequestTooLarge: { status: 413, title: 'request body too large' },
  TooManyRequests: { status: 429, title: 'server is shedding load' },
  ServiceUnavailable: { status: 503, title: 'service unavailable' },
  Forbidden: { status: 403, title: 'forbidden' },
  Unauthorized: { status: 401, title: 'unauthorized' },
  BadRequest: { status: 400, title: 'bad request' },
  NotFound: { status: 404, title: 'not found' },
  MethodNotAllowed: { status: 405, title: 'method not allowed' },
  NotAcceptable: { status: 406, title: 'not acceptable' },
  UnsupportedMediaType: { status: 415, title: 'unsupported media type' },
  Conflict: { status: 409, title: 'conflict' },
  AlreadyExists: { status: 409, title: 'already exists' },
  Gone: { status: 410, title: 'resource version too old' },
  InternalError: { status: 500, title: 'internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** One problem found in a definition or an input, with the field it concerns. */
export interface FieldError {
  code: ErrorCode;
  /** Field path such as `spec.tasks[2].taskRef.name`. */
  field: string;
  message: string;
  /** Suggested fix, e.g. "did you mean `get-user`?". */
  suggestion?: string;
}

/** An error that carries a catalogue code and, for validation, the field errors behind it. */
export class SyncflowError extends Error {
  readonly code: ErrorCode;
  readonly causes: FieldError[];

  constructor(code: ErrorCode, message: string, options: { causes?: FieldError[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncflowError';
    this.code = code;
    this.causes = options.causes ?? [];
  }

  /** HTTP status of this error's code. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}

/** A field error's message with its suggested fix, if any: `message (suggestion)`. Every format uses this. */
export function messageWithSuggestion(error: Pick<FieldError, 'message' | 'suggestion'>): string {
  return error.suggestion ? `${error.message} (${error.suggestion})` : error.message;
}

/** Formats a field error as one human-readable line (`field: message (suggestion)`). */
export function describeFieldError(error: FieldError): string {
  return `${error.field}: ${messageWithSuggestion(error)}`;
}
