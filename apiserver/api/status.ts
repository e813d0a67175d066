/**
 * Kubernetes `meta.k8s.io/v1 Status` objects for errors, converted from the one error catalogue at
 * this boundary only. Reasons follow apimachinery's StatusReason values so kubectl and client-go
 * print and classify them correctly.
 */
import { ERROR_CATALOGUE, SyncflowError, type FieldError } from '../../core/errors.ts';
import { EXECUTION_GROUP } from '../../core/model/resources.ts';
import { statusCauses, type StatusCause } from '../../core/model/status-causes.ts';
import { STATUS_REASONS } from '../../core/model/wire.ts';

/** A Kubernetes Status object. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
}

/** What a Status is about (for details.kind/name). */
export interface StatusSubject {
  kind?: string;
  name?: string;
  retryAfterSeconds?: number;
}

/** Builds a failure Status with an explicit code. */
export function failureStatus(
  code: number,
  message: string,
  subject: StatusSubject = {},
  causes: FieldError[] = [],
): KubeStatus {
  const status: KubeStatus = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: STATUS_REASONS[code] ?? 'Unknown',
    code,
  };
  if (subject.kind || subject.name || causes.length || subject.retryAfterSeconds !== undefined) {
    status.details = {
      ...(subject.name ? { name: subject.name } : {}),
      group: EXECUTION_GROUP,
      ...(subject.kind ? { kind: subject.kind } : {}),
      ...(causes.length ? { causes: statusCauses(causes) } : {}),
      ...(subject.retryAfterSeconds !== undefined ? { retryAfterSeconds: subject.retryAfterSeconds } : {}),
    };
  }
  return status;
}

/** Converts any error into a Status; unknown errors become a 500 without internal details. */
export function statusFromError(error: unknown, subject: StatusSubject = {}): KubeStatus {
  if (error instanceof SyncflowError) {
    const code = ERROR_CATALOGUE[error.code].status;
    // Kubernetes phrases validation failures as `Kind "name" is invalid: field: message, ...`.
    let message = error.message;
    if (code === 422 && error.causes.length && subject.kind) {
      const fields = error.causes.map((c) => `${c.field}: ${c.message}`).join(', ');
      message = `${subject.kind}.${EXECUTION_GROUP} "${subject.name ?? ''}" is invalid: ${fields}`;
    }
    const status = failureStatus(code, message, subject, error.causes);
    // A taken name is `AlreadyExists` in Kubernetes (kubectl prints it so), other 409s `Conflict`.
    if (error.code === 'AlreadyExists') status.reason = 'AlreadyExists';
    return status;
  }
  return failureStatus(500, 'internal error: the server could not complete the request', subject);
}
