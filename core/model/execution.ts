/**
 * The WorkflowExecution API object in one place: its type, the rules of a create body and of a
 * patch, name generation and the object a run produces. The aggregated API server (registry),
 * the execution service and `syncflow validate` / `syncflow run` all use these, so the CLI checks
 * an execution document with exactly the server's rules.
 */
import { SyncflowError, type FieldError } from '../errors.ts';
import { generateNameErrors, metadataMapErrors, objectNameErrors } from './names.ts';
import { EXECUTION_API_VERSION, WORKFLOW_LABEL } from './resources.ts';
import type { WorkflowExecutionSpec, WorkflowExecutionStatus } from './schema.ts';

/** Metadata of a stored execution; `resourceVersion` is set by the store. */
export interface ExecutionMetadata {
  name: string;
  namespace: string;
  uid: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** RFC 3339 time the execution was created (started). */
  creationTimestamp: string;
  resourceVersion?: string;
}

/** A WorkflowExecution as the aggregated API serves it. */
export interface WorkflowExecution {
  apiVersion: typeof EXECUTION_API_VERSION;
  kind: 'WorkflowExecution';
  metadata: ExecutionMetadata;
  spec: WorkflowExecutionSpec;
  status: WorkflowExecutionStatus;
}

/** A validated create request. */
export interface ExecutionCreateRequest {
  namespace: string;
  name: string | undefined;
  generateName: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  workflowName: string;
  input: unknown;
  /** A recorded WorkflowRevision of the workflow to run instead of its current definition. */
  workflowRevision?: string;
}

// Kubernetes' generateName alphabet: no vowels (no accidental words), no confusable characters.
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Appends five random characters, as the API server does for generateName. */
export function generateName(prefix: string, random: () => number = Math.random): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)];
  return `${prefix.slice(0, 58)}${suffix}`;
}

/**
 * Every error of a WorkflowExecution document as a create body in `namespace` (the server's rules,
 * also applied by `syncflow validate`).
 */
export function executionErrors(body: unknown, namespace: string): FieldError[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return [{ code: 'BadRequest', field: '(body)', message: 'must be a WorkflowExecution object' }];
  }
  const errors: FieldError[] = [];
  const object = body as Record<string, unknown>;
  if (object.apiVersion !== undefined && object.apiVersion !== EXECUTION_API_VERSION) {
    errors.push({ code: 'FieldInvalid', field: 'apiVersion', message: `must be ${EXECUTION_API_VERSION}` });
  }
  if (object.kind !== undefined && object.kind !== 'WorkflowExecution') {
    errors.push({ code: 'FieldInvalid', field: 'kind', message: 'must be WorkflowExecution' });
  }
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const { name, prefix } = namesOf(metadata);
  if (!name && !prefix) {
    errors.push({
      code: 'FieldRequired',
      field: 'metadata.name',
      message: 'name or generateName is required',
    });
  }
  if (name) errors.push(...objectNameErrors(name, 'metadata.name'));
  if (prefix) errors.push(...generateNameErrors(prefix, 'metadata.generateName'));
  if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
    errors.push({
      code: 'FieldInvalid',
      field: 'metadata.namespace',
      message: `the namespace of the provided object (${String(metadata.namespace)}) does not match the namespace sent on the request (${namespace})`,
    });
  }
  errors.push(...metadataMapErrors(metadata.labels, 'metadata.labels', 'label'));
  errors.push(...metadataMapErrors(metadata.annotations, 'metadata.annotations', 'annotation'));
  const spec = object.spec as Record<string, unknown> | undefined;
  const workflowName = (spec?.workflowRef as { name?: unknown } | undefined)?.name;
  if (!spec || typeof spec !== 'object') {
    errors.push({
      code: 'FieldRequired',
      field: 'spec',
      message: 'is required',
      suggestion: 'add spec.workflowRef.name and spec.input',
    });
  } else if (typeof workflowName !== 'string' || !workflowName) {
    errors.push({
      code: 'FieldRequired',
      field: 'spec.workflowRef.name',
      message: 'is required',
      suggestion: 'name the Workflow to run',
    });
  }
  const revision = spec && typeof spec === 'object' ? spec.workflowRevision : undefined;
  if (revision !== undefined && (typeof revision !== 'string' || !revision || revision.length > 253)) {
    errors.push({
      code: 'FieldInvalid',
      field: 'spec.workflowRevision',
      message: 'must be the name of a WorkflowRevision of the workflow (a non-empty string)',
      suggestion: 'kubectl get workflowrevisions -l syncflow.io/workflow=<workflow> lists them',
    });
  }
  return errors;
}

function namesOf(metadata: Record<string, unknown>): {
  name: string | undefined;
  prefix: string | undefined;
} {
  return {
    name: typeof metadata.name === 'string' && metadata.name ? metadata.name : undefined,
    prefix:
      typeof metadata.generateName === 'string' && metadata.generateName ? metadata.generateName : undefined,
  };
}

/** Checks a create body and returns the request it describes; every error at once. */
export function validateCreate(body: unknown, namespace: string): ExecutionCreateRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new SyncflowError('BadRequest', 'the request body must be a WorkflowExecution object');
  }
  const errors = executionErrors(body, namespace);
  if (errors.length) throw new SyncflowError('InvalidInput', 'invalid WorkflowExecution', { causes: errors });
  const object = body as Record<string, unknown>;
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const spec = object.spec as { workflowRef: { name: string }; input?: unknown; workflowRevision?: string };
  const { name, prefix } = namesOf(metadata);
  // Assigned, not spread: a literal that spreads and adds keys takes V8's slow path (per request).
  const request: ExecutionCreateRequest = {
    namespace,
    name,
    generateName: prefix,
    labels: Object.assign({}, metadata.labels as Record<string, string> | undefined),
    annotations: Object.assign({}, metadata.annotations as Record<string, string> | undefined),
    workflowName: spec.workflowRef.name,
    input: spec.input ?? {},
  };
  if (spec.workflowRevision) request.workflowRevision = spec.workflowRevision;
  return request;
}

/** The stored object for a finished (or planned) execution. */
export function executionObject(
  request: ExecutionCreateRequest,
  name: string,
  status: WorkflowExecution['status'],
  creationTimestamp: string,
): WorkflowExecution {
  // Built by assignment, in the same key order: a literal that spreads and adds keys takes V8's
  // slow path, microseconds per execution.
  const labels: Record<string, string> = Object.assign({}, request.labels);
  labels[WORKFLOW_LABEL] = request.workflowName;
  const metadata: WorkflowExecution['metadata'] = {
    name,
    namespace: request.namespace,
    uid: crypto.randomUUID(),
    labels,
  } as WorkflowExecution['metadata'];
  if (Object.keys(request.annotations).length) metadata.annotations = request.annotations;
  metadata.creationTimestamp = wholeSeconds(creationTimestamp);
  const spec: WorkflowExecution['spec'] = {
    workflowRef: { name: request.workflowName },
  } as WorkflowExecution['spec'];
  if (request.workflowRevision) spec.workflowRevision = request.workflowRevision;
  spec.input = request.input;
  return { apiVersion: EXECUTION_API_VERSION, kind: 'WorkflowExecution', metadata, spec, status };
}

/** metav1.Time: RFC 3339 with whole seconds (`toISOString()` output is cut without a Date). */
export function wholeSeconds(timestamp: string): string {
  if (timestamp.length === 24 && timestamp[19] === '.' && timestamp[23] === 'Z')
    return `${timestamp.slice(0, 19)}Z`;
  return new Date(timestamp).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Applies a patched object's metadata to the stored one: only labels and annotations may change;
 * any other difference is refused naming the field.
 */
export function checkPatchedObject(
  stored: WorkflowExecution,
  patched: unknown,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  const next = patched as WorkflowExecution;
  const errors: FieldError[] = [];
  if (next === null || typeof next !== 'object')
    throw new SyncflowError('BadRequest', 'the patch must produce an object');
  if (JSON.stringify(next.spec) !== JSON.stringify(stored.spec)) {
    errors.push({
      code: 'FieldInvalid',
      field: 'spec',
      message: 'is immutable: executions cannot be changed after they ran',
    });
  }
  if (JSON.stringify(next.status) !== JSON.stringify(stored.status)) {
    errors.push({
      code: 'FieldInvalid',
      field: 'status',
      message: 'is immutable: executions cannot be changed after they ran',
    });
  }
  const m = (next.metadata ?? {}) as unknown as Record<string, unknown>;
  for (const field of ['name', 'namespace', 'uid', 'creationTimestamp'] as const) {
    if (m[field] !== undefined && m[field] !== stored.metadata[field]) {
      errors.push({ code: 'FieldInvalid', field: `metadata.${field}`, message: 'is immutable' });
    }
  }
  const labels = (m.labels ?? {}) as Record<string, string>;
  errors.push(...metadataMapErrors(labels, 'metadata.labels', 'label'));
  errors.push(...metadataMapErrors(m.annotations, 'metadata.annotations', 'annotation'));
  const workflow = stored.metadata.labels?.[WORKFLOW_LABEL];
  if (workflow !== undefined && labels[WORKFLOW_LABEL] !== workflow) {
    errors.push({
      code: 'FieldInvalid',
      field: `metadata.labels[${JSON.stringify(WORKFLOW_LABEL)}]`,
      message: 'is set by syncflow and cannot be changed or removed',
    });
  }
  if (errors.length) {
    throw new SyncflowError(
      'InvalidInput',
      'only metadata.labels and metadata.annotations of an execution can be changed',
      { causes: errors },
    );
  }
  return { labels, annotations: (m.annotations ?? {}) as Record<string, string> };
}
