import { expect } from 'chai';
import { liveExecution, type LiveExecution, type StreamMessage } from '../src/api/stream.ts';
import type { TaskStatus } from '../src/api/types.ts';
import { mapProgressText, recordedTaskOverlay } from '../src/components/task-progress.ts';

const execution = { namespace: 'shop', name: 'fan-abcde', uid: 'u', workflow: 'fan' };
const at = (seq: number, rest: Record<string, unknown>) =>
  ({ id: 'c1', execution, seq, time: `2026-01-01T00:00:0${seq}Z`, ...rest }) as unknown as StreamMessage;
/** The TaskStarted of element `item` (of 3) of the map step `each`. */
const elementStarted = (seq: number, item: number) =>
  at(seq, {
    type: 'TaskStarted',
    task: 'each',
    attempt: 1,
    request: `GET http://x/${item}`,
    item,
    itemCount: 3,
  });
const fold = (messages: StreamMessage[]) =>
  messages.reduce<LiveExecution>((state, m) => liveExecution(state, m), liveExecution.start(['each']));

describe('map progress in the graph', () => {
  it('keeps a map step Running while its elements finish, counting done and failed of N', () => {
    const state = fold([
      elementStarted(1, 0),
      elementStarted(2, 1),
      at(3, { type: 'TaskFinished', task: 'each', phase: 'Succeeded', item: 0, durationMs: 3 }),
      at(4, { type: 'TaskFinished', task: 'each', phase: 'Failed', item: 1, error: { reason: 'HTTPError' } }),
    ]);
    expect(state.tasks.each?.phase).to.equal('Running');
    expect(state.tasks.each?.map).to.deep.equal({ count: 3, done: 2, failed: 1 });
    expect(mapProgressText(state.tasks.each?.map)).to.equal('2 done · 1 failed of 3');
  });

  it('ends with the step’s own TaskFinished: its phase and the final counts', () => {
    const state = fold([
      elementStarted(1, 0),
      at(2, { type: 'TaskFinished', task: 'each', phase: 'Succeeded', item: 0, durationMs: 3 }),
      at(3, {
        type: 'TaskFinished',
        task: 'each',
        phase: 'Succeeded',
        itemCount: 3,
        failedItems: 1,
        durationMs: 9,
      }),
    ]);
    expect(state.tasks.each?.phase).to.equal('Succeeded');
    expect(state.tasks.each?.map).to.deep.equal({ count: 3, done: 3, failed: 1 });
  });

  it('once the execution is recorded, shows the recorded counts and badges', () => {
    const object = {
      metadata: { name: 'fan-abcde', namespace: 'shop' },
      spec: { workflowRef: { name: 'fan' } },
      status: {
        phase: 'Succeeded',
        tasks: [
          { id: 'each', phase: 'Succeeded', durationMs: 9, itemCount: 3, failedItems: 1, cached: true },
        ],
      },
    };
    const state = fold([at(1, { type: 'ExecutionFinished', object })]);
    expect(state.tasks.each).to.deep.equal({
      phase: 'Succeeded',
      note: '9 ms',
      map: { count: 3, failed: 1 },
      badges: ['cached'],
    });
  });

  it('shows a recorded map step’s element count and failures, and cached and hedged badges', () => {
    const task: TaskStatus = { id: 'each', phase: 'Failed', itemCount: 400, failedItems: 8 };
    expect(recordedTaskOverlay(task)).to.deep.equal({ map: { count: 400, failed: 8 } });
    expect(mapProgressText(recordedTaskOverlay(task).map)).to.equal('400 elements · 8 failed');
    expect(recordedTaskOverlay({ id: 'a', phase: 'Succeeded', cached: true, hedged: true })).to.deep.equal({
      badges: ['cached', 'hedged'],
    });
    expect(recordedTaskOverlay({ id: 'a', phase: 'Succeeded' })).to.deep.equal({});
    expect(mapProgressText(undefined)).to.equal('');
  });
});
