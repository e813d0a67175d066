/**
 * AdmissionReview v1 at the boundary: reading a review kube-apiserver sent (never throwing on odd
 * input) and writing the response, with denials as `meta.k8s.io/v1 Status` built from the error
 * catalogue. Nothing else in admission/ knows the wire format.
 */
import { isDeepStrictEqual } from 'node:util';
import { ERROR_CATALOGUE, messageWithSuggestion, type ErrorCode, type FieldError } from '../core/errors.ts';
import { DEFINITIONS_GROUP } from '../core/model/resources.ts';
import { statusCauses, type StatusCause } from '../core/model/status-causes.ts';
import { STATUS_REASONS } from '../core/model/wire.ts';

/** The operations a validating webhook sees. */
export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** A definition object as it arrives in a review (server fields included). */
export interface ReviewedObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    generation?: number;
    resourceVersion?: string;
  };
  spec?: unknown;
  status?: unknown;
}

/** The parts of `AdmissionReview.request` syncflow decides on. */
export interface AdmissionRequest {
  uid: string;
  /** Kind of the object (`Workflow`, `WorkflowTask`). */
  kind: string;
  operation: AdmissionOperation;
  namespace: string;
  name: string;
  object: ReviewedObject | undefined;
  oldObject: ReviewedObject | undefined;
  /** True for `--dry-run=server`: decisions must have no side effects (ours never have any). */
  dryRun: boolean;
}

/** The outcome of an admission check. */
export type AdmissionDecision =
  { allowed: true; warnings: string[] } | { allowed: false; warnings: string[]; denial: Denial };

/** Why a request is refused: a catalogue code, a message for kubectl and the field errors behind it. */
export interface Denial {
  code: ErrorCode;
  message: string;
  causes: FieldError[];
  /** Kind and name of the object refused, for Status.details. */
  kind: string;
  name: string;
  /**
   * HTTP status instead of the catalogue's. A conflict with *other* objects (dependents) is answered
   * 409: kubectl prints an Invalid (422) denial as its causes only and would drop the message.
   */
  httpStatus?: 409;
}

/** A `meta.k8s.io/v1 Status` as an admission response carries it. */
export interface AdmissionStatus {
  status: 'Failure';
  code: number;
  reason: string;
  message: string;
  details: {
    group: string;
    kind: string;
    name: string;
    causes: StatusCause[];
  };
}

/** A complete `admission.k8s.io/v1 AdmissionReview` response. */
export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: AdmissionStatus;
    warnings?: string[];
  };
}

const OPERATIONS: readonly AdmissionOperation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** Kubernetes truncates longer warnings; keep them whole by shortening ourselves. */
const MAX_WARNING_LENGTH = 256;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The object with `metadata` always present, so later code needs no guards. */
function asObject(value: unknown): ReviewedObject | undefined {
  if (!isObject(value)) return undefined;
  return { ...value, metadata: isObject(value.metadata) ? value.metadata : {} } as ReviewedObject;
}

/**
 * Reads an AdmissionReview body. Returns the request, or an error message naming what is wrong
 * (answered with HTTP 400: without a uid there is nothing to answer to).
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest | { error: string } {
  if (!isObject(body))
    return { error: 'the body must be an admission.k8s.io/v1 AdmissionReview JSON object' };
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') {
    return {
      error: `expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got ${String(body.apiVersion)} ${String(body.kind)} (set admissionReviewVersions: [v1] in the webhook configuration)`,
    };
  }
  const request = body.request;
  if (!isObject(request)) return { error: 'request: is required' };
  if (typeof request.uid !== 'string' || request.uid === '') return { error: 'request.uid: is required' };
  const operation = request.operation;
  if (typeof operation !== 'string' || !OPERATIONS.includes(operation as AdmissionOperation)) {
    return { error: `request.operation: must be one of ${OPERATIONS.join(', ')}, got ${String(operation)}` };
  }
  const kind = isObject(request.kind) && typeof request.kind.kind === 'string' ? request.kind.kind : '';
  const object = asObject(request.object);
  const oldObject = asObject(request.oldObject);
  const name =
    typeof request.name === 'string' && request.name
      ? request.name
      : (object?.metadata.name ?? oldObject?.metadata.name ?? '');
  return {
    uid: request.uid,
    kind,
    operation: operation as AdmissionOperation,
    namespace: typeof request.namespace === 'string' && request.namespace ? request.namespace : 'default',
    name: typeof name === 'string' ? name : '',
    object,
    oldObject,
    dryRun: request.dryRun === true,
  };
}

/** One field error as one line: `field: message (suggestion) [Code]` — the CLI's text plus the code. */
export function describeCause(error: FieldError): string {
  return `${error.field}: ${messageWithSuggestion(error)} [${error.code}]`;
}

/** Shortens a warning to what Kubernetes passes on whole. */
export function warningText(text: string): string {
  const single = text.replace(/\s+/g, ' ').trim();
  return single.length <= MAX_WARNING_LENGTH ? single : `${single.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

/** The AdmissionReview response for a decision. */
export function admissionResponse(uid: string, decision: AdmissionDecision): AdmissionReviewResponse {
  const response: AdmissionReviewResponse['response'] = { uid, allowed: decision.allowed };
  if (decision.warnings.length) response.warnings = decision.warnings.map(warningText);
  if (!decision.allowed) {
    const { denial } = decision;
    const code = denial.httpStatus ?? ERROR_CATALOGUE[denial.code].status;
    response.status = {
      status: 'Failure',
      code,
      reason: STATUS_REASONS[code] ?? 'Invalid',
      message: denial.message,
      details: {
        group: DEFINITIONS_GROUP,
        kind: denial.kind,
        name: denial.name,
        // Cause types as the aggregated API gives them; kubectl prints `field: message` per cause,
        // so the syncflow code goes into the message.
        causes: statusCauses(denial.causes, { withCode: true }),
      },
    };
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** Allows, with warnings. */
export function allow(warnings: string[] = []): AdmissionDecision {
  return { allowed: true, warnings };
}

/** Denies with the given code, message and causes. */
export function deny(denial: Denial, warnings: string[] = []): AdmissionDecision {
  return { allowed: false, warnings, denial };
}

/** What a CREATE/UPDATE review checks: the object, its name and how messages name it. */
export interface WriteSubject {
  object: ReviewedObject;
  name: string;
  subject: string;
}

/**
 * The start every CREATE/UPDATE review shares: a review without an object is refused, and an
 * UPDATE that leaves the spec as it was (labels, finalizers, status) is allowed without checks, so a
 * definition that broke underneath can still be relabelled or deleted.
 */
export function writeSubject(
  request: AdmissionRequest,
  kind: 'Workflow' | 'WorkflowTask',
): WriteSubject | AdmissionDecision {
  const object = request.object;
  const name = object?.metadata?.name || request.name;
  const subject = `${kind} ${request.namespace}/${name}`;
  if (!object) {
    const error: FieldError = {
      code: 'FieldRequired',
      field: 'request.object',
      message: 'the review carries no object',
    };
    return deny({
      code: 'BadRequest',
      message: `${subject}: ${describeCause(error)}`,
      causes: [error],
      kind,
      name,
    });
  }
  if (
    request.operation === 'UPDATE' &&
    request.oldObject &&
    isDeepStrictEqual(request.oldObject.spec, object.spec)
  ) {
    return allow();
  }
  return { object, name, subject };
}

/** Denials whose message names other objects of the namespace (dependents). */
const CROSS_OBJECT_DENIALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['DependentBroken', 'TaskInUse']);

/**
 * The decision as a caller not authenticated as the API server may see it: the verdict, the code
 * and the field errors of the object it sent, but no suggestions (they name other objects of the
 * namespace, e.g. "did you mean `get-user`") and, for a conflict with other objects, not which
 * objects. See docs/operations.md, "Admission webhooks".
 */
export function withoutNamespaceDetails(decision: AdmissionDecision): AdmissionDecision {
  if (decision.allowed) return decision;
  const { denial } = decision;
  if (CROSS_OBJECT_DENIALS.has(denial.code)) {
    const message = `${denial.kind} ${denial.name}: this change conflicts with other objects of the namespace [${denial.code}]; the details are given to the authenticated API server only`;
    return deny({ ...denial, message, causes: [] }, decision.warnings);
  }
  if (!denial.causes.some((c) => c.suggestion)) return decision;
  const causes = denial.causes.map(({ suggestion: _suggestion, ...cause }) => cause);
  // Messages list the causes under a headline ending in ':'; rebuilt from the causes without suggestions.
  const headline = denial.message.split('\n')[0] ?? '';
  const list = causes.map((c) => `- ${describeCause(c)}`).join('\n');
  const message = headline.endsWith(':')
    ? `${headline}\n${list}`
    : `${denial.kind} ${denial.name} is invalid (${causes.length}):\n${list}`;
  return deny({ ...denial, message, causes }, decision.warnings);
}
