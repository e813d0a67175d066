import { expect } from 'chai';
import { SyncflowError } from '../../core/errors.ts';
import {
  AuthenticationConfigWatcher,
  compileAuthenticationConfig,
  parseAuthenticationConfigMap,
  tlsClientCAs,
  type AuthenticationConfig,
} from './authentication-config.ts';
import type { ConfigMapSource } from '../../kube/configmap-source.ts';
import type { Logger } from '../../core/logger.ts';
import { authenticationConfigMapData, testPki } from './testdata/pki.ts';

function parseError(data: Record<string, string>): SyncflowError {
  try {
    parseAuthenticationConfigMap(data);
  } catch (error) {
    expect(error).to.be.instanceOf(SyncflowError);
    return error as SyncflowError;
  }
  expect.fail('expected a parse error');
}

describe('parseAuthenticationConfigMap', function () {
  this.timeout(30_000);

  it('reads every key kube-apiserver writes', () => {
    const p = testPki();
    expect(parseAuthenticationConfigMap(authenticationConfigMapData())).to.deep.equal({
      clientCA: p.clientCA.certPem + p.rootCA.certPem,
      requestHeader: {
        clientCA: p.frontProxyCA.certPem,
        allowedNames: ['front-proxy-client'],
        usernameHeaders: ['X-Remote-User'],
        uidHeaders: ['X-Remote-Uid'],
        groupHeaders: ['X-Remote-Group'],
        extraHeaderPrefixes: ['X-Remote-Extra-'],
      },
    });
  });

  it('compiles lowercased header names, the allowed-name set and every CA of a bundle', () => {
    const compiled = compileAuthenticationConfig(parseAuthenticationConfigMap(authenticationConfigMapData()));
    expect(compiled.clientCAs).to.have.length(2);
    expect(compiled.requestHeader?.usernameHeaders).to.deep.equal(['x-remote-user']);
    expect(compiled.requestHeader?.extraHeaderPrefixes).to.deep.equal(['x-remote-extra-']);
    expect([...(compiled.requestHeader?.allowedNames ?? [])]).to.deep.equal(['front-proxy-client']);
  });

  it('treats absent, empty and null keys as not configured', () => {
    expect(parseAuthenticationConfigMap({})).to.deep.equal({});
    const config = parseAuthenticationConfigMap(
      authenticationConfigMapData({
        'client-ca-file': ' ',
        'requestheader-allowed-names': 'null',
        'requestheader-uid-headers': undefined,
      }),
    );
    expect(config.clientCA).to.equal(undefined);
    expect(config.requestHeader).to.deep.include({ allowedNames: [], uidHeaders: [] });
  });

  it('names each malformed key and how to fix it, all at once', () => {
    const error = parseError(
      authenticationConfigMapData({
        'client-ca-file': 'not a certificate',
        'requestheader-allowed-names': 'front-proxy-client',
        'requestheader-group-headers': '["X Remote Group"]',
        'requestheader-extra-headers-prefix': '[1]',
      }),
    );
    expect(error.code).to.equal('FieldInvalid');
    expect(error.causes.map((c) => c.field)).to.deep.equal([
      'data[client-ca-file]',
      'data[requestheader-allowed-names]',
      'data[requestheader-group-headers]',
      'data[requestheader-extra-headers-prefix]',
    ]);
    expect(error.message).to.match(
      /^ConfigMap kube-system\/extension-apiserver-authentication is invalid: data\[client-ca-file\]: not a PEM/,
    );
    expect(error.causes[1]?.suggestion).to.contain(`'["front-proxy-client"]'`);
    expect(error.causes[2]?.message).to.equal('"X Remote Group" is not a valid HTTP header name');
  });

  it('rejects a requestheader CA that is not a certificate', () => {
    expect(
      parseError(authenticationConfigMapData({ 'requestheader-client-ca-file': 'x' })).causes[0]?.field,
    ).to.equal('data[requestheader-client-ca-file]');
  });
});

describe('tlsClientCAs', () => {
  it('lists the front-proxy CA, then the client CA', () => {
    const config = parseAuthenticationConfigMap(authenticationConfigMapData());
    expect(tlsClientCAs(config)).to.deep.equal([config.requestHeader?.clientCA, config.clientCA]);
    expect(tlsClientCAs(undefined)).to.deep.equal([]);
  });
});

/** A ConfigMapSource whose data the test sets and whose watch it drives. */
class FakeConfigMapSource implements ConfigMapSource {
  data: Record<string, string> | undefined;
  failGet: Error | undefined;
  listener: ((data: Record<string, string> | undefined) => void) | undefined;
  stopped = false;

  constructor(data: Record<string, string> | undefined) {
    this.data = data;
  }

  async get(): Promise<Record<string, string> | undefined> {
    if (this.failGet) throw this.failGet;
    return this.data;
  }

  watch(onChange: (data: Record<string, string> | undefined) => void): () => void {
    this.listener = onChange;
    return () => {
      this.stopped = true;
    };
  }

  push(data: Record<string, string> | undefined): void {
    this.data = data;
    this.listener?.(data);
  }
}

class RecordingLogger implements Logger {
  readonly lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  debug(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'debug', fields, message });
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }
}

describe('AuthenticationConfigWatcher', function () {
  this.timeout(30_000);
  let source: FakeConfigMapSource;
  let logger: RecordingLogger;
  let watcher: AuthenticationConfigWatcher;
  let changes: Array<[AuthenticationConfig, AuthenticationConfig | undefined]>;
  let rejections: Error[];

  beforeEach(() => {
    source = new FakeConfigMapSource(authenticationConfigMapData());
    logger = new RecordingLogger();
    watcher = new AuthenticationConfigWatcher({ source, logger, resyncIntervalMs: 0 });
    changes = [];
    rejections = [];
    watcher.on('change', (config, previous) => changes.push([config, previous]));
    watcher.on('rejected', (error) => rejections.push(error));
  });

  afterEach(() => watcher.stop());

  it('loads the ConfigMap at start and announces it', async () => {
    expect(watcher.current()).to.equal(undefined);
    const config = await watcher.start();
    expect(watcher.current()).to.equal(config);
    expect(config.requestHeader?.allowedNames).to.deep.equal(['front-proxy-client']);
    expect(changes).to.deep.equal([[config, undefined]]);
    expect(logger.lines[0]).to.deep.include({
      level: 'info',
      message: 'authentication configuration loaded',
    });
  });

  it('applies a changed ConfigMap live', async () => {
    const first = await watcher.start();
    const p = testPki();
    source.push(
      authenticationConfigMapData({
        'requestheader-allowed-names': '["aggregator"]',
        'client-ca-file': p.clientCA2.certPem,
      }),
    );
    const current = watcher.current();
    expect(current?.requestHeader?.allowedNames).to.deep.equal(['aggregator']);
    expect(current?.clientCA).to.equal(p.clientCA2.certPem);
    expect(changes).to.have.length(2);
    expect(changes[1]).to.deep.equal([current, first]);
  });

  it('ignores a watch event that changes nothing', async () => {
    await watcher.start();
    source.push({ ...authenticationConfigMapData(), unrelated: 'x' });
    expect(changes).to.have.length(1);
  });

  it('keeps the old configuration when the ConfigMap becomes malformed', async () => {
    const first = await watcher.start();
    source.push(authenticationConfigMapData({ 'requestheader-allowed-names': 'front-proxy-client' }));
    expect(watcher.current()).to.equal(first);
    expect(changes).to.have.length(1);
    expect(rejections[0]?.message).to.contain(
      'data[requestheader-allowed-names]: must be a JSON array of strings',
    );
    expect(logger.lines.at(-1)).to.deep.include({ level: 'warn' });
    source.push(authenticationConfigMapData({ 'requestheader-allowed-names': '["fixed"]' }));
    expect(watcher.current()?.requestHeader?.allowedNames).to.deep.equal(['fixed']);
  });

  it('keeps the old configuration when the ConfigMap is deleted', async () => {
    const first = await watcher.start();
    source.push(undefined);
    expect(watcher.current()).to.equal(first);
    expect(rejections[0]?.message).to.contain('was deleted');
  });

  it('re-reads the ConfigMap on resync, keeping the configuration when reading fails', async () => {
    await watcher.start();
    source.data = authenticationConfigMapData({ 'requestheader-allowed-names': '["resynced"]' });
    await watcher.resync();
    expect(watcher.current()?.requestHeader?.allowedNames).to.deep.equal(['resynced']);
    source.failGet = new Error('connection refused');
    await watcher.resync();
    expect(watcher.current()?.requestHeader?.allowedNames).to.deep.equal(['resynced']);
    expect(logger.lines.at(-1)?.message).to.contain('cannot re-read');
  });

  it('resyncs periodically until stopped', async () => {
    const periodic = new AuthenticationConfigWatcher({ source, resyncIntervalMs: 5 });
    await periodic.start();
    source.data = authenticationConfigMapData({ 'requestheader-allowed-names': '["tick"]' });
    await new Promise<void>((resolve) => periodic.once('change', () => resolve()));
    expect(periodic.current()?.requestHeader?.allowedNames).to.deep.equal(['tick']);
    periodic.stop();
    expect(source.stopped).to.equal(true);
  });

  it('refuses to start without the ConfigMap, saying how to get it', async () => {
    source.data = undefined;
    const error = await watcher.start().then(
      () => expect.fail('expected a rejection'),
      (e: SyncflowError) => e,
    );
    expect(error).to.include({ code: 'ServiceUnavailable' });
    expect(error.message).to.contain('does not exist; kube-apiserver creates it');
  });

  it('refuses to start when the ConfigMap cannot be read, naming the Role to grant', async () => {
    source.failGet = new Error('HTTP 403');
    const error = await watcher.start().then(
      () => expect.fail('expected a rejection'),
      (e: SyncflowError) => e,
    );
    expect(error.message).to.contain('HTTP 403').and.to.contain('extension-apiserver-authentication-reader');
  });

  it('refuses to start with a malformed ConfigMap', async () => {
    source.data = authenticationConfigMapData({ 'requestheader-username-headers': '{' });
    const error = await watcher.start().then(
      () => expect.fail('expected a rejection'),
      (e: SyncflowError) => e,
    );
    expect(error).to.include({ code: 'ServiceUnavailable' });
    expect(error.message).to.contain('data[requestheader-username-headers]');
  });
});
