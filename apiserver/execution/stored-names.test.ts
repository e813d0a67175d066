import { expect } from 'chai';
import type { ExecutionName } from '../../history/store.ts';
import { StoredNameCheck } from './stored-names.ts';

/** A store lookup that answers when told to, recording each query's names. */
class GatedLookup {
  readonly queries: ExecutionName[][] = [];
  stored = new Set<string>();
  failure: Error | undefined;
  private answers: (() => void)[] = [];
  readonly lookup = (names: readonly ExecutionName[]): Promise<Set<string>> => {
    this.queries.push([...names]);
    return new Promise((resolve, reject) =>
      this.answers.push(() => (this.failure ? reject(this.failure) : resolve(new Set(this.stored)))),
    );
  };
  answer(): void {
    for (const answer of this.answers.splice(0)) answer();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Draws `prefix` + a counter: every name distinct and predictable. */
function counterDraw(): (prefix: string) => string {
  let n = 0;
  return (prefix) => `${prefix}${String(++n).padStart(5, '0')}`;
}

describe('StoredNameCheck', () => {
  it('asks at once when idle and batches the questions asked while a query is in flight', async () => {
    const store = new GatedLookup();
    store.stored.add('ns/b');
    const check = new StoredNameCheck(store.lookup, { maxBatch: 2 });
    const a = check.isStored('ns', 'a');
    const b = check.isStored('ns', 'b');
    const c = check.isStored('ns', 'c');
    const d = check.isStored('other', 'b');
    expect(store.queries).to.deep.equal([[{ namespace: 'ns', name: 'a' }]]);
    store.answer();
    expect(await a).to.equal(false);
    await tick();
    expect(store.queries[1], 'the next query takes at most maxBatch names').to.deep.equal([
      { namespace: 'ns', name: 'b' },
      { namespace: 'ns', name: 'c' },
    ]);
    store.answer();
    expect([await b, await c]).to.deep.equal([true, false]);
    await tick();
    store.answer();
    expect(await d).to.equal(false);
  });

  it('rejects every question of a failed query and keeps answering later ones', async () => {
    const store = new GatedLookup();
    const check = new StoredNameCheck(store.lookup);
    store.failure = new Error('connection refused');
    const a = check.isStored('ns', 'a');
    store.answer();
    expect(await a.catch((error: Error) => error.message)).to.equal('connection refused');
    store.failure = undefined;
    const b = check.isStored('ns', 'b');
    await tick();
    store.answer();
    expect(await b).to.equal(false);
  });
});

describe('StoredNameCheck names checked ahead', () => {
  let store: GatedLookup;
  let clock: number;
  const check = (options: { poolSize?: number; busyPerSecond?: number; maxAgeMs?: number } = {}) =>
    new StoredNameCheck(store.lookup, {
      draw: counterDraw(),
      now: () => clock,
      busyPerSecond: 4,
      poolSize: 8,
      ...options,
    });

  beforeEach(() => {
    store = new GatedLookup();
    clock = 1_000;
  });

  /** Draws a name and asks about it, as the execution service does; resolves to [name, stored]. */
  async function create(names: StoredNameCheck, prefix = 'g-'): Promise<[string, boolean]> {
    const name = names.draw('ns', prefix);
    const stored = names.isStored('ns', name);
    await tick();
    store.answer();
    return [name, await stored];
  }

  it('asks the store about every name of a quiet prefix, as it is drawn', async () => {
    const names = check();
    for (let i = 0; i < 3; i++) await create(names);
    expect(store.queries.map((q) => q.map((n) => n.name))).to.deep.equal([
      ['g-00001'],
      ['g-00002'],
      ['g-00003'],
    ]);
  });

  it('checks names of a busy prefix ahead in one query and answers for them without asking again', async () => {
    const names = check();
    for (let i = 0; i < 4; i++) await create(names);
    // The fourth draw in a second made the prefix busy: its query carried names checked ahead.
    expect(store.queries).to.have.length(4);
    expect(store.queries[3]?.length).to.be.greaterThan(1);
    const ahead = (store.queries[3] ?? []).slice(1).map((n) => n.name);
    const served: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [name, stored] = await create(names);
      expect(stored).to.equal(false);
      served.push(name);
    }
    expect(store.queries, 'no query for names checked ahead').to.have.length(4);
    expect(ahead).to.include.members(served);
  });

  it('never hands out a name checked ahead that the store has', async () => {
    const names = check();
    for (let i = 0; i < 3; i++) await create(names);
    // The next query checks the drawn name and ahead: mark all of those as stored but one.
    const drawn = names.draw('ns', 'g-');
    const asked = names.isStored('ns', drawn);
    await tick();
    const query = (store.queries[3] ?? []).map((n) => `ns/${n.name}`);
    const free = query[query.length - 1] as string;
    for (const key of query) if (key !== free) store.stored.add(key);
    store.answer();
    expect(await asked).to.equal(true);
    const [name, stored] = await create(names);
    expect(`ns/${name}`).to.equal(free);
    expect(stored).to.equal(false);
    // Asked once, ahead; the pool ran low, so a new query checks more names ahead, not this one.
    expect(
      store.queries
        .slice(4)
        .flat()
        .map((n) => `ns/${n.name}`),
    ).to.not.include(free);
  });

  it('asks again about a name checked longer ago than maxAgeMs', async () => {
    const names = check({ maxAgeMs: 500 });
    for (let i = 0; i < 4; i++) await create(names);
    const queries = store.queries.length;
    clock += 501;
    const [name] = await create(names);
    expect(store.queries.length).to.equal(queries + 1);
    expect(store.queries[queries]?.[0]?.name).to.equal(name);
  });

  it('keeps checking ahead for a prefix that was busy in the previous second', async () => {
    const names = check({ maxAgeMs: 500 });
    for (let i = 0; i < 4; i++) await create(names);
    clock += 1_000;
    const queries = store.queries.length;
    await create(names);
    expect(store.queries.length).to.equal(queries + 1);
    expect(store.queries[queries]?.length, 'names checked ahead with the drawn one').to.be.greaterThan(1);
  });

  it('answers once for a name checked ahead: asked again, the store is asked', async () => {
    const names = check();
    for (let i = 0; i < 4; i++) await create(names);
    const [name] = await create(names);
    const queries = store.queries.length;
    const again = names.isStored('ns', name);
    await tick();
    store.answer();
    expect(await again).to.equal(false);
    expect(store.queries.length).to.equal(queries + 1);
  });

  it('checks nothing ahead when the store cannot answer, and reports that on the drawn name', async () => {
    const names = check();
    for (let i = 0; i < 3; i++) await create(names);
    store.failure = new Error('connection refused');
    const drawn = names.draw('ns', 'g-');
    const asked = names.isStored('ns', drawn).catch((error: Error) => error.message);
    await tick();
    store.answer();
    expect(await asked).to.equal('connection refused');
    store.failure = undefined;
    const before = store.queries.length;
    await create(names);
    expect(store.queries.length, 'nothing was checked ahead').to.equal(before + 1);
  });

  it('keeps the pools of namespaces and prefixes apart', async () => {
    const names = check();
    for (let i = 0; i < 4; i++) await create(names);
    const other = names.draw('ns', 'h-');
    expect(other.startsWith('h-')).to.equal(true);
    const asked = names.isStored('ns', other);
    await tick();
    store.answer();
    expect(await asked).to.equal(false);
    expect(store.queries[store.queries.length - 1]?.[0]?.name).to.equal(other);
  });
});
