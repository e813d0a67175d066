import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { canonicalJson } from '../definitions/compile.ts';
import { TaskSet, validateDocuments, validateTask, validateWorkflow } from './validate.ts';

const examples = join(import.meta.dirname, '..', '..', 'examples');
const load = (file: string) => parseAllDocuments(readFileSync(join(examples, file), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);

function tasksOf(docs: Record<string, unknown>[]): TaskSet {
  const set = new TaskSet();
  for (const doc of docs.filter((d) => d.kind === 'WorkflowTask')) {
    const { task, errors } = validateTask(doc);
    expect(errors).to.deep.equal([]);
    set.set(task?.name as string, task ?? null);
  }
  return set;
}

describe('validateWorkflow', () => {
  it('compiles a valid workflow with its implied dependencies and plan', () => {
    const docs = load('loan-quote.yaml');
    const { errors, workflow } = validateWorkflow(docs.find((d) => d.kind === 'Workflow'), tasksOf(docs));
    expect(errors).to.deep.equal([]);
    expect(workflow?.graph.parallelGroups).to.deep.equal([['score'], ['quote', 'review']]);
    expect(workflow?.steps.get('quote')?.dependsOn).to.deep.equal(['score']);
    expect(workflow?.steps.get('review')?.when?.taskRefs).to.deep.equal(['score']);
    expect(workflow?.timeoutMs).to.equal(5000);
    expect(workflow?.revision).to.match(/^sha256:[0-9a-f]{64}$/);
  });

  it('gives the same revision for the same definitions and a new one when a task changes', () => {
    const docs = load('user-profile.yaml');
    const wf = docs.find((d) => d.kind === 'Workflow');
    const first = validateWorkflow(wf, tasksOf(docs)).workflow?.revision;
    expect(validateWorkflow(structuredClone(wf), tasksOf(docs)).workflow?.revision).to.equal(first);
    const changed = structuredClone(docs);
    ((changed[0] as { spec: { timeout: string } }).spec).timeout = '3s';
    expect(validateWorkflow(wf, tasksOf(changed)).workflow?.revision).not.to.equal(first);
  });

  it('reports a missing task once, and nothing more for a task that exists but is invalid', () => {
    const docs = load('user-profile.yaml');
    const wf = docs.find((d) => d.kind === 'Workflow');
    const set = tasksOf(docs);
    set.set('get-recs', null);
    const result = validateWorkflow(wf, set);
    expect(result.workflow).to.equal(undefined);
    expect(result.errors).to.deep.equal([]);
    const empty = validateWorkflow(wf, new TaskSet());
    expect(empty.errors.filter((e) => e.code === 'TaskNotFound').map((e) => e.field)).to.deep.equal([
      'spec.tasks[0].taskRef.name',
      'spec.tasks[1].taskRef.name',
      'spec.tasks[2].taskRef.name',
    ]);
  });

  it('collects every error of a broken workflow at once', () => {
    const docs = load('user-profile.yaml');
    const wf = structuredClone(docs.find((d) => d.kind === 'Workflow')) as { spec: Record<string, unknown> };
    wf.spec.timeout = 'soon';
    (wf.spec.tasks as Array<Record<string, unknown>>)[1] = {
      id: 'orders',
      taskRef: { name: 'list-orders' },
      input: { email: '{{tasks.user.output.mail}}' },
      when: 'input.withOrders ==',
    };
    const { errors } = validateWorkflow(wf, tasksOf(docs));
    expect(errors.map((e) => e.code).sort()).to.deep.equal(['InvalidDuration', 'InvalidWhen', 'UnknownOutputPath']);
    expect(errors.find((e) => e.code === 'UnknownOutputPath')?.suggestion).to.equal('did you mean `email`?');
  });
});

describe('validateDocuments', () => {
  it('resolves tasks regardless of document order and namespace by namespace', () => {
    const docs = load('checkout.yaml').reverse();
    expect(validateDocuments(docs).flatMap((r) => r.errors)).to.deep.equal([]);
  });

  it('reports a document that is not an object', () => {
    const [report] = validateDocuments(['just a string']);
    expect(report?.errors.map((e) => e.code)).to.deep.equal(['ParseError']);
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null, u: undefined })).to.equal('{"a":null,"b":[{"c":2,"d":1}],"u":null}');
  });
});
