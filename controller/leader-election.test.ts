import { expect } from 'chai';
import { LeaderElector, type LeaseClient, type LeaseRecord, type StoredLease } from './leader-election.ts';
import { microTime } from '../kube/controller-clients.ts';

/** One Lease with optimistic concurrency, shared by the candidates of a test. */
class FakeLease implements LeaseClient {
  stored: StoredLease | undefined;
  failNext: Error | undefined;
  private version = 0;

  async get() {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    return this.stored && { spec: { ...this.stored.spec }, resourceVersion: this.stored.resourceVersion };
  }
  async create(spec: LeaseRecord) {
    if (this.stored) throw Object.assign(new Error('exists'), { code: 409 });
    return (this.stored = { spec, resourceVersion: String(++this.version) });
  }
  async replace(spec: LeaseRecord, resourceVersion: string) {
    if (!this.stored || this.stored.resourceVersion !== resourceVersion)
      throw Object.assign(new Error('conflict'), { code: 409 });
    return (this.stored = { spec, resourceVersion: String(++this.version) });
  }
}

function candidate(identity: string, lease: LeaseClient, events: string[]) {
  return new LeaderElector({
    identity,
    client: lease,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    onStartedLeading: () => events.push(`${identity} started`),
    onStoppedLeading: () => events.push(`${identity} stopped`),
    onError: (error) => events.push(`${identity} error: ${(error as Error).message}`),
  });
}

describe('LeaderElector', () => {
  let lease: FakeLease;
  let events: string[];
  beforeEach(() => {
    lease = new FakeLease();
    events = [];
  });

  it('creates the Lease and leads when there is none', async () => {
    const a = candidate('a', lease, events);
    expect(await a.step(0)).to.equal(true);
    expect(lease.stored?.spec).to.deep.include({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
    expect(events).to.deep.equal(['a started']);
  });

  it('lets only one of two candidates lead while the holder renews', async () => {
    const a = candidate('a', lease, events);
    const b = candidate('b', lease, events);
    await a.step(0);
    expect(await b.step(1_000)).to.equal(false);
    await a.step(5_000);
    expect(await b.step(16_000)).to.equal(false); // a renewed at 5 s: b saw a change at 16 s
    expect(a.isLeader).to.equal(true);
    expect(events).to.deep.equal(['a started']);
  });

  it('takes over a lease left unrenewed for the lease duration, by its own clock', async () => {
    const a = candidate('a', lease, events);
    const b = candidate('b', lease, events);
    await a.step(0);
    await b.step(1_000); // first sight of a's record
    expect(await b.step(15_999)).to.equal(false);
    expect(await b.step(16_000)).to.equal(true);
    expect(lease.stored?.spec).to.deep.include({ holderIdentity: 'b', leaseTransitions: 1 });
    // a learns it lost at its next round: never two leaders.
    expect(await a.step(17_000)).to.equal(false);
    expect(events).to.deep.equal(['a started', 'b started', 'a stopped']);
  });

  it('keeps leading through an API error shorter than the renew deadline, then steps down', async () => {
    const a = candidate('a', lease, events);
    await a.step(0);
    lease.failNext = new Error('connection refused');
    expect(await a.step(2_000)).to.equal(true);
    lease.failNext = new Error('connection refused');
    expect(await a.step(10_000)).to.equal(false);
    expect(events).to.deep.equal([
      'a started',
      'a error: connection refused',
      'a error: connection refused',
      'a stopped',
    ]);
  });

  it('loses a write race without error (409 from a concurrent candidate)', async () => {
    const a = candidate('a', lease, events);
    await a.step(0);
    const b = candidate('b', lease, events);
    await b.step(1_000);
    const replace = lease.replace.bind(lease);
    lease.replace = async (spec, rv) => {
      lease.replace = replace;
      await replace({ ...lease.stored!.spec, renewTime: 'x' }, lease.stored!.resourceVersion); // a renews in between
      return replace(spec, rv);
    };
    expect(await b.step(20_000)).to.equal(false);
    expect(events).to.deep.equal(['a started']);
  });

  it('releases the lease on stop so another replica takes over at once', async () => {
    const a = candidate('a', lease, events);
    const b = candidate('b', lease, events);
    await a.step(0);
    await a.stop();
    expect(lease.stored?.spec).to.deep.include({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(await b.step(1_000)).to.equal(true);
    expect(events).to.deep.equal(['a started', 'a stopped', 'b started']);
  });

  it('does nothing on stop when it never led', async () => {
    const a = candidate('a', lease, events);
    await a.stop();
    expect(lease.stored).to.equal(undefined);
  });

  it('writes Lease times as MicroTime (six fractional digits), which kube-apiserver requires', () => {
    expect(microTime('2026-11-26T12:07:06.600Z')).to.equal('2026-11-26T12:07:06.600000Z');
    expect(microTime('2026-11-26T12:07:06.600000Z')).to.equal('2026-11-26T12:07:06.600000Z');
    expect(microTime('not a time')).to.equal('not a time');
  });
});
