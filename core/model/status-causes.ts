/**
 * Field errors as the `details.causes` of a Kubernetes `meta.k8s.io/v1 Status`. The aggregated API
 * and the admission webhook both answer with Status objects, so both build their causes here: the
 * `reason` is apimachinery's CauseType (what kubectl and client-go classify by), never a syncflow code.
 */
import { messageWithSuggestion, type ErrorCode, type FieldError } from '../errors.ts';

/** apimachinery's `metav1.CauseType` values for field causes. */
export type CauseType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTypeInvalid'
  | 'InternalError';

/** One entry of `Status.details.causes`. */
export interface StatusCause {
  reason: CauseType;
  message: string;
  field: string;
}

/** The CauseTypes that are not `FieldValueInvalid`, by syncflow code. */
const CAUSE_TYPES: Partial<Record<ErrorCode, CauseType>> = {
  FieldRequired: 'FieldValueRequired',
  MissingRequiredInput: 'FieldValueRequired',
  UnknownField: 'FieldValueNotSupported',
  UnknownInputField: 'FieldValueNotSupported',
  UnknownKind: 'FieldValueNotSupported',
  DuplicateName: 'FieldValueDuplicate',
  AlreadyExists: 'FieldValueDuplicate',
  TaskNotFound: 'FieldValueNotFound',
  UnknownTask: 'FieldValueNotFound',
  UnknownSecret: 'FieldValueNotFound',
  UnknownOutputPath: 'FieldValueNotFound',
  SecretNotFound: 'FieldValueNotFound',
  TypeMismatch: 'FieldValueTypeInvalid',
  CrossNamespaceSecret: 'FieldValueForbidden',
  TemplateScope: 'FieldValueForbidden',
  UrlTemplatePosition: 'FieldValueForbidden',
  Forbidden: 'FieldValueForbidden',
  InternalError: 'InternalError',
};

/** The Kubernetes CauseType for a syncflow error code (`FieldValueInvalid` unless a closer one exists). */
export function causeType(code: ErrorCode): CauseType {
  return CAUSE_TYPES[code] ?? 'FieldValueInvalid';
}

/**
 * Field errors as Status causes. `withCode` appends the syncflow code (`message [TaskNotFound]`)
 * where the message is the only place a caller sees it (admission denials, printed by kubectl).
 */
export function statusCauses(
  causes: readonly FieldError[],
  options: { withCode?: boolean } = {},
): StatusCause[] {
  return causes.map((c) => ({
    reason: causeType(c.code),
    message: options.withCode ? `${messageWithSuggestion(c)} [${c.code}]` : messageWithSuggestion(c),
    field: c.field,
  }));
}
