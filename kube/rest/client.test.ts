import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testPki } from '../../apiserver/auth/testdata/pki.ts';
import { type FakePluginOptions, fakeExecPlugin, pluginRuns } from '../testdata/exec-plugin.ts';
import { FakeKubeApi, json, queryOf, watchLine } from '../testdata/fake-kube-api.ts';
import { KubeApiError, KubeClient, clientFor, type WatchEvent } from './client.ts';
import { RestConfig, fromKubeConfigDocument } from './config.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

const rejection = <T>(promise: Promise<T>): Promise<KubeApiError> =>
  promise.then(
    () => expect.fail('expected a rejection'),
    (error: KubeApiError) => error,
  );

describe('KubeClient', () => {
  let api: FakeKubeApi;
  let client: KubeClient;

  beforeEach(async () => {
    api = await new FakeKubeApi().start();
    client = new KubeClient(new RestConfig({ server: api.url, ca: FakeKubeApi.ca, token: 'sa-token' }));
  });
  afterEach(async () => {
    api.stop();
    await client.close();
  });

  it('trusts the configured CA and sends the bearer token', async () => {
    api.routes.set('GET /api/v1/namespaces/a/configmaps/b', (_req, _body, res) =>
      json(res, 200, { data: { k: 'v' } }),
    );
    expect(await client.get('/api/v1/namespaces/a/configmaps/b')).to.deep.equal({ data: { k: 'v' } });
    expect(api.requests[0]?.headers.authorization).to.equal('Bearer sa-token');
    expect(api.requests[0]?.headers.accept).to.equal('application/json');
  });

  it('presents the client certificate of the configuration', async () => {
    const alice = testPki().alice;
    const withCert = new KubeClient(
      new RestConfig({ server: api.url, ca: FakeKubeApi.ca, cert: alice.certPem, key: alice.keyPem }),
    );
    api.routes.set('GET /version', (_req, _body, res) => json(res, 200, { major: '1' }));
    await withCert.get('/version');
    await withCert.close();
    expect(api.requests[0]).to.include({ clientCN: 'alice' });
    expect(api.requests[0]?.headers.authorization).to.equal(undefined);
  });

  it('refuses a server its CA did not sign, unless told to skip verification', async () => {
    api.routes.set('GET /version', (_req, _body, res) => json(res, 200, {}));
    const untrusted = new KubeClient(new RestConfig({ server: api.url, ca: testPki().rootCA.certPem }));
    const error = await rejection(untrusted.get('/version'));
    expect(error.code).to.equal(undefined);
    expect(error.message).to.match(/^GET \/version failed: /);
    await untrusted.close();
    const insecure = new KubeClient(new RestConfig({ server: api.url, insecureSkipTLSVerify: true }));
    expect(await insecure.get('/version')).to.deep.equal({});
    await insecure.close();
  });

  it('creates, replaces, merge-patches and deletes JSON objects by path, with the query', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      api.routes.set(
        `${method} /apis/g/v1/namespaces/n/things${method === 'POST' ? '' : '/x'}`,
        (req, body, res) =>
          json(res, method === 'POST' ? 201 : 200, {
            method: req.method,
            body: body ? JSON.parse(body) : null,
          }),
      );
    const collection = '/apis/g/v1/namespaces/n/things';
    expect(await client.create(collection, { a: 1 }, { query: { dryRun: 'All' } })).to.deep.equal({
      method: 'POST',
      body: { a: 1 },
    });
    expect(await client.replace(`${collection}/x`, { b: 2 })).to.deep.equal({
      method: 'PUT',
      body: { b: 2 },
    });
    expect(
      await client.mergePatch(`${collection}/x`, { c: 3 }, { query: { fieldManager: 'm' } }),
    ).to.deep.equal({
      method: 'PATCH',
      body: { c: 3 },
    });
    expect(await client.delete(`${collection}/x`)).to.deep.equal({ method: 'DELETE', body: null });
    expect(api.requests.map((r) => r.headers['content-type'])).to.deep.equal([
      'application/json',
      'application/json',
      'application/merge-patch+json',
      undefined,
    ]);
    expect(queryOf(api.requests[0]!).get('dryRun')).to.equal('All');
    expect(queryOf(api.requests[2]!).get('fieldManager')).to.equal('m');
  });

  it('keeps the path of a server URL with a prefix', async () => {
    const prefixed = new KubeClient(new RestConfig({ server: `${api.url}/k8s/`, ca: FakeKubeApi.ca }));
    api.routes.set('GET /k8s/version', (_req, _body, res) => json(res, 200, { ok: true }));
    expect(await prefixed.get('/version')).to.deep.equal({ ok: true });
    await prefixed.close();
  });

  it('rejects a non-2xx answer with its status and Status reason, never its body', async () => {
    api.routes.set('POST /apis/authentication.k8s.io/v1/tokenreviews', (_req, body, res) =>
      json(res, 409, { kind: 'Status', code: 409, reason: 'Conflict', message: `echo ${body}` }),
    );
    const error = await rejection(
      client.create('/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 'very-secret' } }),
    );
    expect(error).to.be.instanceOf(KubeApiError).and.include({ code: 409, reason: 'Conflict' });
    expect(error.message).to.equal('POST /apis/authentication.k8s.io/v1/tokenreviews failed with HTTP 409');
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.to.contain(
      'very-secret',
    );
  });

  it('takes a Status reason only when it is one word (anything else could echo input)', async () => {
    api.routes.set('GET /x', (_req, _body, res) => json(res, 500, { reason: 'token very-secret' }));
    const error = await rejection(client.get('/x'));
    expect(error).to.include({ code: 500, reason: undefined });
  });

  it('rejects a 2xx answer that is not JSON without quoting it', async () => {
    api.routes.set('GET /x', (_req, _body, res) => res.writeHead(200).end('token: very-secret'));
    const error = await rejection(client.get('/x'));
    expect(error.message).to.equal('GET /x: the answer is not JSON');
    expect(JSON.stringify({ ...error, message: error.message, cause: String(error.cause) })).not.to.contain(
      'very-secret',
    );
  });

  it('times out a call that does not answer', async () => {
    api.routes.set('GET /slow', () => undefined);
    const error = await rejection(client.get('/slow', { timeoutMs: 300 }));
    expect(error).to.include({ reason: 'Timeout', code: undefined });
    expect(error.message).to.equal('GET /slow timed out after 300 ms');
  });

  it('reports a refused connection in one line', async () => {
    const closed = new KubeClient(new RestConfig({ server: 'https://127.0.0.1:1', ca: FakeKubeApi.ca }));
    const error = await rejection(closed.get('/version'));
    expect(error.message).to.match(/^GET \/version failed: .*ECONNREFUSED/);
    expect(error.message).not.to.contain('\n');
    await closed.close();
  });

  describe('watch', () => {
    it('sends watch=true with the query and delivers each event, split across chunks', async () => {
      api.routes.set('GET /api/v1/namespaces/n/configmaps', (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const lines =
          watchLine('ADDED', { metadata: { name: 'a', resourceVersion: '5' } }) +
          watchLine('BOOKMARK', { metadata: { resourceVersion: '6' } }) +
          watchLine('DELETED', { metadata: { name: 'a', resourceVersion: '7' } });
        res.write(lines.slice(0, 17));
        setTimeout(() => res.end(lines.slice(17)), 10);
      });
      const events: WatchEvent[] = [];
      await client.watch('/api/v1/namespaces/n/configmaps', { fieldSelector: 'metadata.name=a' }, (e) =>
        events.push(e),
      );
      expect(events.map((e) => `${e.type} ${e.object.metadata?.resourceVersion}`)).to.deep.equal([
        'ADDED 5',
        'BOOKMARK 6',
        'DELETED 7',
      ]);
      const query = queryOf(api.requests[0]!);
      expect(query.get('watch')).to.equal('true');
      expect(query.get('fieldSelector')).to.equal('metadata.name=a');
    });

    it('rejects with the code of an ERROR event (410 Gone) and of an HTTP error', async () => {
      api.routes.set('GET /w', (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(watchLine('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' }));
      });
      expect(await rejection(client.watch('/w', {}, () => undefined))).to.include({
        code: 410,
        reason: 'Expired',
      });
      api.routes.set('GET /w', (_req, _body, res) =>
        json(res, 403, { kind: 'Status', code: 403, reason: 'Forbidden' }),
      );
      const error = await rejection(client.watch('/w', {}, () => undefined));
      expect(error).to.include({ code: 403, reason: 'Forbidden', message: 'WATCH /w failed with HTTP 403' });
    });

    it('rejects a stream that sends something other than JSON lines', async () => {
      api.routes.set('GET /w', (_req, _body, res) => res.writeHead(200).end('<html>\n'));
      expect((await rejection(client.watch('/w', {}, () => undefined))).message).to.equal(
        'WATCH /w: the stream sent a line that is not JSON',
      );
    });

    it('ends quietly when its signal aborts', async () => {
      api.routes.set('GET /w', (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(watchLine('ADDED', { metadata: { resourceVersion: '1' } }));
      });
      const controller = new AbortController();
      const seen: string[] = [];
      await client.watch(
        '/w',
        {},
        (e) => {
          seen.push(e.type);
          controller.abort();
        },
        { signal: controller.signal },
      );
      expect(seen).to.deep.equal(['ADDED']);
    });
  });

  it('shares one client per configuration', () => {
    const config = new RestConfig({ server: api.url });
    expect(clientFor(config)).to.equal(clientFor(config));
    expect(clientFor(config)).not.to.equal(clientFor(new RestConfig({ server: api.url })));
  });
});

describe('KubeClient with a client-go credential plugin (users[].user.exec)', () => {
  let api: FakeKubeApi;
  let dir: string;
  let runsFile: string;
  const clients: KubeClient[] = [];

  beforeEach(async () => {
    api = await new FakeKubeApi().start();
    dir = mkdtempSync(join(tmpdir(), 'syncflow-exec-'));
    runsFile = join(dir, 'runs');
    api.routes.set('GET /version', (req, _body, res) =>
      json(res, 200, { authorization: req.headers.authorization ?? null }),
    );
  });
  afterEach(async () => {
    api.stop();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A client for a kubeconfig whose user runs the fake plugin. */
  const clientWith = (
    plugin: Omit<FakePluginOptions, 'runsFile'> = {},
    options: { now?: () => number } = {},
  ): KubeClient => {
    const document = {
      clusters: [
        { name: 'c', cluster: { server: api.url, 'certificate-authority-data': b64(FakeKubeApi.ca) } },
      ],
      users: [{ name: 'u', user: { exec: fakeExecPlugin({ runsFile, ...plugin }) } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    };
    const client = new KubeClient(
      fromKubeConfigDocument(document, { path: join(dir, 'kubeconfig'), ...options }),
    );
    clients.push(client);
    return client;
  };
  const runs = (): number => pluginRuns(runsFile);
  const bearerOf = (answer: unknown): unknown => (answer as { authorization: unknown }).authorization;

  it('sends the token the plugin printed, and runs it once while the token has no expiry', async () => {
    const infoFile = join(dir, 'info.json');
    const client = clientWith({ infoFile });
    expect(bearerOf(await client.get('/version'))).to.equal('Bearer token-1');
    expect(bearerOf(await client.get('/version'))).to.equal('Bearer token-1');
    const https: RequestOptions = {};
    await client.config.applyToHTTPSOptions(https);
    expect(https.headers).to.deep.equal({ Authorization: 'Bearer token-1' });
    expect(runs()).to.equal(1);
    expect(JSON.parse(readFileSync(infoFile, 'utf8'))).to.deep.equal({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
  });

  it('speaks v1beta1 too, and gives the cluster in KUBERNETES_EXEC_INFO when provideClusterInfo is set', async () => {
    const infoFile = join(dir, 'info.json');
    const client = clientWith({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      infoFile,
      extra: { provideClusterInfo: true },
    });
    expect(bearerOf(await client.get('/version'))).to.equal('Bearer token-1');
    expect(JSON.parse(readFileSync(infoFile, 'utf8'))).to.deep.equal({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: { server: api.url, 'certificate-authority-data': b64(FakeKubeApi.ca) },
      },
    });
  });

  it('presents the client certificate the plugin printed', async () => {
    const alice = testPki().alice;
    const client = clientWith({ mode: 'cert', cert: alice.certPem, key: alice.keyPem });
    expect(bearerOf(await client.get('/version'))).to.equal(null);
    expect(api.requests[0]).to.include({ clientCN: 'alice' });
  });

  it('runs the plugin again shortly before the credential expires', async () => {
    const expires = Date.parse('2030-01-01T00:00:00Z');
    let now = expires - 3_600_000;
    const client = clientWith({ expires: '2030-01-01T00:00:00Z' }, { now: () => now });
    expect(bearerOf(await client.get('/version'))).to.equal('Bearer token-1');
    now = expires - 60_000;
    expect(bearerOf(await client.get('/version'))).to.equal('Bearer token-1');
    now = expires - 1_000;
    expect(bearerOf(await client.get('/version'))).to.equal('Bearer token-2');
    expect(runs()).to.equal(2);
  });

  it('runs the plugin again once when the server answers 401, and retries the request with the new token', async () => {
    const refused = new Set(['Bearer token-1']);
    api.routes.set('POST /things', (req, body, res) =>
      refused.has(req.headers.authorization ?? '')
        ? json(res, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' })
        : json(res, 201, { body: JSON.parse(body), authorization: req.headers.authorization }),
    );
    const client = clientWith();
    expect(await client.create('/things', { a: 1 })).to.deep.equal({
      body: { a: 1 },
      authorization: 'Bearer token-2',
    });
    expect(runs()).to.equal(2);
    refused.add('Bearer token-2').add('Bearer token-3');
    const error = await rejection(client.create('/things', { a: 2 }));
    expect(error).to.include({ code: 401, reason: 'Unauthorized' });
    expect(runs()).to.equal(3);
  });

  it('shares one plugin run among concurrent requests, and one re-run among their 401s', async () => {
    api.routes.set('GET /guarded', (req, _body, res) =>
      req.headers.authorization === 'Bearer token-1'
        ? json(res, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' })
        : json(res, 200, { authorization: req.headers.authorization }),
    );
    const client = clientWith();
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.get('/guarded')));
    expect(answers.map(bearerOf)).to.deep.equal(Array(5).fill('Bearer token-2'));
    expect(runs()).to.equal(2);
  });

  it('renews the credential of a watch on 401', async () => {
    api.routes.set('GET /w', (req, _body, res) => {
      if (req.headers.authorization === 'Bearer token-1')
        return json(res, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(watchLine('ADDED', { metadata: { name: String(req.headers.authorization) } }));
    });
    const seen: unknown[] = [];
    await clientWith().watch('/w', {}, (event) => seen.push(event.object.metadata?.name));
    expect(seen).to.deep.equal(['Bearer token-2']);
  });

  it('fails a request with the exit code and command name of a failing plugin, never its output', async () => {
    const error = await rejection(clientWith({ mode: 'fail' }).get('/version'));
    expect(error.message).to.match(/credential plugin node exited with code 3/);
    const garbage = await rejection(clientWith({ mode: 'garbage' }).get('/version'));
    expect(garbage.message).to.match(/credential plugin node printed no ExecCredential \(not JSON\)/);
    for (const e of [error, garbage])
      expect(
        JSON.stringify({ ...e, message: e.message, stack: e.stack, cause: String(e.cause) }),
      ).not.to.match(/leaked/);
    expect(api.requests).to.have.length(0);
  });

  it('shows the installHint when the command is missing', async () => {
    const client = clientWith({
      extra: { command: 'no-such-auth-plugin', args: [], installHint: 'Install it with: brew install it' },
    });
    const error = await rejection(client.get('/version'));
    expect(error.message).to.match(/credential plugin no-such-auth-plugin is not installed/);
    expect(error.message).to.contain('Install it with: brew install it');
  });
});
