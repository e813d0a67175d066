import { expect } from 'chai';
import { TtlCache } from './ttl-cache.ts';

describe('TtlCache', () => {
  let time: number;
  const now = (): number => time;
  beforeEach(() => {
    time = 0;
  });

  it('expires an entry after its TTL', () => {
    const cache = new TtlCache<string>({ maxEntries: 10, now });
    cache.set('a', 'x', 100);
    time = 99;
    expect(cache.get('a')).to.equal('x');
    time = 100;
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.size).to.equal(0);
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new TtlCache<number>({ maxEntries: 2, now });
    cache.set('a', 1, 1000);
    cache.set('b', 2, 1000);
    cache.get('a');
    cache.set('c', 3, 1000);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).to.deep.equal([1, undefined, 3]);
  });

  it('stores nothing for a TTL of zero', () => {
    const cache = new TtlCache<number>({ maxEntries: 2, now });
    cache.set('a', 1, 1000);
    cache.set('a', 2, 0);
    expect(cache.get('a')).to.equal(undefined);
  });

  it('rejects a size below one', () => {
    expect(() => new TtlCache({ maxEntries: 0, now })).to.throw(RangeError);
  });

  it('shares one load among concurrent callers and does not cache a failure', async () => {
    const cache = new TtlCache<number>({ maxEntries: 2, now });
    let loads = 0;
    const failing = (): Promise<number> => {
      loads++;
      return Promise.reject(new Error('down'));
    };
    const results = await Promise.allSettled([
      cache.getOrLoad('k', failing, () => 10),
      cache.getOrLoad('k', failing, () => 10),
    ]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    expect(loads).to.equal(1);
    expect(
      await cache.getOrLoad(
        'k',
        async () => 7,
        () => 10,
      ),
    ).to.deep.equal({ value: 7, hit: false });
    expect(
      await cache.getOrLoad(
        'k',
        async () => 8,
        () => 10,
      ),
    ).to.deep.equal({ value: 7, hit: true });
  });
});
