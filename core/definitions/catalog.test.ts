import { expect } from 'chai';
import { DefinitionCatalog, type DefinitionObject } from './catalog.ts';

const task = (
  name: string,
  rv: string,
  outputSchema: object = { type: 'object', properties: { email: { type: 'string' } } },
): DefinitionObject => ({
  kind: 'WorkflowTask',
  metadata: { name, namespace: 'shop', resourceVersion: rv },
  spec: { outputSchema, http: { method: 'GET', url: 'http://x.svc/' } },
});
const workflow = (name: string, rv: string, taskName = 'get-user'): DefinitionObject => ({
  kind: 'Workflow',
  metadata: { name, namespace: 'shop', resourceVersion: rv },
  spec: { tasks: [{ id: 'a', taskRef: { name: taskName } }], output: { email: '{{tasks.a.output.email}}' } },
});

describe('DefinitionCatalog', () => {
  it('compiles a workflow once per set of resourceVersions', () => {
    const catalog = new DefinitionCatalog();
    catalog.upsert(task('get-user', '1'));
    catalog.upsert(workflow('wf', '2'));
    const first = catalog.lookup('shop', 'wf');
    expect(first.kind).to.equal('ready');
    expect(catalog.lookup('shop', 'wf')).to.equal(first);
    catalog.upsert(
      task('get-user', '3', {
        type: 'object',
        properties: { email: { type: 'string' }, age: { type: 'integer' } },
      }),
    );
    const second = catalog.lookup('shop', 'wf');
    expect(second).not.to.equal(first);
    expect(
      second.kind === 'ready' &&
        first.kind === 'ready' &&
        second.workflow.revision !== first.workflow.revision,
    ).to.equal(true);
  });

  it('reports notFound, TaskNotFound and Invalid', () => {
    const catalog = new DefinitionCatalog();
    expect(catalog.lookup('shop', 'wf').kind).to.equal('notFound');
    catalog.upsert(workflow('wf', '1', 'missing'));
    const missing = catalog.lookup('shop', 'wf');
    expect(missing).to.deep.include({ kind: 'notReady', reason: 'TaskNotFound' });
    catalog.upsert({
      kind: 'WorkflowTask',
      metadata: { name: 'missing', namespace: 'shop', resourceVersion: '2' },
      spec: { http: { method: 'FETCH', url: '' } },
    });
    const invalid = catalog.lookup('shop', 'wf');
    expect(invalid).to.deep.include({ kind: 'notReady', reason: 'Invalid' });
    expect(invalid.kind === 'notReady' && invalid.message).to.contain('missing');
    catalog.upsert({
      kind: 'Workflow',
      metadata: { name: 'bad', namespace: 'shop', resourceVersion: '3' },
      spec: { tasks: [] },
    });
    expect(catalog.lookup('shop', 'bad')).to.deep.include({ kind: 'notReady', reason: 'Invalid' });
  });

  it('tracks dependents, removals, re-lists and notifies listeners', () => {
    const catalog = new DefinitionCatalog();
    const changed: string[] = [];
    const stop = catalog.onChange((ns) => changed.push(ns));
    catalog.upsert(task('get-user', '1'));
    catalog.upsert(workflow('wf', '2'));
    expect(catalog.dependentsOf('shop', 'get-user').map((w) => w.metadata.name)).to.deep.equal(['wf']);
    expect(catalog.listWorkflows('shop')).to.have.length(1);
    expect(catalog.listWorkflows()).to.have.length(1);
    expect(catalog.getTask('shop', 'get-user')?.metadata.resourceVersion).to.equal('1');
    catalog.remove(task('get-user', '1'));
    expect(catalog.lookup('shop', 'wf')).to.deep.include({ reason: 'TaskNotFound' });
    catalog.replaceAll('WorkflowTask', [task('get-user', '5')]);
    expect(catalog.lookup('shop', 'wf').kind).to.equal('ready');
    catalog.replaceAll('Workflow', []);
    expect(catalog.lookup('shop', 'wf').kind).to.equal('notFound');
    stop();
    catalog.upsert(task('x', '9'));
    expect(changed).to.deep.equal(['shop', 'shop', 'shop', 'shop', 'shop']);
  });

  it('can resolve tasks with one replaced, for checking a task update against its dependents', () => {
    const catalog = new DefinitionCatalog();
    catalog.upsert(task('get-user', '1'));
    const resolver = catalog.taskResolver('shop', {
      name: 'get-user',
      object: task('get-user', '2', { type: 'object', properties: { email: { type: 'integer' } } }),
    });
    expect(resolver.get('get-user')?.spec.outputSchema).to.deep.equal({
      type: 'object',
      properties: { email: { type: 'integer' } },
    });
    expect(catalog.taskResolver('shop', { name: 'get-user', object: null }).get('get-user')).to.equal(
      undefined,
    );
  });
});
