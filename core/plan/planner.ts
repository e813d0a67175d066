/**
 * The dry-run planner (`?dryRun=All`, `syncflow plan`): what an execution would do with this
 * input, computed without calling anything: order, parallel groups, step inputs and `when`
 * results where the input alone decides them, and an estimate from recorded durations.
 */
import type { CompiledStep, CompiledWorkflow } from '../definitions/compile.ts';
import type { ExecutionPlan } from '../model/schema.ts';
import { checkWorkflowInput } from '../engine/input.ts';
import type { CompiledValue } from '../template/compiled-value.ts';
import { formatRef, type TemplateRef } from '../template/parser.ts';
import { resolveRef, stringifyForInterpolation, type TemplateScope } from '../template/resolve.ts';

/** Recorded per-step durations of a workflow, from execution history. */
export interface ExecutionStatistics {
  /** p50 duration in ms of each step id that has history; empty when there is none. */
  stepDurationsP50(workflow: {
    namespace: string;
    name: string;
  }): ReadonlyMap<string, number> | Promise<ReadonlyMap<string, number>>;
}

/** Options of a plan. */
export interface PlanOptions {
  statistics?: ExecutionStatistics;
}

/**
 * Plans an execution. Throws `SyncflowError('InvalidInput')` exactly as the executor would.
 * A step input that reads other steps' outputs keeps those references as template text.
 */
export async function planExecution(
  workflow: CompiledWorkflow,
  input: unknown,
  options: PlanOptions = {},
): Promise<ExecutionPlan> {
  const value = checkWorkflowInput(workflow, input);
  const scope: TemplateScope = { input: value, taskOutput: () => undefined, secret: () => undefined };
  const skipped = new Set<string>();
  const tasks: NonNullable<ExecutionPlan['tasks']> = [];
  for (const id of workflow.graph.order) {
    const step = workflow.steps.get(id) as CompiledStep;
    const when = conditionOutcome(step, value, skipped);
    if (when === 'false' || step.dataDependencies.some((d) => skipped.has(d))) skipped.add(id);
    const items = step.map?.items.source === 'input' ? resolveRef(step.map.items, scope) : undefined;
    tasks.push({
      id,
      taskRef: step.taskRef,
      dependsOn: [...step.dependsOn],
      input: partiallyResolve(step.input, scope),
      ...(when === undefined ? {} : { when }),
      ...(Array.isArray(items) ? { items: items.length } : {}),
    });
  }
  const plan: ExecutionPlan = {
    order: [...workflow.graph.order],
    parallelGroups: workflow.graph.parallelGroups.map((g) => [...g]),
    tasks,
  };
  const durations = options.statistics ? await options.statistics.stepDurationsP50(workflow) : undefined;
  const estimate = durations ? criticalPathMs(workflow, durations, skipped) : undefined;
  if (estimate !== undefined) plan.estimatedDurationMs = estimate;
  return plan;
}

/** `true`/`false` when the input decides the condition, `unknown` when it reads step outputs. */
function conditionOutcome(
  step: CompiledStep,
  input: unknown,
  skipped: ReadonlySet<string>,
): string | undefined {
  if (!step.when) return undefined;
  if (step.when.taskRefs.some((id) => !skipped.has(id))) return 'unknown';
  const tasks: Record<string, { output: unknown }> = {};
  for (const id of step.when.taskRefs) tasks[id] = { output: null };
  try {
    return String(step.when.evaluate({ input, tasks }));
  } catch (error) {
    // Same rule as the executor: a condition about an absent field is false.
    return error instanceof Error && error.message.startsWith('No such key') ? 'false' : 'unknown';
  }
}

/** The longest chain of p50 durations through the graph; `undefined` unless every run step has history. */
function criticalPathMs(
  workflow: CompiledWorkflow,
  durations: ReadonlyMap<string, number>,
  skipped: ReadonlySet<string>,
): number | undefined {
  const finish = new Map<string, number>();
  for (const id of workflow.graph.order) {
    const own = skipped.has(id) ? 0 : durations.get(id);
    if (own === undefined) return undefined;
    const ready = Math.max(
      0,
      ...(workflow.graph.dependencies.get(id) ?? []).map((d) => finish.get(d) as number),
    );
    finish.set(id, ready + own);
  }
  return Math.max(0, ...finish.values());
}

/** Resolves input references; references to step outputs stay as their template text. */
function partiallyResolve(value: CompiledValue, scope: TemplateScope): unknown {
  const show = (ref: TemplateRef): unknown =>
    ref.source === 'input' ? resolveRef(ref, scope) : `{{${formatRef(ref)}}}`;
  switch (value.kind) {
    case 'const':
      return value.value;
    case 'exact':
      return show(value.ref);
    case 'interpolated':
      return value.parts
        .map((p) => (typeof p === 'string' ? p : stringifyForInterpolation(show(p))))
        .join('');
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, item] of value.entries) {
        const resolved = partiallyResolve(item, scope);
        if (resolved !== undefined) out[key] = resolved;
      }
      return out;
    }
    case 'array':
      return value.items.map((item) => partiallyResolve(item, scope) ?? null);
  }
}
