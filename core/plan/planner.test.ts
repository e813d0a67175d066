import { expect } from 'chai';
import type { SyncflowError } from '../errors.ts';
import { compileFixture } from '../engine/testdata/fixtures.ts';
import { planExecution } from './planner.ts';

const workflow = compileFixture(`kind: WorkflowTask
metadata: {name: get}
spec:
  http: {method: GET, url: "\${BASE}/x"}
---
kind: Workflow
spec:
  inputSchema: {type: object, required: [userId], properties: {userId: {type: string}, withOrders: {type: boolean}}}
  tasks:
  - {id: user, taskRef: {name: get}, input: {userId: "{{input.userId}}", tag: "u-{{input.userId}}", list: ["{{input.userId}}", 1]}}
  - {id: orders, taskRef: {name: get}, input: {email: "{{tasks.user.output.email}}", id: "{{input.userId}}"}, when: "input.withOrders == true"}
  - {id: recs, taskRef: {name: get}, input: {userId: "{{input.userId}}"}}
  - {id: summary, taskRef: {name: get}, input: {orders: "{{tasks.orders.output}}", label: "n={{tasks.recs.output.n}}"}}
  - {id: gated, taskRef: {name: get}, when: "tasks.user.output.vip == true"}
`);

describe('planExecution', () => {
  it('lists order, parallel groups and inputs resolved where the input decides them', async () => {
    const plan = await planExecution(workflow, { userId: '42', withOrders: true });
    expect(plan.order).to.deep.equal(['user', 'recs', 'orders', 'gated', 'summary']);
    expect(plan.parallelGroups).to.deep.equal([['user', 'recs'], ['orders', 'gated'], ['summary']]);
    const byId = new Map(plan.tasks?.map((t) => [t.id, t]));
    expect(byId.get('user')).to.deep.equal({
      id: 'user',
      taskRef: 'get',
      dependsOn: [],
      input: { userId: '42', tag: 'u-42', list: ['42', 1] },
    });
    expect(byId.get('orders')?.input).to.deep.equal({ email: '{{tasks.user.output.email}}', id: '42' });
    expect(byId.get('orders')?.when).to.equal('true');
    expect(byId.get('summary')?.input).to.deep.equal({
      orders: '{{tasks.orders.output}}',
      label: 'n={{tasks.recs.output.n}}',
    });
    expect(byId.get('gated')?.when).to.equal('unknown');
    expect(plan.estimatedDurationMs).to.equal(undefined);
  });

  it('evaluates when to false from the input, absent fields included', async () => {
    const plan = await planExecution(workflow, { userId: '42' });
    expect(plan.tasks?.find((t) => t.id === 'orders')?.when).to.equal('false');
  });

  it('estimates the duration as the critical path of per-step p50s', async () => {
    const p50 = new Map([
      ['user', 10],
      ['recs', 30],
      ['orders', 25],
      ['gated', 1],
      ['summary', 5],
    ]);
    const statistics = { stepDurationsP50: async () => p50 };
    expect(
      (await planExecution(workflow, { userId: '1', withOrders: true }, { statistics })).estimatedDurationMs,
    ).to.equal(40);
    // Without orders (skipped, and summary reads it): user 10 → gated 1 vs recs 30.
    expect((await planExecution(workflow, { userId: '1' }, { statistics })).estimatedDurationMs).to.equal(30);
    const partial = { stepDurationsP50: () => new Map([['user', 10]]) };
    expect(
      (await planExecution(workflow, { userId: '1' }, { statistics: partial })).estimatedDurationMs,
    ).to.equal(undefined);
  });

  it('rejects invalid input as the executor does', async () => {
    try {
      await planExecution(workflow, { userId: 1 });
      expect.fail('should throw');
    } catch (error) {
      expect((error as SyncflowError).code).to.equal('InvalidInput');
      expect((error as SyncflowError).causes[0]?.field).to.equal('spec.input.userId');
    }
  });
});
