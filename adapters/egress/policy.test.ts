import { expect } from 'chai';
import type { LookupAddress } from 'node:dns';
import { SyncflowError } from '../../core/errors.ts';
import { EgressPolicy, systemResolver, type HostResolver } from './policy.ts';

const resolverOf = (table: Record<string, string[]>): HostResolver => ({
  resolve: async (host) =>
    (table[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
});

describe('EgressPolicy', () => {
  const defaults = new EgressPolicy();
  const scenarios: Array<[string, boolean]> = [
    ['http://10.0.0.5/', true],
    ['http://users.shop.svc:8080/u', true],
    ['https://api.example.com/', true],
    ['http://127.0.0.1/', false],
    ['http://2130706433/', false],
    ['http://0x7f.1/', false],
    ['http://[::1]/', false],
    ['http://[::ffff:127.0.0.1]/', false],
    ['http://localhost:80/', false],
    ['http://app.localhost/', false],
    ['http://169.254.169.254/latest/meta-data', false],
    ['http://0xa9fea9fe/', false],
    ['http://[::ffff:169.254.169.254]/', false],
    ['http://[fd00:ec2::254]/', false],
    ['http://100.100.100.200/', false],
    ['http://[fe80::1]/', false],
    ['http://0.0.0.0/', false],
    ['http://224.0.0.1/', false],
    ['ftp://example.com/', false],
    ['file:///etc/passwd', false],
  ];
  for (const [url, allowed] of scenarios) {
    it(`${allowed ? 'allows' : 'denies'} ${url} by default`, () => {
      expect(defaults.checkUrl(new URL(url)).allowed).to.equal(allowed);
    });
  }

  it('gives a readable reason', () => {
    expect(defaults.checkUrl(new URL('http://169.254.169.254/'))).to.deep.equal({
      allowed: false,
      reason: '169.254.169.254 is the cloud metadata address',
    });
  });

  it('allows loopback only when asked to, and never the metadata address', () => {
    const local = new EgressPolicy({ allowLoopback: true });
    expect(local.checkUrl(new URL('http://127.0.0.1:8080/')).allowed).to.equal(true);
    expect(local.checkUrl(new URL('http://[::1]/')).allowed).to.equal(true);
    expect(local.checkUrl(new URL('http://169.254.169.254/')).allowed).to.equal(false);
  });

  it('applies CIDR allow lists as allow-only and deny lists as overriding', () => {
    const policy = new EgressPolicy({
      allowCidrs: ['10.0.0.0/8', '127.0.0.1/32'],
      denyCidrs: ['10.9.0.0/16'],
    });
    expect(policy.checkUrl(new URL('http://10.1.2.3/')).allowed).to.equal(true);
    expect(
      policy.checkUrl(new URL('http://127.0.0.1/')).allowed,
      'loopback needs allowLoopback, not an allow block',
    ).to.equal(false);
    expect(policy.checkUrl(new URL('http://10.9.1.1/'))).to.deep.equal({
      allowed: false,
      reason: '10.9.1.1 is in the denied block 10.9.0.0/16',
    });
    expect(policy.checkUrl(new URL('http://8.8.8.8/')).allowed).to.equal(false);
    expect(
      policy.checkUrl(new URL('http://[::ffff:10.9.0.1]/')).allowed,
      'mapped form of a denied address',
    ).to.equal(false);
  });

  it('never lets an allow block override the metadata, link-local and other always-refused addresses', () => {
    const policy = new EgressPolicy({
      allowCidrs: ['0.0.0.0/0', '::/0', '169.254.169.254/32', '169.254.0.0/16'],
    });
    const refused = [
      ['http://169.254.169.254/', 'the cloud metadata address'],
      ['http://[fd00:ec2::254]/', 'the cloud metadata address'],
      ['http://100.100.100.200/', 'the cloud metadata address'],
      ['http://169.254.1.1/', 'a link-local address'],
      ['http://[fe80::1]/', 'a link-local address'],
      ['http://[::ffff:169.254.169.254]/', 'the cloud metadata address'],
      ['http://0.0.0.0/', 'a "this network" address'],
      ['http://224.0.0.1/', 'a multicast address'],
      ['http://127.0.0.1/', 'a loopback address'],
    ] as const;
    for (const [url, why] of refused) {
      const decision = policy.checkUrl(new URL(url));
      expect(decision.allowed, url).to.equal(false);
      expect((decision as { reason: string }).reason, url).to.contain(why);
    }
    expect(policy.checkUrl(new URL('http://10.1.2.3/')).allowed).to.equal(true);
    expect(
      new EgressPolicy({ allowCidrs: ['127.0.0.0/8'], allowLoopback: true }).checkUrl(
        new URL('http://127.0.0.1/'),
      ).allowed,
    ).to.equal(true);
  });

  it('applies host allow and deny lists with subdomain patterns', () => {
    const policy = new EgressPolicy({
      allowHosts: ['*.svc.cluster.local', 'api.example.com'],
      denyHosts: ['secret.svc.cluster.local'],
    });
    expect(policy.checkUrl(new URL('http://users.shop.svc.cluster.local/')).allowed).to.equal(true);
    expect(policy.checkUrl(new URL('http://API.example.com./')).allowed).to.equal(true);
    expect(policy.checkUrl(new URL('http://secret.svc.cluster.local/')).allowed).to.equal(false);
    expect(policy.checkUrl(new URL('http://evil.com/')).allowed).to.equal(false);
  });

  it('rejects invalid options with every bad entry', () => {
    try {
      new EgressPolicy({ allowCidrs: ['10.0.0.0/99'], denyCidrs: ['nope'], maxRedirects: -1 });
      expect.fail('should throw');
    } catch (error) {
      expect(error).to.be.instanceOf(SyncflowError);
      expect((error as SyncflowError).causes.map((c) => c.field)).to.deep.equal([
        'allowCidrs[0]',
        'denyCidrs[0]',
        'maxRedirects',
      ]);
    }
  });

  it('resolves names and denies a host when any of its addresses is denied', async () => {
    const policy = new EgressPolicy(
      {},
      resolverOf({ ok: ['10.0.0.1', 'fd00::1'], mixed: ['10.0.0.1', '127.0.0.1'], none: [], odd: ['x'] }),
    );
    expect((await policy.resolve('ok')).length).to.equal(2);
    for (const host of ['mixed', 'none', 'odd']) {
      try {
        await policy.resolve(host);
        expect.fail(host);
      } catch (error) {
        expect((error as SyncflowError).code, host).to.equal('EgressDenied');
      }
    }
  });

  it('provides a socket lookup that answers single, all and family-filtered queries', async () => {
    const policy = new EgressPolicy(
      {},
      resolverOf({ dual: ['10.0.0.1', 'fd00::1'], bad: ['169.254.169.254'] }),
    );
    const call = (host: string, options: { all?: boolean; family?: number }) =>
      new Promise<{ error: Error | null; address: string | LookupAddress[]; family?: number }>((resolve) =>
        policy.lookup(host, options, (error, address, family) => resolve({ error, address, family })),
      );
    expect(await call('dual', {})).to.deep.equal({ error: null, address: '10.0.0.1', family: 4 });
    expect((await call('dual', { all: true })).address).to.deep.equal([
      { address: '10.0.0.1', family: 4 },
      { address: 'fd00::1', family: 6 },
    ]);
    expect(await call('dual', { family: 6 })).to.deep.include({ address: 'fd00::1', family: 6 });
    expect((await call('bad', {})).error).to.be.instanceOf(SyncflowError);
    const onlyV4 = new EgressPolicy({}, resolverOf({ v4: ['10.0.0.1'] }));
    const missing = await new Promise<Error | null>((resolve) =>
      onlyV4.lookup('v4', { family: 6 }, (e) => resolve(e)),
    );
    expect(missing?.message).to.contain('no IPv6 address');
  });

  it('uses the system resolver by default', async () => {
    const addresses = await systemResolver.resolve('localhost');
    expect(addresses.length).to.be.greaterThan(0);
  });
});
