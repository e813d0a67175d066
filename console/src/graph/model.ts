/**
 * A workflow as a graph to draw: one node per task (its id, WorkflowTask, method and host) and one
 * edge per dependency, with the `when` condition of the task it leads to. Dependencies come from the
 * same compiler the engine and the admission webhook use (explicit `dependsOn`, template references,
 * `when` references); a workflow that does not compile falls back to what its YAML states.
 */
import { TaskSet, validateTask, validateWorkflow } from '../../../core/validation/validate.ts';
import type { FieldError } from '../../../core/errors.ts';
import type { CompiledWorkflow } from '../../../core/definitions/compile.ts';
import type { Workflow, WorkflowTask } from '../api/types.ts';

/** One task of the graph. */
export interface GraphTask {
  id: string;
  taskRef: string;
  method?: string;
  host?: string;
  when?: string;
}

/** One dependency: `from` must finish (or be skipped) before `to` starts. */
export interface GraphEdge {
  from: string;
  to: string;
  when?: string;
}

export interface WorkflowGraphModel {
  tasks: GraphTask[];
  edges: GraphEdge[];
  /** The compiled workflow when it is valid (the Run page checks input with it). */
  compiled: CompiledWorkflow | undefined;
  errors: FieldError[];
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const match = /^[a-z]+:\/\/([^/{?]+)/i.exec(url);
  return match?.[1] ?? url.split('/')[0];
}

/** Builds the graph of a workflow from it and the WorkflowTasks of its namespace. */
export function workflowGraph(workflow: Workflow, tasks: readonly WorkflowTask[]): WorkflowGraphModel {
  const set = new TaskSet();
  const byName = new Map(tasks.map((t) => [t.metadata.name, t]));
  for (const task of tasks) set.set(task.metadata.name, validateTask(task).task ?? null);
  const { errors, workflow: compiled } = validateWorkflow(workflow, set);
  const steps = workflow.spec.tasks ?? [];
  const graphTasks: GraphTask[] = steps.map((step) => {
    const task = byName.get(step.taskRef.name);
    return {
      id: step.id,
      taskRef: step.taskRef.name,
      ...(task?.spec.http?.method ? { method: task.spec.http.method } : {}),
      ...(hostOf(task?.spec.http?.url) ? { host: hostOf(task?.spec.http?.url) as string } : {}),
      ...(step.when ? { when: step.when } : {}),
    };
  });
  const whenOf = new Map(steps.map((s) => [s.id, s.when]));
  const edges: GraphEdge[] = [];
  for (const step of steps) {
    const deps = compiled
      ? (compiled.steps.get(step.id)?.dependsOn ?? [])
      : [...new Set([...(step.dependsOn ?? []), ...templateDependencies(step.input)])];
    for (const from of deps) {
      const when = whenOf.get(step.id);
      edges.push({ from, to: step.id, ...(when ? { when } : {}) });
    }
  }
  return { tasks: graphTasks, edges, compiled, errors };
}

/** `tasks.<id>.` references in a templated value (for a workflow that does not compile). */
function templateDependencies(value: unknown): string[] {
  const text = JSON.stringify(value ?? {});
  return [...text.matchAll(/\{\{\s*tasks\.([a-z0-9-]+)\./g)].map((m) => m[1] as string);
}
