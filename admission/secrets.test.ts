import { expect } from 'chai';
import { CachedSecretDirectory, checkSecrets, type SecretDirectory } from './secrets.ts';

/** Secrets of one namespace by name, counting reads. */
class CountingDirectory implements SecretDirectory {
  reads: string[] = [];
  constructor(public secrets: Record<string, string[]>) {}
  async keysOf(_namespace: string, name: string) {
    this.reads.push(name);
    return this.secrets[name];
  }
}

const reader = (index: number, name: string, secretNames: string[]) => ({
  index,
  task: { name, secrets: secretNames.map((secretName) => ({ name: 'token', secretName, key: 'token' })) },
});

describe('checkSecrets', () => {
  it('reads each Secret once however many tasks read it, and reports each task that lacks it', async () => {
    const directory = new CountingDirectory({ present: ['token'] });
    const result = await checkSecrets(directory, 'shop', [
      reader(0, 'a', ['present', 'absent']),
      reader(1, 'b', ['absent']),
    ]);
    expect(directory.reads.sort()).to.deep.equal(['absent', 'present']);
    expect(result.errors.map((e) => `${e.field} ${e.code}`)).to.deep.equal([
      'spec.tasks[0].taskRef.name UnknownSecret',
      'spec.tasks[1].taskRef.name UnknownSecret',
    ]);
    expect(result.warnings).to.deep.equal([]);
  });
});

describe('CachedSecretDirectory', () => {
  it('remembers a Secret found until the TTL passes', async () => {
    let now = 0;
    const directory = new CountingDirectory({ s: ['token'] });
    const cached = new CachedSecretDirectory(directory, { ttlMs: 10_000, now: () => now });
    expect(await cached.keysOf('shop', 's')).to.deep.equal(['token']);
    now = 9_999;
    await cached.keysOf('shop', 's');
    expect(directory.reads).to.deep.equal(['s']);
    now = 10_000;
    await cached.keysOf('shop', 's');
    expect(directory.reads).to.deep.equal(['s', 's']);
  });

  it('never remembers absence: a Secret created a moment later is seen at once', async () => {
    const directory = new CountingDirectory({});
    const cached = new CachedSecretDirectory(directory, { now: () => 0 });
    expect(await cached.keysOf('shop', 'late')).to.equal(undefined);
    directory.secrets.late = ['token'];
    expect(await cached.keysOf('shop', 'late')).to.deep.equal(['token']);
  });

  it('keeps namespaces apart and stays bounded', async () => {
    const directory = new CountingDirectory({ s: ['token'] });
    const cached = new CachedSecretDirectory(directory, { now: () => 0, maxEntries: 1 });
    await cached.keysOf('a', 's');
    await cached.keysOf('b', 's');
    await cached.keysOf('a', 's');
    expect(directory.reads).to.deep.equal(['s', 's', 's']);
  });

  it('when full, forgets the least recently used Secret, not every Secret', async () => {
    const directory = new CountingDirectory({ a: ['token'], b: ['token'], c: ['token'] });
    const cached = new CachedSecretDirectory(directory, { now: () => 0, maxEntries: 2 });
    for (const name of ['a', 'b', 'a', 'c', 'a']) await cached.keysOf('shop', name);
    expect(directory.reads).to.deep.equal(['a', 'b', 'c']);
  });
});
