import { expect } from 'chai';
import { defaultServerOptions, parseServerFlags, serverUsage, validateServerOptions } from './options.ts';

describe('server options', () => {
  const base = defaultServerOptions({ DATABASE_URL: 'postgres://u:p@db:5432/syncflow', POD_NAME: 'syncflow-0' });

  it('parses --flag value, --flag=value, booleans and repeatable lists', () => {
    const { options, errors } = parseServerFlags(
      ['--secure-port', '9443', '--tls-cert-file=/c.pem', '--tls-private-key-file', '/k.pem', '--egress-allow-loopback', '--leader-elect=false', '--egress-deny-cidr', '10.0.0.0/8,192.168.0.0/16', '--egress-deny-cidr=172.16.0.0/12', '--host-alias', 'demo.svc=127.0.0.88'],
      base,
    );
    expect(errors).to.deep.equal([]);
    const { config } = validateServerOptions(options);
    expect(config).to.deep.include({ securePort: 9443, tlsCertFile: '/c.pem', leaderElect: false, databaseUrl: 'postgres://u:p@db:5432/syncflow', podName: 'syncflow-0' });
    expect(config?.egress.allowLoopback).to.equal(true);
    expect(config?.egress.denyCidrs).to.deep.equal(['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12']);
    expect(config?.hostAliases.get('demo.svc')).to.equal('127.0.0.88');
    expect(config?.historyRetentionMs).to.equal(7 * 86_400_000);
    expect(config?.shutdownGraceMs).to.equal(30_000);
  });

  it('reports every problem at once, naming the flag and the fix', () => {
    const { options, errors: parseErrors } = parseServerFlags(
      ['stray', '--nope', '--leader-elect=maybe', '--secure-port=0', '--history-retention=forever', '--max-in-flight=-1', '--history-max-queued=x', '--shutdown-grace=soon', '--egress-max-redirects=99', '--log-level=loud', '--database-url=mysql://x', '--host-alias=broken', '--tls-cert-file'],
      base,
    );
    const { config, errors } = validateServerOptions(options);
    expect(config).to.equal(undefined);
    const all = [...parseErrors, ...errors].join('\n');
    for (const expected of [
      'unexpected argument "stray"',
      'unknown flag --nope',
      '--leader-elect takes true or false',
      '--tls-cert-file needs a value',
      '--secure-port 0: must be a port number',
      '--tls-cert-file is required',
      '--tls-private-key-file is required',
      '--history-retention forever',
      '--history-max-queued x',
      '--max-in-flight -1',
      '--shutdown-grace soon',
      '--egress-max-redirects 99',
      '--log-level loud',
      '--database-url: must be a postgres://',
      '--host alias "broken": use HOST=ADDRESS',
    ]) {
      expect(all).to.contain(expected);
    }
    expect(validateServerOptions({ ...options, databaseUrl: 'not a url' }).errors.join()).to.contain('is not a valid URL');
  });

  it('documents every flag in --help', () => {
    const usage = serverUsage();
    for (const flag of ['--secure-port', '--database-url', '--egress-allow-cidr', '--host-alias', '--max-in-flight']) expect(usage).to.contain(flag);
  });
});
