/**
 * Reads the stream's client messages (docs/stream.md "Messages"): every error of a message with the
 * field it concerns and the fix, so that one bad message gets one `error` answer naming all of them.
 */
import { SyncflowError, type FieldError } from '../../core/errors.ts';
import { jsonTextDepth } from '../../core/model/depth.ts';
import { LIMITS } from '../../core/model/resources.ts';
import { dnsLabelErrors, isLabelValue, isQualifiedName, objectNameErrors } from '../../core/model/names.ts';
import type { StreamId, StreamRequest } from '../../core/model/stream.ts';
import { BATCH_MS } from './batcher.ts';

/** What a text message turned out to be. */
export type ParsedRequest =
  | { kind: 'request'; request: StreamRequest }
  /** A JSON message the protocol refuses; `id` when it had a usable one (the answer carries it). */
  | { kind: 'invalid'; id: StreamId | null; error: SyncflowError }
  /** Not JSON at all: the connection is closed (1007), as nothing can be answered. */
  | { kind: 'notJson' };

const MAX_ID_LENGTH = 128;

/** The fields of each message type (beyond `type` and `id`), required ones marked. */
const FIELDS: Record<StreamRequest['type'], Record<string, 'required' | 'optional'>> = {
  execute: {
    namespace: 'required',
    workflow: 'required',
    workflowRevision: 'optional',
    input: 'optional',
    labels: 'optional',
    debug: 'optional',
  },
  subscribe: { namespace: 'required', workflow: 'optional', labelSelector: 'optional', batchMs: 'optional' },
  unsubscribe: {},
  continue: {},
  skip: { output: 'required' },
  abort: {},
};

/** Parses one text message. */
export function parseStreamRequest(text: string): ParsedRequest {
  // Bounded like request bodies: deeper values would exhaust the stack of what walks them later.
  const depth = jsonTextDepth(text, LIMITS.maxJsonDepth + 1);
  if (depth > LIMITS.maxJsonDepth)
    return {
      kind: 'invalid',
      id: null,
      error: new SyncflowError(
        'BadRequest',
        `the message nests more than ${LIMITS.maxJsonDepth} levels deep, the limit: send flatter JSON`,
      ),
    };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'notJson' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return {
      kind: 'invalid',
      id: null,
      error: new SyncflowError('BadRequest', 'a stream message must be a JSON object with `type` and `id`'),
    };
  const message = value as Record<string, unknown>;
  const id = isId(message.id) ? message.id : null;
  const errors: FieldError[] = [];
  if (id === null)
    errors.push(
      invalid(
        'id',
        message.id === undefined
          ? 'is required'
          : `must be a string of 1 to ${MAX_ID_LENGTH} characters or an integer`,
        `give each request an id of your choosing (a string of 1 to ${MAX_ID_LENGTH} characters or an integer); answers carry it`,
      ),
    );
  const type = message.type;
  const fields =
    typeof type === 'string' && Object.hasOwn(FIELDS, type)
      ? FIELDS[type as StreamRequest['type']]
      : undefined;
  if (!fields) {
    errors.push(
      invalid(
        'type',
        `\`${String(type)}\` is not a message type`,
        `use one of ${Object.keys(FIELDS).join(', ')}`,
      ),
    );
    return refuse(id, errors);
  }
  for (const [field, presence] of Object.entries(fields))
    if (presence === 'required' && message[field] === undefined)
      errors.push(invalid(field, 'is required', `a ${String(type)} message needs \`${field}\``));
  for (const field of Object.keys(message))
    if (field !== 'type' && field !== 'id' && !Object.hasOwn(fields, field))
      errors.push({
        code: 'UnknownField',
        field,
        message: `unknown field: a ${String(type)} message has ${['type', 'id', ...Object.keys(fields)].join(', ')}`,
      });
  const namespace = message.namespace;
  if (namespace !== undefined)
    errors.push(
      ...(typeof namespace === 'string'
        ? dnsLabelErrors(namespace, 'namespace')
        : [invalid('namespace', 'must be a string (a DNS label)', 'name the namespace')]),
    );
  const workflow = message.workflow;
  if (workflow !== undefined)
    errors.push(
      ...(typeof workflow === 'string'
        ? objectNameErrors(workflow, 'workflow')
        : [invalid('workflow', 'must be a string', 'name the Workflow')]),
    );
  const revision = message.workflowRevision;
  if (
    revision !== undefined &&
    (typeof revision !== 'string' || objectNameErrors(revision, 'workflowRevision').length > 0)
  )
    errors.push(
      invalid(
        'workflowRevision',
        'must be the name of a recorded WorkflowRevision of the workflow',
        'kubectl get workflowrevisions -l syncflow.io/workflow=<workflow> lists them; leave it out to run the current definition',
      ),
    );
  if (message.labelSelector !== undefined && typeof message.labelSelector !== 'string')
    errors.push(
      invalid('labelSelector', 'must be a string', 'write a Kubernetes label selector such as `team=web`'),
    );
  const batchMs = message.batchMs;
  if (
    batchMs !== undefined &&
    !(Number.isInteger(batchMs) && (batchMs as number) >= BATCH_MS.min && (batchMs as number) <= BATCH_MS.max)
  )
    errors.push(
      invalid(
        'batchMs',
        `must be an integer from ${BATCH_MS.min} to ${BATCH_MS.max}`,
        'give the longest delay, in milliseconds, an event may wait to be sent with others (e.g. 100)',
      ),
    );
  if (message.labels !== undefined) errors.push(...labelErrors(message.labels));
  if (message.debug !== undefined) errors.push(...debugErrors(message.debug));
  if (errors.length > 0) return refuse(id, errors);
  return { kind: 'request', request: message as unknown as StreamRequest };
}

function isId(value: unknown): value is StreamId {
  if (typeof value === 'string') return value.length > 0 && value.length <= MAX_ID_LENGTH;
  return Number.isSafeInteger(value);
}

function invalid(field: string, message: string, suggestion: string): FieldError {
  return { code: 'FieldInvalid', field, message: `${field} ${message}`, suggestion };
}

function refuse(id: StreamId | null, errors: FieldError[]): ParsedRequest {
  const text = errors.map((e) => `${e.message}${e.suggestion ? ` (${e.suggestion})` : ''}`).join('; ');
  return {
    kind: 'invalid',
    id,
    error: new SyncflowError('BadRequest', `invalid stream message: ${text}`, { causes: errors }),
  };
}

function labelErrors(labels: unknown): FieldError[] {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels))
    return [
      invalid(
        'labels',
        'must be an object of label keys to string values',
        'write labels as {"team": "web"}',
      ),
    ];
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(labels)) {
    if (!isQualifiedName(key))
      errors.push(
        invalid(
          `labels.${key}`,
          'is not a valid label key',
          'use `[prefix/]name` of letters, digits, `-`, `_`, `.`',
        ),
      );
    if (typeof value !== 'string' || !isLabelValue(value))
      errors.push(
        invalid(`labels.${key}`, 'must be a string label value of at most 63 characters', 'quote the value'),
      );
  }
  return errors;
}

function debugErrors(debug: unknown): FieldError[] {
  const breakpoints = (debug as { breakpoints?: unknown } | null)?.breakpoints;
  if (
    typeof debug !== 'object' ||
    !Array.isArray(breakpoints) ||
    breakpoints.length === 0 ||
    !breakpoints.every((b) => typeof b === 'string')
  )
    return [
      invalid(
        'debug.breakpoints',
        'must be a non-empty list of task ids or ["*"]',
        'write debug as {"breakpoints": ["*"]} to pause before every task',
      ),
    ];
  return [];
}
