import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Workflow, WorkflowTask } from '../src/api/types.ts';
import { layoutGraph } from '../src/graph/layout.ts';
import { workflowGraph } from '../src/graph/model.ts';

/** The documents of an example file, namespaced like the console reads them from the cluster. */
function example(file: string): { workflow: Workflow; tasks: WorkflowTask[] } {
  const docs = parseAllDocuments(
    readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8'),
  ).map((d) => d.toJSON() as { kind: string; metadata: { namespace?: string } });
  for (const doc of docs) doc.metadata.namespace = 'shop';
  return {
    workflow: docs.find((d) => d.kind === 'Workflow') as unknown as Workflow,
    tasks: docs.filter((d) => d.kind === 'WorkflowTask') as unknown as WorkflowTask[],
  };
}

describe('workflowGraph (the graph the console draws)', () => {
  it("has a node per task with its WorkflowTask, method and host, and the engine's dependencies as edges", () => {
    const { workflow, tasks } = example('user-profile.yaml');
    const graph = workflowGraph(workflow, tasks);
    expect(graph.errors).to.deep.equal([]);
    expect(graph.compiled).not.to.equal(undefined);
    expect(graph.tasks.find((t) => t.id === 'user')).to.deep.include({
      taskRef: 'get-user',
      method: 'GET',
      host: 'demo.syncflow-system.svc:8080',
    });
    expect(graph.edges).to.deep.equal([
      { from: 'user', to: 'orders', when: 'has(input.withOrders) && input.withOrders == true' },
    ]);
  });

  it('reports the validator errors and still draws what the YAML states when a task is missing', () => {
    const { workflow, tasks } = example('user-profile.yaml');
    const graph = workflowGraph(
      workflow,
      tasks.filter((t) => t.metadata.name !== 'get-user'),
    );
    expect(graph.compiled).to.equal(undefined);
    expect(graph.errors.map((e) => e.code)).to.include('TaskNotFound');
    expect(graph.edges.map((e) => `${e.from}->${e.to}`)).to.deep.equal(['user->orders']);
    expect(graph.tasks.find((t) => t.id === 'user')?.method).to.equal(undefined);
  });
});

describe('layoutGraph (layered layout)', () => {
  it('puts tasks of one parallel group on one row and dependents below their dependencies', async () => {
    const positions = await layoutGraph(
      [
        { id: 'user', taskRef: 'a' },
        { id: 'orders', taskRef: 'b' },
        { id: 'recs', taskRef: 'c' },
      ],
      [{ from: 'user', to: 'orders' }],
    );
    expect(positions.get('user')?.y).to.equal(positions.get('recs')?.y);
    expect(positions.get('orders')?.y).to.be.greaterThan(positions.get('user')?.y as number);
  });

  it('lays out a 50-task workflow with no two tasks overlapping', async () => {
    const tasks = Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, taskRef: 'x' }));
    const edges = tasks.slice(5).map((t, i) => ({ from: `t${i}`, to: t.id }));
    const positions = await layoutGraph(tasks, edges);
    const cells = new Set([...positions.values()].map((p) => `${Math.round(p.x)},${Math.round(p.y)}`));
    expect(positions.size).to.equal(50);
    expect(cells.size).to.equal(50);
  });
});
