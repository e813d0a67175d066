/** Builders of WorkflowExecution objects for the history tests and benchmarks. */
import { randomUUID } from 'node:crypto';
import { EXECUTION_API_VERSION, WORKFLOW_LABEL } from '../../../core/model/resources.ts';
import type { TaskExecutionStatus } from '../../../core/model/schema.ts';
import type { WorkflowExecution } from '../../../core/model/execution.ts';

/** What a test wants to vary in an execution. */
export interface ExecutionFixture {
  namespace?: string;
  name?: string;
  workflow?: string;
  phase?: 'Succeeded' | 'Failed';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  createdAt?: Date;
  /** Task durations in ms, one task per entry (ids t0, t1, ...); default five tasks. */
  taskDurations?: number[];
}

let counter = 0;

/** A finished execution as the engine would hand it to the history. */
export function execution(fixture: ExecutionFixture = {}): WorkflowExecution {
  counter++;
  const workflow = fixture.workflow ?? 'user-profile';
  const created = fixture.createdAt ?? new Date();
  const tasks: TaskExecutionStatus[] = (fixture.taskDurations ?? [4, 6, 3, 8, 5]).map((durationMs, i) => ({
    id: `t${i}`,
    taskRef: `task-${i}`,
    phase: 'Succeeded',
    startTime: created.toISOString(),
    completionTime: new Date(created.getTime() + durationMs).toISOString(),
    durationMs,
    waitMs: 0,
    attempts: 1,
    httpStatus: 200,
    output: { step: i, value: `v${i}` },
  }));
  return {
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowExecution',
    metadata: {
      name: fixture.name ?? `${workflow}-${counter.toString(36)}-${randomUUID().slice(0, 8)}`,
      namespace: fixture.namespace ?? 'shop',
      uid: randomUUID(),
      labels: { [WORKFLOW_LABEL]: workflow, ...fixture.labels },
      ...(fixture.annotations ? { annotations: fixture.annotations } : {}),
      creationTimestamp: created.toISOString(),
    },
    spec: { workflowRef: { name: workflow }, input: { userId: '42' } },
    status: {
      phase: fixture.phase ?? 'Succeeded',
      output: { email: 'a@b.c' },
      workflowRevision: 'sha256:0123456789abcdef',
      startTime: created.toISOString(),
      completionTime: created.toISOString(),
      durationMs: 12,
      user: 'alice',
      tasks,
    },
  };
}
