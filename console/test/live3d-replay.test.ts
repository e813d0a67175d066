import { expect } from 'chai';
import type { NetworkWorkflow } from '../../core/graph/network-layout.ts';
import type { Execution, Revision } from '../src/api/types.ts';
import { growthOrder, historyTimeline, ReplayCursor } from '../src/live3d/replay.ts';

const flow: NetworkWorkflow = {
  namespace: 'shop',
  name: 'checkout',
  tasks: [
    { id: 'a', taskRef: 'ta' },
    { id: 'b', taskRef: 'tb' },
  ],
  edges: [{ from: 'a', to: 'b' }],
};

const T0 = Date.parse('2026-12-01T10:00:00Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
function execution(name: string, start: number, phaseB = 'Succeeded'): Execution {
  return {
    metadata: { name, namespace: 'shop', uid: `uid-${name}` },
    spec: { workflowRef: { name: 'checkout' } },
    status: {
      phase: phaseB,
      startTime: iso(start),
      completionTime: iso(start + 30),
      durationMs: 30,
      tasks: [
        { id: 'a', phase: 'Succeeded', startTime: iso(start), completionTime: iso(start + 10) },
        { id: 'b', phase: phaseB, startTime: iso(start + 10), completionTime: iso(start + 30) },
      ],
    },
  };
}

describe('live view replay (from history)', () => {
  it('rebuilds the events of the executions that started in the range, in time order', () => {
    const timeline = historyTimeline(
      [execution('late', 500), execution('early', 100), execution('out', 5000)],
      [flow],
      {
        from: T0,
        to: T0 + 1000,
      },
    );
    expect(
      timeline.map((e) => [e.at - T0, e.message.type, (e.message as { task?: string }).task ?? '']),
    ).to.deep.equal([
      [100, 'ExecutionStarted', ''],
      [100, 'TaskStarted', 'a'],
      [110, 'TaskFinished', 'a'],
      [110, 'Signal', ''],
      [110, 'TaskStarted', 'b'],
      [130, 'TaskFinished', 'b'],
      [130, 'ExecutionFinished', ''],
      [500, 'ExecutionStarted', ''],
      [500, 'TaskStarted', 'a'],
      [510, 'TaskFinished', 'a'],
      [510, 'Signal', ''],
      [510, 'TaskStarted', 'b'],
      [530, 'TaskFinished', 'b'],
      [530, 'ExecutionFinished', ''],
    ]);
    const signal = timeline.find((e) => e.message.type === 'Signal')?.message;
    expect(signal).to.deep.include({
      from: 'a',
      to: 'b',
      execution: { namespace: 'shop', name: 'early', uid: 'uid-early', workflow: 'checkout' },
    });
  });

  it('plays the range at a speed: what is due by a moment of wall time, and done once the range is over', () => {
    const timeline = historyTimeline([execution('e', 100)], [flow], { from: T0, to: T0 + 1000 });
    const cursor = new ReplayCursor(timeline, { from: T0, to: T0 + 1000 }, 10);
    // 10 ms of wall time at 10× is 100 ms of recorded time: the first two events are due.
    expect(cursor.due(10).map((e) => e.message.type)).to.deep.equal(['ExecutionStarted', 'TaskStarted']);
    expect(cursor.due(10)).to.deep.equal([]);
    expect(cursor.done).to.equal(false);
    expect(cursor.due(99)).to.have.length(5);
    expect(cursor.done).to.equal(false);
    expect(cursor.due(100)).to.deep.equal([]);
    expect(cursor.done).to.equal(true);
    expect(cursor.recordedTime(50)).to.equal(T0 + 500);
  });

  it('orders workflows by their first revision for the time-lapse; those without one come first', () => {
    const revision = (workflow: string, at: number) =>
      ({
        metadata: { name: `${workflow}-${at}`, namespace: 'shop', creationTimestamp: iso(at) },
        workflow,
      }) as unknown as Revision;
    const order = growthOrder(
      ['checkout', 'refund', 'audit', 'orphan'],
      [
        revision('refund', 3000),
        revision('checkout', 1000),
        revision('checkout', 5000),
        revision('audit', 2000),
      ],
    );
    expect(order.map((o) => o.workflow)).to.deep.equal(['orphan', 'checkout', 'audit', 'refund']);
    expect(order[1]?.at).to.equal(T0 + 1000);
  });
});
