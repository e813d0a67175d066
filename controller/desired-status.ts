/**
 * What the status of a Workflow or WorkflowTask should say, computed from the catalog's view. Pure:
 * the controller compares it with what is stored and writes only differences.
 */
import { isDeepStrictEqual } from 'node:util';
import { DEFINITIONS_API_VERSION } from '../core/model/resources.ts';
import type { WorkflowStatus, WorkflowTaskStatus } from '../core/model/schema.ts';
import { validateTask } from '../core/validation/validate.ts';
import type { DefinitionObject, WorkflowLookup } from '../core/definitions/catalog.ts';

/** A Kubernetes condition as stored in status. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/** Kubernetes caps condition messages at 32 KiB. */
const MAX_MESSAGE = 32_768;

function storedStatus<T>(object: DefinitionObject): Partial<T> {
  const status = (object as { status?: unknown }).status;
  return status !== null && typeof status === 'object' ? (status as Partial<T>) : {};
}

/** The stored Ready condition of an object, if any. */
export function readyCondition(object: DefinitionObject): Condition | undefined {
  const conditions = storedStatus<WorkflowStatus>(object).conditions as Condition[] | undefined;
  return Array.isArray(conditions) ? conditions.find((c) => c?.type === 'Ready') : undefined;
}

function stepCount(object: DefinitionObject): number {
  const tasks = (object.spec as { tasks?: unknown } | undefined)?.tasks;
  return Array.isArray(tasks) ? tasks.length : 0;
}

/**
 * The status a Workflow should have. When it is not Ready, `revision` and `parallelGroups` keep
 * describing the last Ready definition (what ran last); the Ready condition says what is wrong now.
 */
export function desiredWorkflowStatus(
  object: DefinitionObject,
  lookup: WorkflowLookup,
  now: Date,
): WorkflowStatus {
  const stored = storedStatus<WorkflowStatus>(object);
  const generation = object.metadata.generation;
  const previous = readyCondition(object);
  let ready: Condition;
  const status: WorkflowStatus = {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    taskCount: stepCount(object),
  };
  if (lookup.kind === 'ready') {
    ready = {
      type: 'Ready',
      status: 'True',
      reason: 'Valid',
      message: `all ${lookup.workflow.steps.size} steps resolve; revision ${lookup.workflow.revision.slice(0, 19)}`,
    };
    status.revision = lookup.workflow.revision;
    status.parallelGroups = lookup.workflow.graph.parallelGroups.map((group) => [...group]);
  } else {
    const message =
      lookup.kind === 'notFound' ? 'the workflow is not in the server catalog yet' : lookup.message;
    ready = {
      type: 'Ready',
      status: 'False',
      reason: lookup.kind === 'notFound' ? 'Unknown' : lookup.reason,
      message: truncate(message),
    };
    if (stored.revision !== undefined) status.revision = stored.revision;
    if (stored.parallelGroups !== undefined) status.parallelGroups = stored.parallelGroups;
  }
  if (generation !== undefined) ready.observedGeneration = generation;
  ready.lastTransitionTime = transitionTime(previous, ready, now);
  status.conditions = [ready];
  return status;
}

/** Whether a WorkflowTask is valid on its own (one admitted while the webhook was bypassed may not be). */
export type TaskVerdict = { valid: true } | { valid: false; message: string };

/** The verdict of the shared validator on a stored task. */
export function taskVerdict(object: DefinitionObject): TaskVerdict {
  const { errors } = validateTask({
    apiVersion: DEFINITIONS_API_VERSION,
    kind: 'WorkflowTask',
    metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
    spec: object.spec,
  });
  if (errors.length === 0) return { valid: true };
  return { valid: false, message: errors.map((e) => `${e.field}: ${e.message} [${e.code}]`).join('; ') };
}

/** The status a WorkflowTask should have: how many Workflows use it, and whether it is valid. */
export function desiredTaskStatus(
  object: DefinitionObject,
  usedBy: number,
  verdict: TaskVerdict,
  now: Date,
): WorkflowTaskStatus {
  const generation = object.metadata.generation;
  const previous = readyCondition(object);
  const ready: Condition = verdict.valid
    ? { type: 'Ready', status: 'True', reason: 'Valid', message: 'the task is valid' }
    : { type: 'Ready', status: 'False', reason: 'Invalid', message: truncate(verdict.message) };
  if (generation !== undefined) ready.observedGeneration = generation;
  ready.lastTransitionTime = transitionTime(previous, ready, now);
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    usedBy,
    conditions: [ready],
  };
}

function truncate(message: string): string {
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}

/** Kept while the condition's status stays the same; now when it flips. */
function transitionTime(previous: Condition | undefined, next: Condition, now: Date): string {
  return previous?.status === next.status && previous.lastTransitionTime
    ? previous.lastTransitionTime
    : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Whether the stored status already says what `desired` says. */
export function statusUpToDate(object: DefinitionObject, desired: object): boolean {
  return isDeepStrictEqual(storedStatus<object>(object), desired);
}
