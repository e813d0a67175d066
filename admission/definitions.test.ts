import { expect } from 'chai';
import { DefinitionCatalog } from '../core/definitions/catalog.ts';
import { FreshDefinitions, referencedTaskNames } from './definitions.ts';
import { FakeLive, getUser, notify, NS } from './testdata/definitions.ts';

describe('FreshDefinitions', () => {
  it('reuses a namespace’s resolver until the catalog reports a change there', async () => {
    const catalog = new DefinitionCatalog();
    catalog.upsert(getUser());
    const definitions = new FreshDefinitions(catalog, new FakeLive());
    const first = await definitions.tasksFor(NS, ['get-user']);
    expect(await definitions.tasksFor(NS, ['get-user'])).to.equal(first);
    catalog.upsert(notify());
    const next = await definitions.tasksFor(NS, ['get-user', 'notify']);
    expect(next).to.not.equal(first);
    expect(next.get('notify')?.name).to.equal('notify');
  });

  it('never hands out the shared resolver with live additions or an override applied', async () => {
    const catalog = new DefinitionCatalog();
    catalog.upsert(getUser());
    const live = new FakeLive();
    live.tasks.set('notify', notify());
    const definitions = new FreshDefinitions(catalog, live);
    const shared = await definitions.tasksFor(NS, ['get-user']);
    const withLive = await definitions.tasksFor(NS, ['get-user', 'notify']);
    expect(withLive.get('notify')).to.not.equal(undefined);
    expect(shared.get('notify')).to.equal(undefined);
    const withoutTask = await definitions.tasksFor(NS, [], { name: 'get-user', object: null });
    expect(withoutTask.get('get-user')).to.equal(undefined);
    expect(shared.get('get-user')).to.not.equal(undefined);
  });

  it('finds the task names a spec references, tolerating any shape', () => {
    expect(
      referencedTaskNames({
        tasks: [{ taskRef: { name: 'a' } }, { taskRef: { name: 'a' } }, null, { taskRef: {} }],
      }),
    ).to.deep.equal(['a']);
    expect(referencedTaskNames({ tasks: 'x' })).to.deep.equal([]);
    expect(referencedTaskNames(undefined)).to.deep.equal([]);
  });
});
