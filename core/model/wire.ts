/**
 * Wire vocabulary shared by the server and the client: apimachinery's StatusReason for each HTTP
 * status, and the problem document of the direct run gateway.
 */

/** apimachinery StatusReason for each HTTP status syncflow answers with. */
export const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** An RFC 9457 problem document of the direct run gateway. */
export interface RunProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** syncflow error code or failure reason: `InvalidInput`, `WorkflowNotFound`, `TaskFailed`, `DeadlineExceeded`, ... */
  code: string;
  /** The recorded execution, for failures of a run that happened. */
  instance?: string;
  errors?: Array<{ field: string; message: string }>;
}
