import { expect } from 'chai';
import { layoutNetwork, type NetworkWorkflow } from '../../core/graph/network-layout.ts';
import type { StreamMessage } from '../../core/model/stream.ts';
import { LiveController } from '../src/live3d/controller.ts';
import { freshHook } from '../src/live3d/hook.ts';
import type { TimedMessage } from '../src/live3d/replay.ts';

const chain: NetworkWorkflow = {
  namespace: 'shop',
  name: 'chain',
  tasks: [
    { id: 'a', taskRef: 'ta' },
    { id: 'b', taskRef: 'tb' },
  ],
  edges: [{ from: 'a', to: 'b' }],
};
const other: NetworkWorkflow = { ...chain, name: 'other', tasks: [{ id: 'x', taskRef: 'tx' }], edges: [] };

const execution = (workflow: string) => ({
  namespace: 'shop',
  name: `${workflow}-1`,
  uid: `u-${workflow}`,
  workflow,
});
const events = (workflow = 'chain'): StreamMessage[] =>
  [
    { type: 'TaskStarted', task: 'a', attempt: 1, request: '' },
    { type: 'TaskFinished', task: 'a', phase: 'Succeeded' },
    { type: 'Signal', from: 'a', to: 'b', ready: true },
    { type: 'TaskStarted', task: 'b', attempt: 1, request: '' },
  ].map((e, i) => ({ ...e, id: 's', seq: i + 1, time: '', execution: execution(workflow) }) as StreamMessage);

describe('LiveController (the live view’s store)', () => {
  let controller: LiveController | undefined;
  const frames: (() => void)[] = [];
  before(() => {
    // Frames on demand: the test says when the next one runs.
    (globalThis as { requestAnimationFrame?: unknown }).requestAnimationFrame = (f: () => void) =>
      frames.push(f);
    (globalThis as { cancelAnimationFrame?: unknown }).cancelAnimationFrame = () => undefined;
  });
  afterEach(() => controller?.dispose());
  const runFrames = () => {
    for (const f of frames.splice(0)) f();
  };

  it('counts each stream event it follows and the effect drawn for it (without WebGL, the table still counts)', () => {
    const hook = freshHook();
    controller = new LiveController(layoutNetwork([chain]), [chain], hook);
    controller.attach(undefined);
    controller.receive({ type: 'subscribed', id: 's' });
    for (const message of events()) controller.receive(message);
    expect(hook.subscribed).to.equal(true);
    expect(hook.events).to.deep.equal({ TaskStarted: 2, TaskFinished: 1, Signal: 1 });
    expect(hook.effects).to.deep.equal(hook.events);
  });

  it('follows only the chosen workflow', () => {
    const hook = freshHook();
    controller = new LiveController(layoutNetwork([chain, other]), [chain, other], hook);
    controller.setView({ workflow: 'other' });
    for (const message of events('chain')) controller.receive(message);
    expect(hook.events).to.deep.equal({});
    expect(hook.effects).to.deep.equal({});
  });

  it('sets live events aside while a replay plays, and says when it is done', async () => {
    const hook = freshHook();
    controller = new LiveController(layoutNetwork([chain]), [chain], hook);
    const timeline: TimedMessage[] = events().map((message, i) => ({ at: 1000 + i, message }));
    controller.startReplay(timeline, { from: 1000, to: 1010 }, 100);
    expect(hook.replay.state).to.equal('playing');
    controller.receive(events()[0] as StreamMessage);
    expect(hook.events).to.deep.equal({});
    await new Promise((resolve) => setTimeout(resolve, 5));
    runFrames();
    expect(hook.replay).to.deep.include({ state: 'done', events: 4, speed: 100 });
    expect(hook.effects).to.deep.equal({ TaskStarted: 2, TaskFinished: 1, Signal: 1 });
  });

  it('plays the growth one workflow per step, then is done', async () => {
    const hook = freshHook();
    controller = new LiveController(layoutNetwork([chain, other]), [chain, other], hook);
    const snapshots: (number | undefined)[] = [];
    controller.onSnapshot((s) => snapshots.push(s.growthShown));
    controller.startGrowth(['other', 'chain'], 5);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(hook.growth).to.deep.equal({ state: 'done', shown: 2 });
    expect(snapshots).to.include.members([1, 2]);
  });
});
