/**
 * In-flight executions in watches: the tracker turns engine events into Running objects, the hub
 * fans them out by namespace and selectors, and the merge interleaves them with stored changes.
 */
import { expect } from 'chai';
import type { ExecutionEvent } from '../../core/model/events.ts';
import {
  executionObject,
  type ExecutionCreateRequest,
  type WorkflowExecution,
} from '../../core/model/execution.ts';
import type { ExecutionWatch, WatchEvent } from '../../history/store.ts';
import {
  LiveExecutions,
  mergeLiveWatch,
  type LiveChange,
  type MergedEvent,
  type MergedWatch,
} from './live.ts';
import { ExecutionPublisher, LiveBus } from './bus.ts';

const request = (namespace = 'shop', labels: Record<string, string> = {}): ExecutionCreateRequest => ({
  namespace,
  name: 'run-1',
  generateName: undefined,
  labels,
  annotations: {},
  workflowName: 'checkout',
  input: {},
});

let seq = 0;
const at = () => ({ seq: ++seq, time: `2026-12-01T12:00:0${seq % 10}.000Z` });

/** The events of a run of tasks `a` then `b`, ending with `phase`. */
function run(phase: 'Succeeded' | 'Failed' = 'Succeeded'): ExecutionEvent[] {
  return [
    {
      type: 'ExecutionStarted',
      ...at(),
      namespace: 'shop',
      workflow: 'checkout',
      revision: 'r1',
      graph: {
        tasks: [
          { id: 'a', taskRef: 'http-a' },
          { id: 'b', taskRef: 'http-b' },
        ],
        edges: [{ from: 'a', to: 'b' }],
      },
    },
    { type: 'TaskStarted', ...at(), task: 'a', attempt: 1, request: 'GET http://a' },
    {
      type: 'TaskFinished',
      ...at(),
      task: 'a',
      phase: 'Succeeded',
      httpStatus: 200,
      durationMs: 3,
      output: 1,
    },
    { type: 'Signal', ...at(), from: 'a', to: 'b', ready: true },
    { type: 'TaskStarted', ...at(), task: 'b', attempt: 1, request: 'GET http://b' },
    { type: 'TaskFinished', ...at(), task: 'b', phase: 'Succeeded', httpStatus: 200, durationMs: 3 },
    { type: 'ExecutionFinished', ...at(), status: { phase, startTime: '2026-12-01T12:00:00.000Z' } },
  ];
}

let uids = 0;

/** The engine's observer of an execution about to run, as the run path makes it. */
function start(bus: LiveBus, name = 'run-1', labels: Record<string, string> = {}): ExecutionPublisher {
  return new ExecutionPublisher(
    { uid: `uid-${++uids}`, name, request: request('shop', labels), user: 'alice', revision: 'r1' },
    bus,
  );
}

/** Feeds `events` to the publisher; the final one is recorded as the run path does (under `name`). */
function play(publisher: ExecutionPublisher, events: ExecutionEvent[], name = 'run-1'): void {
  for (const event of events) {
    publisher.event(event);
    if (event.type === 'ExecutionFinished') {
      const object = executionObject(request(), name, event.status, event.status.startTime as string);
      object.metadata.uid = publisher.uid;
      publisher.finish(object);
    }
  }
}

/** A stored-history watch the test feeds by hand. */
class FakeStoredWatch implements ExecutionWatch {
  private readonly queue: WatchEvent[] = [];
  private waiting: ((r: IteratorResult<WatchEvent>) => void) | undefined;
  closed = false;
  deliver(event: WatchEvent): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: event, done: false });
    } else this.queue.push(event);
  }
  close(): void {
    this.closed = true;
    this.waiting?.({ value: undefined, done: true });
  }
  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => {
        const event = this.queue.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
    };
  }
}

/** The stored record of a finished execution, as the store's watch delivers it. */
function storedFinal(rv: number, phase = 'Succeeded', name = 'run-1'): WatchEvent {
  return {
    type: 'ADDED',
    object: {
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: { name, namespace: 'shop', resourceVersion: String(rv), labels: {} },
      spec: { workflowRef: { name: 'checkout' }, input: {} },
      status: { phase },
    } as WorkflowExecution,
  };
}

async function take(watch: MergedWatch, n: number): Promise<MergedEvent[]> {
  const iterator = watch[Symbol.asyncIterator]();
  const out: MergedEvent[] = [];
  while (out.length < n) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

const summary = (events: MergedEvent[]) =>
  events.map(
    (e) =>
      `${e.live ? 'live' : 'stored'} ${e.event.type} ${e.event.object.status.phase} ` +
      (e.event.object.status.tasks ?? []).map((t) => `${t.id}:${t.phase}`).join(','),
  );

describe('LiveExecutions', () => {
  let bus: LiveBus;
  let hub: LiveExecutions;
  beforeEach(() => {
    bus = new LiveBus();
    hub = new LiveExecutions(bus);
    seq = 0;
  });

  it('listens on the bus only to the namespaces watched, and not at all once every watch closed', () => {
    expect(bus.listening('shop')).to.equal(false);
    const stop = hub.subscribe({ namespace: 'other' }, () => undefined);
    expect([bus.listening('shop'), bus.listening('other')]).to.deep.equal([false, true]);
    stop();
    stop();
    expect(hub.watching).to.equal(0);
    expect(bus.listening('other')).to.equal(false);
  });

  it('shows each execution once when watches of its namespace and of every namespace are open', () => {
    const changes: LiveChange[] = [];
    hub.subscribe({ namespace: 'shop' }, (c) => changes.push(c));
    hub.subscribe({}, () => undefined);
    play(start(bus), run());
    expect(changes.map((c) => c.kind)).to.deep.equal([...Array(5).fill('progress'), 'finished']);
  });

  it('publishes a Running object whose status.tasks grows as tasks start and finish, then the final status', () => {
    const changes: LiveChange[] = [];
    hub.subscribe({ namespace: 'shop' }, (c) => changes.push(c));
    const publisher = start(bus);
    play(publisher, run());
    expect(
      changes.map(
        (c) =>
          `${c.kind} ${c.object.status.phase} ${(c.object.status.tasks ?? []).map((t) => `${t.id}:${t.phase}`).join(',')}`,
      ),
    ).to.deep.equal([
      'progress Running ',
      'progress Running a:Running',
      'progress Running a:Succeeded',
      'progress Running a:Succeeded,b:Running',
      'progress Running a:Succeeded,b:Succeeded',
      'finished Succeeded ',
    ]);
    const first = changes[1]?.object;
    expect(first?.status.tasks?.[0]).to.include({ taskRef: 'http-a', attempts: 1 });
    expect(first?.metadata).to.include({ name: 'run-1', namespace: 'shop', uid: publisher.uid });
    expect(first?.status).to.include({ user: 'alice', workflowRevision: 'r1' });
    // Objects already handed out are never changed afterwards.
    expect(changes[1]?.object.status.tasks).to.have.length(1);
  });

  it('marks a task whose output a debugger substituted', () => {
    const changes: LiveChange[] = [];
    hub.subscribe({ namespace: 'shop' }, (c) => changes.push(c));
    const events = run();
    const finished = events[2] as Extract<ExecutionEvent, { type: 'TaskFinished' }>;
    events[2] = { ...finished, substituted: true };
    play(start(bus), events);
    expect(changes[2]?.object.status.tasks?.[0]).to.include({
      id: 'a',
      phase: 'Succeeded',
      substituted: true,
    });
    expect(changes[4]?.object.status.tasks?.[1]).to.not.have.property('substituted');
  });

  it('keeps a map step Running through its elements’ TaskFinished: only the step’s own end finishes it', () => {
    const changes: LiveChange[] = [];
    hub.subscribe({ namespace: 'shop' }, (c) => changes.push(c));
    const events = run();
    const element = { ...at(), task: 'a', item: 0, phase: 'Succeeded' as const, durationMs: 1 };
    events.splice(2, 0, { type: 'TaskFinished', ...element });
    play(start(bus), events);
    expect(
      changes.map((c) => (c.object.status.tasks ?? []).map((t) => `${t.id}:${t.phase}`).join(',')),
    ).to.deep.equal(['', 'a:Running', 'a:Succeeded', 'a:Succeeded,b:Running', 'a:Succeeded,b:Succeeded', '']);
  });

  it('sends progress only to watches whose namespace, labels and fields match', () => {
    const seen: Record<string, number> = { all: 0, shop: 0, label: 0, otherLabel: 0, phase: 0, other: 0 };
    const count = (key: string) => () => seen[key]!++;
    hub.subscribe({}, count('all'));
    hub.subscribe({ namespace: 'shop' }, count('shop'));
    hub.subscribe({ namespace: 'shop', labelSelector: 'team=pay' }, count('label'));
    hub.subscribe({ namespace: 'shop', labelSelector: 'team=ops' }, count('otherLabel'));
    hub.subscribe({ namespace: 'shop', fieldSelector: 'status.phase=Succeeded' }, count('phase'));
    hub.subscribe({ namespace: 'other' }, count('other'));
    play(start(bus, 'run-1', { team: 'pay' }), run());
    // Five progress objects and the final notice; selectors other than namespace get only the notice.
    expect(seen).to.deep.equal({ all: 6, shop: 6, label: 6, otherLabel: 1, phase: 1, other: 0 });
  });
});

describe('mergeLiveWatch', () => {
  let bus: LiveBus;
  let hub: LiveExecutions;
  let stored: FakeStoredWatch;
  beforeEach(() => {
    bus = new LiveBus();
    hub = new LiveExecutions(bus);
    stored = new FakeStoredWatch();
    seq = 0;
  });

  it('shows an execution ADDED Running, MODIFIED per task, and MODIFIED with the stored final state', async () => {
    const watch = mergeLiveWatch(stored, { live: hub, filter: { namespace: 'shop' } });
    play(start(bus), run());
    stored.deliver(storedFinal(7));
    expect(summary(await take(watch, 6))).to.deep.equal([
      'live ADDED Running ',
      'live MODIFIED Running a:Running',
      'live MODIFIED Running a:Succeeded',
      'live MODIFIED Running a:Succeeded,b:Running',
      'live MODIFIED Running a:Succeeded,b:Succeeded',
      'stored MODIFIED Succeeded ',
    ]);
    // Stored changes of executions it did not show live pass unchanged.
    stored.deliver(storedFinal(8, 'Succeeded', 'run-2'));
    expect(summary(await take(watch, 1))).to.deep.equal(['stored ADDED Succeeded ']);
    watch.close();
    expect(stored.closed).to.equal(true);
    expect(hub.watching).to.equal(0);
  });

  it('a watch opened mid-run is shown the execution as ADDED with the tasks so far', async () => {
    // Another watch of the namespace was open when the execution started.
    hub.subscribe({ namespace: 'shop' }, () => undefined);
    const publisher = start(bus);
    const events = run();
    play(publisher, events.slice(0, 2));
    const watch = mergeLiveWatch(stored, { live: hub, filter: { namespace: 'shop' } });
    play(publisher, events.slice(2));
    expect(summary(await take(watch, 1))).to.deep.equal(['live ADDED Running a:Succeeded']);
  });

  it('ends with DELETED an execution it showed whose final state no longer matches the selector', async () => {
    const watch = mergeLiveWatch(stored, {
      live: hub,
      filter: { namespace: 'shop', fieldSelector: 'status.phase=Running' },
    });
    play(start(bus), run('Failed'));
    const events = await take(watch, 6);
    expect(summary(events).slice(-1)).to.deep.equal(['live DELETED Failed ']);
  });

  it('ends with DELETED an execution abandoned under the name it showed', async () => {
    const watch = mergeLiveWatch(stored, { live: hub, filter: { namespace: 'shop' } });
    const publisher = start(bus);
    play(publisher, run().slice(0, 2));
    publisher.abandon();
    publisher.abandon();
    const out = await take(watch, 3);
    expect(out.map((e) => `${e.event.type} ${e.event.object.metadata.name}`)).to.deep.equal([
      'ADDED run-1',
      'MODIFIED run-1',
      'DELETED run-1',
    ]);
  });

  it('ends with DELETED the name it showed of an execution recorded under another, then shows the record', async () => {
    const watch = mergeLiveWatch(stored, { live: hub, filter: { namespace: 'shop' } });
    play(start(bus), run(), 'run-2');
    stored.deliver(storedFinal(7, 'Succeeded', 'run-2'));
    const out = await take(watch, 7);
    expect(out.slice(-2).map((e) => `${e.event.type} ${e.event.object.metadata.name}`)).to.deep.equal([
      'DELETED run-1',
      'ADDED run-2',
    ]);
  });

  it('drops live changes beyond its buffer but never a stored change', async () => {
    const watch = mergeLiveWatch(stored, { live: hub, filter: { namespace: 'shop' }, maxBufferedLive: 2 });
    play(start(bus), run());
    stored.deliver(storedFinal(7));
    expect(summary(await take(watch, 3))).to.deep.equal([
      'live ADDED Running ',
      'live MODIFIED Running a:Running',
      'stored MODIFIED Succeeded ',
    ]);
  });

  it('delivers what it holds, then the stored watch failure', async () => {
    const failing: ExecutionWatch = {
      close: () => undefined,
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('Gone')) }),
    };
    const watch = mergeLiveWatch(failing, { live: hub, filter: {} });
    let error: unknown;
    try {
      await take(watch, 1);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.equal('Gone');
  });

  it('ends when the stored watch ends', async () => {
    const watch = mergeLiveWatch(stored, { live: hub, filter: {} });
    stored.close();
    expect(await take(watch, 1)).to.deep.equal([]);
    await watch[Symbol.asyncIterator]().return?.();
    expect(hub.watching).to.equal(0);
  });
});
