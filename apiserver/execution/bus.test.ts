/**
 * The live bus: delivers each execution's messages to the listeners whose filter selects it, on this
 * replica and through the transport on the others, and publishes nothing anywhere while nobody
 * listens. The publisher replaces the engine's ExecutionFinished with the recorded object.
 */
import { expect } from 'chai';
import type { ExecutionEvent } from '../../core/model/events.ts';
import { executionObject, type ExecutionCreateRequest } from '../../core/model/execution.ts';
import { ExecutionPublisher, LiveBus, type LiveMessage, type LiveTransport } from './bus.ts';

const request = (namespace: string, workflowName = 'checkout', labels = {}): ExecutionCreateRequest => ({
  namespace,
  name: 'run-1',
  generateName: undefined,
  labels,
  annotations: {},
  workflowName,
  input: {},
});

const ref = (namespace = 'shop', workflowName = 'checkout', labels = {}) => ({
  uid: 'u1',
  name: 'run-1',
  request: request(namespace, workflowName, labels),
  user: 'alice',
  revision: 'r1',
});

const started = (namespace = 'shop', workflowName = 'checkout', labels = {}): LiveMessage => ({
  kind: 'event',
  execution: ref(namespace, workflowName, labels),
  event: { type: 'TaskStarted', seq: 2, time: 't', task: 'a', attempt: 1, request: 'GET http://a' },
});

/** A transport whose other replicas listen to the namespaces the test says. */
class FakeTransport implements LiveTransport {
  remote = new Set<string>();
  sent: LiveMessage[] = [];
  interests: string[][] = [];
  handler: ((message: LiveMessage) => void) | undefined;
  remoteListening(namespace: string): boolean {
    return this.remote.has(namespace);
  }
  interest(namespaces: ReadonlySet<string>): void {
    this.interests.push([...namespaces].sort());
  }
  send(message: LiveMessage): void {
    this.sent.push(message);
  }
  receive(handler: (message: LiveMessage) => void): void {
    this.handler = handler;
  }
}

describe('LiveBus', () => {
  it('delivers to listeners of the namespace, of every namespace, of the workflow and of matching labels only', () => {
    const bus = new LiveBus();
    const seen: Record<string, number> = {
      ns: 0,
      all: 0,
      wf: 0,
      otherWf: 0,
      label: 0,
      otherLabel: 0,
      otherNs: 0,
    };
    const count = (key: string) => () => seen[key]!++;
    bus.subscribe({ namespace: 'shop' }, count('ns'));
    bus.subscribe({}, count('all'));
    bus.subscribe({ namespace: 'shop', workflow: 'checkout' }, count('wf'));
    bus.subscribe({ namespace: 'shop', workflow: 'refund' }, count('otherWf'));
    bus.subscribe({ namespace: 'shop', labelSelector: 'team in (pay,ops)' }, count('label'));
    bus.subscribe({ namespace: 'shop', labelSelector: 'team=ops' }, count('otherLabel'));
    bus.subscribe({ namespace: 'other' }, count('otherNs'));
    bus.publish(started('shop', 'checkout', { team: 'pay' }));
    expect(seen).to.deep.equal({ ns: 1, all: 1, wf: 1, otherWf: 0, label: 1, otherLabel: 0, otherNs: 0 });
  });

  it('refuses a label selector that does not parse, naming labelSelector', () => {
    expect(() => new LiveBus().subscribe({ labelSelector: 'a in (' }, () => undefined)).to.throw(
      /labelSelector/,
    );
  });

  it('listens to a namespace while a listener of it, or of every namespace, is subscribed here', () => {
    const bus = new LiveBus();
    expect(bus.listening('shop')).to.equal(false);
    const stop = bus.subscribe({ namespace: 'shop' }, () => undefined);
    expect([bus.listening('shop'), bus.listening('other')]).to.deep.equal([true, false]);
    const stopAll = bus.subscribe({}, () => undefined);
    expect(bus.listening('other')).to.equal(true);
    stop();
    stop();
    stopAll();
    expect(bus.listening('shop')).to.equal(false);
  });

  it('tells the transport the namespaces listened to here as they change, and only then', () => {
    const transport = new FakeTransport();
    const bus = new LiveBus(transport);
    const a = bus.subscribe({ namespace: 'shop' }, () => undefined);
    const b = bus.subscribe({ namespace: 'shop' }, () => undefined);
    const c = bus.subscribe({}, () => undefined);
    a();
    b();
    c();
    expect(transport.interests).to.deep.equal([['shop'], ['', 'shop'], [''], []]);
  });

  it('sends to the other replicas only messages of namespaces some other replica listens to', () => {
    const transport = new FakeTransport();
    const bus = new LiveBus(transport);
    bus.publish(started('shop'));
    expect(transport.sent).to.have.length(0);
    transport.remote.add('shop');
    expect(bus.listening('shop')).to.equal(true);
    bus.publish(started('shop'));
    bus.publish(started('other'));
    expect(transport.sent.map((m) => m.execution.request.namespace)).to.deep.equal(['shop']);
  });

  it("delivers the other replicas' messages to the listeners here, without sending them back", () => {
    const transport = new FakeTransport();
    transport.remote.add('shop');
    const bus = new LiveBus(transport);
    const seen: LiveMessage[] = [];
    bus.subscribe({ namespace: 'shop' }, (m) => seen.push(m));
    transport.handler?.(started('shop'));
    expect(seen).to.have.length(1);
    expect(transport.sent).to.have.length(0);
  });
});

describe('ExecutionPublisher', () => {
  const events: ExecutionEvent[] = [
    { type: 'TaskStarted', seq: 1, time: 't1', task: 'a', attempt: 1, request: 'GET http://a' },
    { type: 'ExecutionFinished', seq: 2, time: 't2', status: { phase: 'Succeeded' } },
  ];
  const recorded = (name: string) => {
    const object = executionObject(request('shop'), name, { phase: 'Succeeded' }, '2026-12-01T12:00:00Z');
    object.metadata.uid = 'u1';
    return object;
  };

  it("holds the engine's ExecutionFinished back and ends with the recorded object at its seq and time", () => {
    const bus = new LiveBus();
    const seen: LiveMessage[] = [];
    bus.subscribe({}, (m) => seen.push(m));
    const publisher = new ExecutionPublisher(ref(), bus);
    for (const event of events) publisher.event(event);
    expect(seen.map((m) => m.kind)).to.deep.equal(['event']);
    publisher.finish(recorded('run-1'));
    expect(seen[1]).to.deep.include({ kind: 'finished', seq: 2, time: 't2' });
    expect(seen[1]?.kind === 'finished' && seen[1].object.metadata.name).to.equal('run-1');
    expect(publisher.uid).to.equal('u1');
  });

  it('gives the caller that follows the execution every message even when nobody listens on the bus', () => {
    const followed: LiveMessage[] = [];
    const publisher = new ExecutionPublisher(ref(), undefined, (m) => followed.push(m));
    for (const event of events) publisher.event(event);
    publisher.finish(recorded('run-1'));
    expect(followed.map((m) => m.kind)).to.deep.equal(['event', 'finished']);
  });

  it('says gone for the published name before finishing under another name', () => {
    const followed: LiveMessage[] = [];
    const publisher = new ExecutionPublisher(ref(), undefined, (m) => followed.push(m));
    publisher.event(events[0]!);
    publisher.finish(recorded('run-2'));
    expect(followed.map((m) => `${m.kind} ${m.execution.name}`)).to.deep.equal([
      'event run-1',
      'gone run-1',
      'finished run-2',
    ]);
  });

  it('numbers the final message after the last event when the engine sent no ExecutionFinished', () => {
    const followed: LiveMessage[] = [];
    const publisher = new ExecutionPublisher(ref(), undefined, (m) => followed.push(m));
    publisher.event(events[0]!);
    publisher.finish(recorded('run-1'));
    expect(followed[1]).to.deep.include({ kind: 'finished', seq: 2 });
  });

  it('says gone only for an execution it published something of', () => {
    const followed: LiveMessage[] = [];
    const publisher = new ExecutionPublisher(ref(), undefined, (m) => followed.push(m));
    publisher.abandon();
    expect(followed).to.deep.equal([]);
  });
});
