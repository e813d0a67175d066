/**
 * The benchmark workloads, each in two implementations doing the same upstream calls: syncflow
 * (compiled workflow on the DagExecutor, with schemas and templates) and the baseline, a minimal
 * hand-written orchestrator over undici with no validation.
 */
import type { Agent } from 'undici';
import {
  compileTask,
  compileWorkflow,
  type CompiledTask,
  type CompiledWorkflow,
} from '../../core/definitions/compile.ts';
import type { WorkflowDocument, WorkflowTaskDocument } from '../../core/model/schema.ts';

/** Runs one execution of a workload. */
export type Run = () => Promise<unknown>;

const OUTPUT_SCHEMA = {
  type: 'object',
  required: ['id', 'email'],
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    v: { type: 'integer' },
    items: { type: 'array' },
  },
};

function taskDoc(name: string, base: string, delayMs: number): WorkflowTaskDocument {
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name, namespace: 'bench' },
    spec: {
      inputSchema: { type: 'object', properties: { userId: { type: 'string' } } },
      outputSchema: OUTPUT_SCHEMA,
      http: {
        method: 'GET',
        url: `${base}/delay/${delayMs}/${name}/{{input.userId}}`,
        headers: { 'x-user': '{{input.userId}}' },
      },
      timeout: '5s',
    },
  };
}

function compile(
  base: string,
  delayMs: number,
  steps: Array<{ id: string; deps: string[] }>,
  output: unknown,
): CompiledWorkflow {
  const tasks = new Map<string, CompiledTask>();
  for (const step of steps) {
    const compiled = compileTask(taskDoc(`t-${step.id}`, base, delayMs));
    if (!compiled.value) throw new Error(JSON.stringify(compiled.errors));
    tasks.set(compiled.value.name, compiled.value);
  }
  const doc: WorkflowDocument = {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: 'bench', namespace: 'bench' },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      tasks: steps.map((s) => ({
        id: s.id,
        taskRef: { name: `t-${s.id}` },
        // Data dependencies through templates, as real workflows have them.
        input: { userId: s.deps.length ? `{{tasks.${s.deps[0]}.output.id}}` : '{{input.userId}}' },
        dependsOn: s.deps,
      })),
      output,
      maxConcurrency: 16,
    },
  };
  const compiled = compileWorkflow(doc, { get: (n) => tasks.get(n), names: () => tasks.keys() });
  if (!compiled.value) throw new Error(JSON.stringify(compiled.errors));
  return compiled.value;
}

/** 5-task diamond: a → (b, c, d) → e. */
export const DIAMOND = [
  { id: 'a', deps: [] },
  { id: 'b', deps: ['a'] },
  { id: 'c', deps: ['a'] },
  { id: 'd', deps: ['a'] },
  { id: 'e', deps: ['b', 'c', 'd'] },
];

/** 3 tasks: a → (b, c). */
export const FAN = [
  { id: 'a', deps: [] },
  { id: 'b', deps: ['a'] },
  { id: 'c', deps: ['a'] },
];

/** The compiled syncflow workflow for a shape. */
export function syncflowWorkflow(base: string, delayMs: number, shape: typeof DIAMOND): CompiledWorkflow {
  const last = shape[shape.length - 1] as { id: string };
  return compile(base, delayMs, shape, {
    email: `{{tasks.a.output.email}}`,
    last: `{{tasks.${last.id}.output}}`,
  });
}

/** The baseline: the same calls in the same dependency order, hand-written, no validation. */
export function baselineRun(agent: Agent, base: string, delayMs: number, shape: typeof DIAMOND): Run {
  const origin = base;
  const call = async (name: string, userId: string): Promise<{ id: string; email: string }> => {
    const res = await agent.request({
      origin,
      path: `/delay/${delayMs}/t-${name}/${encodeURIComponent(userId)}`,
      method: 'GET',
      headers: { accept: 'application/json', 'x-user': userId },
    });
    return (await res.body.json()) as { id: string; email: string };
  };
  return async () => {
    const outputs = new Map<string, Promise<{ id: string; email: string }>>();
    for (const step of shape) {
      const deps = step.deps.map((d) => outputs.get(d) as Promise<{ id: string; email: string }>);
      outputs.set(
        step.id,
        Promise.all(deps).then((done) => call(step.id, done.length ? (done[0] as { id: string }).id : '42')),
      );
    }
    const values = await Promise.all(outputs.values());
    return { email: values[0]?.email, last: values[values.length - 1] };
  };
}
