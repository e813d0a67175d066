import { expect } from 'chai';
import type { SecretReader } from '../core/secrets.ts';
import { CachedSecrets, StaticSecrets } from './secret-resolver.ts';

describe('CachedSecrets', () => {
  it('reads Secrets of the resolver namespace only, caches them for the TTL, and decodes values', async () => {
    const reads: string[] = [];
    const reader: SecretReader = {
      read: async (namespace, name) => {
        reads.push(`${namespace}/${name}`);
        return name === 'api' ? { token: Buffer.from('s3cr3t').toString('base64') } : undefined;
      },
    };
    let now = 0;
    const secrets = new CachedSecrets(reader, { ttlMs: 1000, now: () => now });
    const shop = secrets.forNamespace('shop');
    // A reference naming another namespace still reads the resolver's own namespace.
    expect(await shop.resolve({ namespace: 'kube-system', secretName: 'api', key: 'token' })).to.equal(
      's3cr3t',
    );
    expect(await shop.resolve({ namespace: 'shop', secretName: 'api', key: 'missing' })).to.equal(undefined);
    expect(await shop.resolve({ namespace: 'shop', secretName: 'absent', key: 'token' })).to.equal(undefined);
    expect(reads).to.deep.equal(['shop/api', 'shop/absent']);
    now = 2000;
    await shop.resolve({ namespace: 'shop', secretName: 'api', key: 'token' });
    expect(reads).to.deep.equal(['shop/api', 'shop/absent', 'shop/api']);
  });

  it('when full, forgets the least recently used Secret, not every Secret', async () => {
    const reads: string[] = [];
    const reader: SecretReader = {
      read: async (_namespace, name) => {
        reads.push(name);
        return { k: Buffer.from(name).toString('base64') };
      },
    };
    const resolver = new CachedSecrets(reader, { now: () => 0, maxEntries: 2 }).forNamespace('shop');
    for (const name of ['a', 'b', 'a', 'c', 'a']) {
      expect(await resolver.resolve({ namespace: 'shop', secretName: name, key: 'k' })).to.equal(name);
    }
    expect(reads).to.deep.equal(['a', 'b', 'c']);
  });

  it('does not cache failures', async () => {
    let calls = 0;
    const secrets = new CachedSecrets({
      read: async () => {
        calls++;
        if (calls === 1) throw new Error('API down');
        return { k: Buffer.from('v').toString('base64') };
      },
    });
    const resolver = secrets.forNamespace('shop');
    let failed = false;
    await Promise.resolve(resolver.resolve({ namespace: 'shop', secretName: 's', key: 'k' })).catch(
      () => (failed = true),
    );
    expect(failed).to.equal(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await resolver.resolve({ namespace: 'shop', secretName: 's', key: 'k' })).to.equal('v');
  });

  it('serves fixed values for the local CLI', async () => {
    const secrets = new StaticSecrets(
      new Map([
        ['api/token', 'a'],
        ['whole', 'b'],
      ]),
    );
    const resolver = secrets.forNamespace();
    expect(await resolver.resolve({ namespace: 'x', secretName: 'api', key: 'token' })).to.equal('a');
    expect(await resolver.resolve({ namespace: 'x', secretName: 'whole', key: 'any' })).to.equal('b');
  });
});
