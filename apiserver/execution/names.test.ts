import { expect } from 'chai';
import { NameReservations } from './names.ts';
import { StoredNameCheck } from './stored-names.ts';
import type { ExecutionName } from '../../history/store.ts';

describe('NameReservations', () => {
  it('holds a name once per namespace until it is released', () => {
    const names = new NameReservations();
    const first = names.tryReserve('ns', 'a');
    expect(first?.name).to.equal('a');
    expect(names.tryReserve('ns', 'a'), 'the same name is refused while held').to.equal(undefined);
    expect(names.tryReserve('other', 'a'), 'another namespace is independent').to.not.equal(undefined);
    expect(names.isReserved('ns', 'a')).to.equal(true);
    first?.release();
    expect(names.isReserved('ns', 'a')).to.equal(false);
    expect(names.tryReserve('ns', 'a')).to.not.equal(undefined);
  });

  it('ignores a second release, which must not free a name someone else holds now', () => {
    const names = new NameReservations();
    const first = names.tryReserve('ns', 'a');
    first?.release();
    const second = names.tryReserve('ns', 'a');
    first?.release();
    expect(names.isReserved('ns', 'a')).to.equal(true);
    second?.release();
    expect(names.size).to.equal(0);
  });
});

describe('StoredNameCheck', () => {
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
