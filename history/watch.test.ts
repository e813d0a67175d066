import { expect } from 'chai';
import { SyncflowError } from '../core/errors.ts';
import { execution } from '../test/integration/history/fixtures.ts';
import type { ExecutionWatch, WatchEvent } from './store.ts';
import { RecordingLogger } from './testing.ts';
import { WatchHub, type ChangeFeed, type ChangePage, type StoredChange } from './watch.ts';

/** An in-memory change log. */
class FakeFeed implements ChangeFeed {
  readonly changes: StoredChange[] = [];
  compacted = 0;
  failure: Error | undefined;
  reads = 0;

  append(namespace = 'shop'): StoredChange {
    const rv = (this.changes[this.changes.length - 1]?.rv ?? 0) + 1;
    const object = execution({ namespace });
    object.metadata.resourceVersion = String(rv);
    const change = { rv, event: { type: 'ADDED' as const, object } };
    this.changes.push(change);
    return change;
  }

  async readChanges(afterRv: number, limit: number): Promise<ChangePage> {
    this.reads++;
    await Promise.resolve();
    if (this.failure) throw this.failure;
    if (afterRv < this.compacted) throw new SyncflowError('Gone', `too old resource version: ${afterRv}`);
    return {
      changes: this.changes.filter((c) => c.rv > afterRv).slice(0, limit),
      lastRv: this.changes[this.changes.length - 1]?.rv ?? 0,
    };
  }
}

/** Reads `n` events without ending the watch (a `for await` that breaks would close it). */
async function take(watch: ExecutionWatch, n: number): Promise<WatchEvent[]> {
  const iterator = watch[Symbol.asyncIterator]();
  const events: WatchEvent[] = [];
  while (events.length < n) {
    const next = await iterator.next();
    if (next.done) break;
    events.push(next.value);
  }
  return events;
}

const rvs = (events: WatchEvent[]) => events.map((e) => Number(e.object.metadata.resourceVersion));
const all = () => true;

describe('WatchHub', () => {
  let feed: FakeFeed;
  let logger: RecordingLogger;
  let hub: WatchHub;

  beforeEach(() => {
    feed = new FakeFeed();
    logger = new RecordingLogger();
    hub = new WatchHub({ feed, logger, pollIntervalMs: 1, pageSize: 3 });
  });

  afterEach(() => hub.stop());

  it('replays changes after the starting resourceVersion, page by page, then follows new ones', async () => {
    for (let i = 0; i < 7; i++) feed.append();
    const watch = await hub.watch(2, all);
    const replayed = await take(watch, 5);
    feed.append();
    feed.append();
    const followed = await take(watch, 2);
    watch.close();
    expect(rvs(replayed)).to.deep.equal([3, 4, 5, 6, 7]);
    expect(rvs(followed)).to.deep.equal([8, 9]);
  });

  it('lets a late watcher starting further back join the shared loop without gap or repeat', async () => {
    feed.append();
    const early = await hub.watch(0, all);
    for (let i = 0; i < 10; i++) feed.append();
    await take(early, 11);
    const late = await hub.watch(4, all);
    feed.append();
    const events = await take(late, 8);
    early.close();
    late.close();
    expect(rvs(events)).to.deep.equal([5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('delivers only what the filter accepts', async () => {
    const watch = await hub.watch(0, (e) => e.object.metadata.namespace === 'bank');
    feed.append('shop');
    feed.append('bank');
    feed.append('shop');
    feed.append('bank');
    const events = await take(watch, 2);
    watch.close();
    expect(rvs(events)).to.deep.equal([2, 4]);
  });

  it('rejects a start older than the compacted resourceVersion with Gone', async () => {
    for (let i = 0; i < 3; i++) feed.append();
    feed.compacted = 2;
    try {
      await hub.watch(1, all);
      expect.fail('expected Gone');
    } catch (error) {
      expect((error as SyncflowError).code).to.equal('Gone');
    }
  });

  it('rejects a start newer than anything stored', async () => {
    feed.append();
    try {
      await hub.watch(5, all);
      expect.fail('expected BadRequest');
    } catch (error) {
      expect((error as SyncflowError).code).to.equal('BadRequest');
      expect((error as SyncflowError).message).to.contain(
        'resourceVersion: 5 is newer than the newest stored resourceVersion 1',
      );
    }
  });

  it('ends a watch with Gone when its reader falls too far behind', async () => {
    hub = new WatchHub({ feed, logger, pollIntervalMs: 1, pageSize: 3, maxBufferedEvents: 2 });
    const watch = await hub.watch(0, all);
    for (let i = 0; i < 5; i++) feed.append();
    while (hub.size > 0) await new Promise((r) => setTimeout(r, 1));
    try {
      await take(watch, 5);
      expect.fail('expected Gone');
    } catch (error) {
      expect((error as SyncflowError).code).to.equal('Gone');
      expect((error as SyncflowError).message).to.contain('fell more than 2 events behind');
    }
  });

  it('ends every watch with Gone when the shared cursor is compacted away', async () => {
    const watch = await hub.watch(0, all);
    feed.compacted = 5;
    const pending = take(watch, 1);
    try {
      await pending;
      expect.fail('expected Gone');
    } catch (error) {
      expect((error as SyncflowError).code).to.equal('Gone');
    }
  });

  it('keeps polling through database errors, logging the outage once and the recovery', async () => {
    const watch = await hub.watch(0, all);
    feed.failure = new Error('Connection terminated unexpectedly');
    const before = feed.reads;
    while (feed.reads < before + 3) await new Promise((r) => setTimeout(r, 1));
    feed.failure = undefined;
    feed.append();
    const [event] = await take(watch, 1);
    watch.close();
    expect(event?.object.metadata.resourceVersion).to.equal('1');
    expect(logger.at('warn')).to.deep.equal(['history watch polling failed; retrying']);
    expect(logger.at('info')).to.deep.equal(['history watch polling recovered']);
  });

  it('ends iteration when closed, also for a reader waiting for the next event', async () => {
    const watch = await hub.watch(0, all);
    const pending = take(watch, 1);
    watch.close();
    watch.close();
    expect(await pending).to.deep.equal([]);
    expect(hub.size).to.equal(0);
    expect(await watch[Symbol.asyncIterator]().next()).to.deep.equal({ value: undefined, done: true });
  });

  it('refuses new watches once stopped', async () => {
    hub.stop();
    try {
      await hub.watch(0, all);
      expect.fail('expected ServiceUnavailable');
    } catch (error) {
      expect((error as SyncflowError).code).to.equal('ServiceUnavailable');
    }
  });
});
