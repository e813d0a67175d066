/**
 * The errors the client raises: the Kubernetes `Status` of a failed API call, and the problem
 * document of a failed direct run. Both keep what the server said (code, reason, field causes) so
 * that callers branch on data, not on message text.
 */
import { STATUS_CODES } from 'node:http';
import { STATUS_REASONS, type RunProblem } from '../core/model/wire.ts';

/** One field-level cause of a Kubernetes `Status` (`details.causes[]`). */
export interface StatusCause {
  /** apimachinery CauseType, e.g. `FieldValueRequired`, `FieldValueInvalid`. */
  reason?: string;
  message?: string;
  /** Field path, e.g. `spec.input.userId`. */
  field?: string;
}

/** A `meta.k8s.io/v1 Status`, as kube-apiserver and the syncflow server return it for errors. */
export interface KubernetesStatus {
  kind: 'Status';
  apiVersion: string;
  status?: 'Failure' | 'Success';
  message?: string;
  /** apimachinery StatusReason: `Invalid`, `NotFound`, `Forbidden`, `Conflict`, `TooManyRequests`, ... */
  reason?: string;
  code: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
}

/** A failed Kubernetes API call: the `Status` the server returned (or one built from the HTTP status). */
export class SyncflowApiError extends Error {
  override readonly name = 'SyncflowApiError';
  /** HTTP status code (`Status.code`). */
  readonly code: number;
  /** apimachinery StatusReason, e.g. `Invalid`, `NotFound`, `Forbidden`; `Unknown` when absent. */
  readonly reason: string;
  /** Field causes (`details.causes`); empty when the server gave none. */
  readonly causes: StatusCause[];
  /** Seconds to wait before retrying (429/503), from `details.retryAfterSeconds` or `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;
  /** The Status object itself. */
  readonly status: KubernetesStatus;

  constructor(status: KubernetesStatus, options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(
      status.message || `${status.code} ${status.reason ?? STATUS_CODES[status.code] ?? 'error'}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.status = status;
    this.code = status.code;
    this.reason = status.reason || STATUS_REASONS[status.code] || 'Unknown';
    this.causes = status.details?.causes ?? [];
    this.retryAfterSeconds = status.details?.retryAfterSeconds ?? options.retryAfterSeconds;
  }

  /** The field paths named by the causes, e.g. `['spec.input.userId']`. */
  get fields(): string[] {
    return this.causes.map((c) => c.field).filter((f): f is string => typeof f === 'string' && f !== '');
  }
}

/** An RFC 9457 problem document of the direct run gateway. */
export type { RunProblem };

/** A failed direct run (`POST /run/v1/...`): the problem document and, when it ran, the execution. */
export class SyncflowRunError extends Error {
  override readonly name = 'SyncflowRunError';
  /** HTTP status: 400/422 bad input, 403, 404, 409, 429, 502 task failure, 504 deadline. */
  readonly httpStatus: number;
  readonly code: string;
  readonly problem: RunProblem;
  /** `namespace/name` of the recorded execution (header `Syncflow-Execution`), when the workflow ran. */
  readonly execution: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(problem: RunProblem, options: { execution?: string; retryAfterSeconds?: number } = {}) {
    super(problem.detail || problem.title || `${problem.status} ${STATUS_CODES[problem.status] ?? 'error'}`);
    this.problem = problem;
    this.httpStatus = problem.status;
    this.code = problem.code;
    this.execution = options.execution;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The `Status` of an error response: the body when it is one, else built from the HTTP status. */
export function statusOfResponse(httpStatus: number, body: string): KubernetesStatus {
  try {
    const parsed = JSON.parse(body) as Partial<KubernetesStatus>;
    if (parsed && parsed.kind === 'Status')
      return {
        ...parsed,
        kind: 'Status',
        apiVersion: parsed.apiVersion ?? 'v1',
        code: parsed.code ?? httpStatus,
      };
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): fall through.
  }
  return statusForCode(httpStatus, body.trim().slice(0, 500));
}

/** A Status for an HTTP status with no body to read it from. */
export function statusForCode(httpStatus: number, message?: string): KubernetesStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code: httpStatus,
    reason: STATUS_REASONS[httpStatus] ?? 'Unknown',
    message: message || `the server responded ${httpStatus} ${STATUS_CODES[httpStatus] ?? ''}`.trim(),
  };
}

/** The problem document of a gateway error response (one is built when the body is not one). */
export function problemOfResponse(httpStatus: number, body: string): RunProblem {
  try {
    const parsed = JSON.parse(body) as Partial<RunProblem>;
    if (parsed && typeof parsed.code === 'string') {
      return {
        type: parsed.type ?? 'about:blank',
        title: parsed.title ?? '',
        detail: parsed.detail ?? '',
        ...parsed,
        status: parsed.status ?? httpStatus,
        code: parsed.code,
      };
    }
  } catch {
    // Not a problem document.
  }
  const title = STATUS_CODES[httpStatus] ?? 'error';
  return {
    type: 'about:blank',
    title,
    status: httpStatus,
    detail: body.trim().slice(0, 500) || title,
    code: STATUS_REASONS[httpStatus] ?? 'Unknown',
  };
}

/** Seconds of a `Retry-After` header given in seconds (HTTP dates are not used by these servers). */
export function retryAfterSeconds(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}
