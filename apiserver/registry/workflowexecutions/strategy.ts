/**
 * The rules of the workflowexecutions resource, apart from its storage: what a create body may
 * contain, how names are generated, which labels are set, what a patch may change.
 */
import { randomUUID } from 'node:crypto';
import { SyncflowError, type FieldError } from '../../../core/errors.ts';
import { EXECUTION_API_VERSION, WORKFLOW_LABEL } from '../../../core/model/resources.ts';
import type { WorkflowExecution } from '../../history/store.ts';

/** A validated create request. */
export interface ExecutionCreateRequest {
  namespace: string;
  name: string | undefined;
  generateName: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  workflowName: string;
  input: unknown;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
// Kubernetes' generateName alphabet: no vowels (no accidental words), no confusable characters.
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Appends five random characters, as the API server does for generateName. */
export function generateName(prefix: string, random: () => number = Math.random): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)];
  return `${prefix.slice(0, 58)}${suffix}`;
}

/** Validation errors of a label or annotation map (`field` like `metadata.labels`). */
export function metadataMapErrors(map: unknown, field: string, kind: 'label' | 'annotation'): FieldError[] {
  if (map === undefined) return [];
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    return [{ code: 'FieldInvalid', field, message: 'must be a map of string keys to string values' }];
  }
  const errors: FieldError[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(map)) {
    const at = `${field}[${JSON.stringify(key)}]`;
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : '';
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if ((prefix && (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253)) || !LABEL_KEY_NAME.test(name) || name.length > 63) {
      errors.push({ code: 'FieldInvalid', field: at, message: `\`${key}\` is not a valid ${kind} key`, suggestion: 'use an optional DNS prefix and a name of up to 63 alphanumerics, `-`, `_` or `.`' });
    }
    if (typeof value !== 'string') {
      errors.push({ code: 'FieldInvalid', field: at, message: 'must be a string' });
    } else if (kind === 'label' && (!LABEL_VALUE.test(value) || value.length > 63)) {
      errors.push({ code: 'FieldInvalid', field: at, message: `\`${value}\` is not a valid label value`, suggestion: 'use up to 63 alphanumerics, `-`, `_` or `.`' });
    } else {
      size += key.length + value.length;
    }
  }
  if (kind === 'annotation' && size > 256 * 1024) {
    errors.push({ code: 'FieldInvalid', field, message: 'annotations may hold at most 256 KiB' });
  }
  return errors;
}

/** Checks a create body and returns the request it describes; every error at once. */
export function validateCreate(body: unknown, namespace: string): ExecutionCreateRequest {
  const errors: FieldError[] = [];
  const object = (body ?? {}) as Record<string, unknown>;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new SyncflowError('BadRequest', 'the request body must be a WorkflowExecution object');
  }
  if (object.apiVersion !== undefined && object.apiVersion !== EXECUTION_API_VERSION) {
    errors.push({ code: 'FieldInvalid', field: 'apiVersion', message: `must be ${EXECUTION_API_VERSION}` });
  }
  if (object.kind !== undefined && object.kind !== 'WorkflowExecution') {
    errors.push({ code: 'FieldInvalid', field: 'kind', message: 'must be WorkflowExecution' });
  }
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const name = typeof metadata.name === 'string' && metadata.name ? metadata.name : undefined;
  const prefix = typeof metadata.generateName === 'string' && metadata.generateName ? metadata.generateName : undefined;
  if (!name && !prefix) {
    errors.push({ code: 'FieldRequired', field: 'metadata.name', message: 'name or generateName is required' });
  }
  for (const [field, value] of [['metadata.name', name], ['metadata.generateName', prefix]] as const) {
    const checked = field === 'metadata.generateName' && value ? `${value}x` : value;
    if (checked && (!DNS_SUBDOMAIN.test(checked) || checked.length > 253)) {
      errors.push({ code: 'InvalidName', field, message: `\`${value}\` must be a lower-case DNS subdomain`, suggestion: 'use lower-case letters, digits, `-` and `.`' });
    }
  }
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
    errors.push({ code: 'FieldRequired', field: 'spec', message: 'is required', suggestion: 'add spec.workflowRef.name and spec.input' });
  } else if (typeof workflowName !== 'string' || !workflowName) {
    errors.push({ code: 'FieldRequired', field: 'spec.workflowRef.name', message: 'is required', suggestion: 'name the Workflow to run' });
  }
  if (errors.length) throw new SyncflowError('InvalidInput', 'invalid WorkflowExecution', { causes: errors });
  return {
    namespace,
    name,
    generateName: prefix,
    labels: { ...((metadata.labels as Record<string, string>) ?? {}) },
    annotations: { ...((metadata.annotations as Record<string, string>) ?? {}) },
    workflowName: workflowName as string,
    input: spec?.input ?? {},
  };
}

/** The stored object for a finished (or planned) execution. */
export function executionObject(
  request: ExecutionCreateRequest,
  name: string,
  status: WorkflowExecution['status'],
  creationTimestamp: string,
): WorkflowExecution {
  return {
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowExecution',
    metadata: {
      name,
      namespace: request.namespace,
      uid: randomUUID(),
      labels: { ...request.labels, [WORKFLOW_LABEL]: request.workflowName },
      ...(Object.keys(request.annotations).length ? { annotations: request.annotations } : {}),
      creationTimestamp: wholeSeconds(creationTimestamp),
    },
    spec: { workflowRef: { name: request.workflowName }, input: request.input },
    status,
  };
}

/** metav1.Time: RFC 3339 with whole seconds (`toISOString()` output is cut without a Date). */
export function wholeSeconds(timestamp: string): string {
  if (timestamp.length === 24 && timestamp[19] === '.' && timestamp[23] === 'Z') return `${timestamp.slice(0, 19)}Z`;
  return new Date(timestamp).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Applies a patched object's metadata to the stored one: only labels and annotations may change;
 * any other difference is refused naming the field.
 */
export function checkPatchedObject(stored: WorkflowExecution, patched: unknown): { labels: Record<string, string>; annotations: Record<string, string> } {
  const next = patched as WorkflowExecution;
  const errors: FieldError[] = [];
  if (next === null || typeof next !== 'object') throw new SyncflowError('BadRequest', 'the patch must produce an object');
  if (JSON.stringify(next.spec) !== JSON.stringify(stored.spec)) {
    errors.push({ code: 'FieldInvalid', field: 'spec', message: 'is immutable: executions cannot be changed after they ran' });
  }
  if (JSON.stringify(next.status) !== JSON.stringify(stored.status)) {
    errors.push({ code: 'FieldInvalid', field: 'status', message: 'is immutable: executions cannot be changed after they ran' });
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
    errors.push({ code: 'FieldInvalid', field: `metadata.labels[${JSON.stringify(WORKFLOW_LABEL)}]`, message: 'is set by syncflow and cannot be changed or removed' });
  }
  if (errors.length) {
    throw new SyncflowError('InvalidInput', 'only metadata.labels and metadata.annotations of an execution can be changed', { causes: errors });
  }
  return { labels, annotations: (m.annotations ?? {}) as Record<string, string> };
}
