import { expect } from 'chai';
import { layoutNetwork, type NetworkWorkflow } from '../../core/graph/network-layout.ts';
import type { StreamMessage } from '../../core/model/stream.ts';
import { LiveNetwork, percentile } from '../src/live3d/model.ts';

const checkout: NetworkWorkflow = {
  namespace: 'shop',
  name: 'checkout',
  tasks: [
    { id: 'reserve', taskRef: 'reserve-stock' },
    { id: 'charge', taskRef: 'charge-payment' },
    { id: 'email', taskRef: 'send-email' },
    { id: 'sms', taskRef: 'send-sms' },
  ],
  edges: [
    { from: 'reserve', to: 'charge' },
    { from: 'charge', to: 'email' },
    { from: 'charge', to: 'sms' },
  ],
};
const layout = layoutNetwork([checkout]);

const execution = (uid: string) => ({
  namespace: 'shop',
  name: `checkout-${uid}`,
  uid,
  workflow: 'checkout',
});
let seq = 0;
const started = (uid: string): StreamMessage => ({
  type: 'ExecutionStarted',
  id: 's',
  seq: ++seq,
  time: 't',
  namespace: 'shop',
  workflow: 'checkout',
  revision: 'r',
  graph: { tasks: [...checkout.tasks], edges: [...checkout.edges] },
  execution: execution(uid),
});
const task = (uid: string, type: 'TaskStarted' | 'TaskFinished', taskId: string, phase = 'Succeeded') =>
  (type === 'TaskStarted'
    ? {
        type,
        id: 's',
        seq: ++seq,
        time: 't',
        task: taskId,
        attempt: 1,
        request: 'GET /',
        execution: execution(uid),
      }
    : {
        type,
        id: 's',
        seq: ++seq,
        time: 't',
        task: taskId,
        phase,
        durationMs: 5,
        execution: execution(uid),
      }) as StreamMessage;
const signal = (uid: string, from: string, to: string) =>
  ({
    type: 'Signal',
    id: 's',
    seq: ++seq,
    time: 't',
    from,
    to,
    ready: true,
    execution: execution(uid),
  }) as StreamMessage;
const finished = (uid: string, phase: string, durationMs: number) =>
  ({
    type: 'ExecutionFinished',
    id: 's',
    seq: ++seq,
    time: 't',
    execution: execution(uid),
    object: { metadata: { name: `checkout-${uid}` }, status: { phase, durationMs } },
  }) as unknown as StreamMessage;

describe('LiveNetwork (what the live view draws, from stream events)', () => {
  it('turns each task event into an effect on the node of its WorkflowTask, and each Signal into one on its link', () => {
    const live = new LiveNetwork(layout, [checkout]);
    const node = (ref: string) => live.nodeIndex.get(`shop/${ref}`);
    expect(live.apply(started('u1'), 0)).to.deep.equal([]);
    expect(live.apply(task('u1', 'TaskStarted', 'reserve'), 1)).to.deep.equal([
      { kind: 'start', event: 'TaskStarted', node: node('reserve-stock') },
    ]);
    expect(live.apply(task('u1', 'TaskFinished', 'reserve'), 2)).to.deep.equal([
      { kind: 'succeed', event: 'TaskFinished', node: node('reserve-stock') },
    ]);
    expect(live.apply(signal('u1', 'reserve', 'charge'), 2)).to.deep.equal([
      { kind: 'signal', event: 'Signal', link: live.linkIndex.get('shop/reserve-stock>shop/charge-payment') },
    ]);
    expect(live.apply(task('u1', 'TaskFinished', 'charge', 'Failed'), 3)).to.deep.equal([
      { kind: 'fail', event: 'TaskFinished', node: node('charge-payment') },
    ]);
    expect(live.phases[node('charge-payment') as number]).to.equal('Failed');
    expect(live.failed[node('charge-payment') as number]).to.equal(true);
  });

  it('pulses the node of a Signal between two steps that use the same WorkflowTask', () => {
    const twice: NetworkWorkflow = {
      namespace: 'shop',
      name: 'twice',
      tasks: [
        { id: 'first', taskRef: 'reserve-stock' },
        { id: 'again', taskRef: 'reserve-stock' },
      ],
      edges: [{ from: 'first', to: 'again' }],
    };
    const live = new LiveNetwork(layoutNetwork([twice]), [twice]);
    const message = {
      ...signal('u', 'first', 'again'),
      execution: { ...execution('u'), workflow: 'twice' },
    } as StreamMessage;
    expect(live.apply(message, 0)).to.deep.equal([
      { kind: 'loop', event: 'Signal', node: live.nodeIndex.get('shop/reserve-stock') },
    ]);
  });

  it('maps the steps of an execution it saw no ExecutionStarted for through the workflow’s definition', () => {
    const live = new LiveNetwork(layout, [checkout]);
    expect(live.apply(task('late', 'TaskStarted', 'sms'), 0)).to.deep.equal([
      { kind: 'start', event: 'TaskStarted', node: live.nodeIndex.get('shop/send-sms') },
    ]);
  });

  it('counts calls per node and link over the window only (the heat map), relative to the busiest', () => {
    const live = new LiveNetwork(layout, [checkout], { windowMs: 1000 });
    live.apply(task('a', 'TaskStarted', 'reserve'), 0);
    live.apply(task('b', 'TaskStarted', 'reserve'), 500);
    live.apply(task('b', 'TaskStarted', 'charge'), 900);
    live.apply(signal('b', 'reserve', 'charge'), 900);
    const reserve = live.nodeIndex.get('shop/reserve-stock') as number;
    const charge = live.nodeIndex.get('shop/charge-payment') as number;
    let heat = live.heat(1000);
    expect(heat.nodes[reserve]).to.equal(1);
    expect(heat.nodes[charge]).to.equal(0.5);
    expect(heat.links[live.linkIndex.get('shop/reserve-stock>shop/charge-payment') as number]).to.equal(1);
    heat = live.heat(1400);
    expect(heat.nodes[reserve]).to.equal(1);
    expect(heat.nodes[charge]).to.equal(1);
    heat = live.heat(5000);
    expect(heat.nodes[reserve]).to.equal(0);
  });

  it('measures executions per second, p50/p99 duration and the error rate over the window', () => {
    const live = new LiveNetwork(layout, [checkout], { windowMs: 10_000 });
    for (let i = 0; i < 10; i++) {
      live.apply(started(`e${i}`), i * 100);
      live.apply(finished(`e${i}`, i === 3 ? 'Failed' : 'Succeeded', (i + 1) * 10), i * 100 + 50);
    }
    const m = live.metrics(1000);
    expect(m.executionsPerSecond).to.equal(1);
    expect(m.p50Ms).to.equal(50);
    expect(m.p99Ms).to.equal(100);
    expect(m.errorRate).to.equal(0.1);
    expect(live.metrics(60_000)).to.deep.include({ executionsPerSecond: 0, errorRate: 0 });
  });

  it('follows only the chosen workflow when filtered; other workflows’ events make no effect', () => {
    const live = new LiveNetwork(layout, [checkout]);
    live.setFilter({ workflow: 'other' });
    expect(live.apply(task('u', 'TaskStarted', 'reserve'), 0)).to.deep.equal([]);
    live.setFilter({ workflow: 'checkout' });
    expect(live.apply(task('u', 'TaskStarted', 'reserve'), 0)).to.have.length(1);
  });

  it('lists one table row per task with its phase, calls and errors in the window', () => {
    const live = new LiveNetwork(layout, [checkout], { windowMs: 1000 });
    live.apply(task('u', 'TaskStarted', 'charge'), 0);
    live.apply(task('u', 'TaskFinished', 'charge', 'Failed'), 10);
    const row = live.rows(100).find((r) => r.task === 'charge-payment');
    expect(row).to.deep.include({ phase: 'Failed', calls: 1, errors: 1, workflows: 'checkout' });
    expect(live.rows(100).map((r) => r.task)).to.have.members([
      'charge-payment',
      'reserve-stock',
      'send-email',
      'send-sms',
    ]);
  });

  it('percentile takes the nearest rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 0.5)).to.equal(3);
    expect(percentile([], 0.5)).to.equal(undefined);
  });
});
