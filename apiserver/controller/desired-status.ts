/**
 * What the status of a Workflow or WorkflowTask should say, computed from the catalog's view. Pure:
 * the controller compares it with what is stored and writes only differences.
 */
import { isDeepStrictEqual } from 'node:util';
import type { WorkflowStatus, WorkflowTaskStatus } from '../../core/model/schema.ts';
import type { DefinitionObject, WorkflowLookup } from '../definitions/catalog.ts';

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
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
    };
    if (stored.revision !== undefined) status.revision = stored.revision;
    if (stored.parallelGroups !== undefined) status.parallelGroups = stored.parallelGroups;
  }
  if (generation !== undefined) ready.observedGeneration = generation;
  ready.lastTransitionTime =
    previous?.status === ready.status && previous.lastTransitionTime
      ? previous.lastTransitionTime
      : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  status.conditions = [ready];
  return status;
}

/** The status a WorkflowTask should have: how many Workflows use it. */
export function desiredTaskStatus(object: DefinitionObject, usedBy: number): WorkflowTaskStatus {
  const generation = object.metadata.generation;
  const stored = storedStatus<WorkflowTaskStatus>(object);
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    usedBy,
    ...(stored.conditions !== undefined ? { conditions: stored.conditions } : {}),
  };
}

/** Whether the stored status already says what `desired` says. */
export function statusUpToDate(object: DefinitionObject, desired: object): boolean {
  return isDeepStrictEqual(storedStatus<object>(object), desired);
}
