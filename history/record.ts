/**
 * An execution as the history writer queues it: the executions row and the task rows, serialised
 * when it is recorded. The queue then holds a few strings per execution instead of its object graph,
 * which the garbage collector would otherwise copy at every scavenge until the batch is written.
 */
import { EXECUTION_API_VERSION, WORKFLOW_LABEL } from '../core/model/resources.ts';
import type { WorkflowExecution } from '../core/model/execution.ts';

/** One task row: id, phase, duration in ms (null when the task did not run). */
export type TaskRow = readonly [id: string, phase: string, durationMs: number | null];

/** A recorded execution, ready for the batch insert. */
export interface ExecutionRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /**
   * The executions row: namespace, name, uid, workflow name, phase, creation time, then labels,
   * annotations, spec and status as JSON text, then the task count.
   */
  readonly row: readonly (string | number)[];
  readonly tasks: readonly TaskRow[];
}

/** Serialises an execution for the history (labels get `syncflow.io/workflow`, as stored). */
export function executionRecord(x: WorkflowExecution): ExecutionRecord {
  const m = x.metadata;
  const tasks = x.status.tasks ?? [];
  return {
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    row: [
      m.namespace,
      m.name,
      m.uid,
      x.spec.workflowRef.name,
      x.status.phase,
      m.creationTimestamp,
      JSON.stringify(storedLabels(m.labels, x.spec.workflowRef.name)),
      JSON.stringify(m.annotations ?? {}),
      JSON.stringify(x.spec),
      JSON.stringify(x.status),
      tasks.length,
    ],
    tasks: tasks.map((t) => [t.id, t.phase, t.durationMs ?? null] as const),
  };
}

/**
 * The labels as stored. Object.assign, then the key: a literal that spreads an object and adds a
 * key takes a slow path in V8 that costs microseconds per execution (bench/engine/cpu.ts).
 */
function storedLabels(labels: Record<string, string> | undefined, workflow: string): Record<string, string> {
  const stored = Object.assign({}, labels);
  stored[WORKFLOW_LABEL] = workflow;
  return stored;
}

/** Annotation of an execution recorded under another name than the one its creator was given. */
export const REQUESTED_NAME_ANNOTATION = 'syncflow.io/requested-name';

/**
 * The record under a name made unique by its uid, annotated with the name it was created with: for
 * an execution whose name another replica's execution took after this one was acknowledged.
 */
export function renamedRecord(record: ExecutionRecord): ExecutionRecord {
  const name = `${record.name.slice(0, 253 - 37)}-${record.uid}`;
  const row = [...record.row];
  const annotations = JSON.parse(row[7] as string) as Record<string, string>;
  row[1] = name;
  row[7] = JSON.stringify({ ...annotations, [REQUESTED_NAME_ANNOTATION]: record.name });
  return { ...record, name, row };
}

/** The execution a record was made from (for reads of executions not written yet). */
export function executionFromRecord(record: ExecutionRecord): WorkflowExecution {
  const [namespace, name, uid, , , creationTimestamp, labels, annotations, spec, status] =
    record.row as string[];
  const parsedAnnotations = JSON.parse(annotations as string) as Record<string, string>;
  return {
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowExecution',
    metadata: {
      name: name as string,
      namespace: namespace as string,
      uid: uid as string,
      labels: JSON.parse(labels as string) as Record<string, string>,
      ...(Object.keys(parsedAnnotations).length ? { annotations: parsedAnnotations } : {}),
      creationTimestamp: creationTimestamp as string,
    },
    spec: JSON.parse(spec as string) as WorkflowExecution['spec'],
    status: JSON.parse(status as string) as WorkflowExecution['status'],
  };
}
