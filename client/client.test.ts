/**
 * SyncflowClient against a fake server speaking the aggregated API and the run gateway over real
 * HTTP: what goes on the wire (paths, queries, bodies, credentials) and how answers are typed.
 */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { SyncflowApiError, SyncflowClient, SyncflowRunError, type ExecutionWatchEvent } from './index.ts';

const BASE = '/apis/execution.syncflow.io/v1alpha1';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: Recorded, res: ServerResponse) => void;

/** A fake API server: requests are recorded, answers come from the route table of each test. */
class FakeApi {
  readonly requests: Recorded[] = [];
  handler: Handler = (_req, res) => json(res, 404, status(404, 'NotFound', 'no route'));
  server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const recorded = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(recorded);
        this.handler(recorded, res);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  get last(): Recorded {
    return this.requests[this.requests.length - 1] as Recorded;
  }
}

function json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string, details?: unknown) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    code,
    reason,
    message,
    ...(details ? { details } : {}),
  };
}

function execution(name: string, phase: 'Succeeded' | 'Failed', output?: unknown) {
  return {
    apiVersion: 'execution.syncflow.io/v1alpha1',
    kind: 'WorkflowExecution',
    metadata: {
      name,
      namespace: 'shop',
      uid: 'u-1',
      creationTimestamp: '2026-11-26T12:00:00Z',
      resourceVersion: '7',
      labels: { 'syncflow.io/workflow': 'user-profile' },
    },
    spec: { workflowRef: { name: 'user-profile' }, input: { userId: '42' } },
    status: { phase, ...(output === undefined ? {} : { output }), tasks: [] },
  };
}

describe('SyncflowClient', () => {
  const api = new FakeApi();
  let client: SyncflowClient;

  before(async () => {
    await api.start();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${api.port}`, skipTLSVerify: true }],
      users: [{ name: 'app', token: 'app-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'app' }],
      currentContext: 'fake',
    });
    client = new SyncflowClient(kubeConfig, { gateway: { url: `http://127.0.0.1:${api.port}` } });
  });

  after(async () => {
    client.close();
    await api.stop();
  });

  describe('execute', () => {
    it('creates a WorkflowExecution with the kubeconfig credentials and returns the finished object', async () => {
      api.handler = (_req, res) =>
        json(res, 201, execution('user-profile-abcde', 'Succeeded', { email: 'a@b.c' }));
      const result = await client.execute<{ email: string }>(
        'shop',
        'user-profile',
        { userId: '42' },
        { labels: { team: 'web' } },
      );
      expect(result.status.phase).to.equal('Succeeded');
      expect(result.status.output?.email).to.equal('a@b.c');
      expect(api.last.method).to.equal('POST');
      expect(api.last.url).to.equal(`${BASE}/namespaces/shop/workflowexecutions`);
      expect(api.last.headers.authorization).to.equal('Bearer app-token');
      expect(api.last.headers['content-type']).to.equal('application/json');
      expect(JSON.parse(api.last.body)).to.deep.equal({
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata: { generateName: 'user-profile-', namespace: 'shop', labels: { team: 'web' } },
        spec: { workflowRef: { name: 'user-profile' }, input: { userId: '42' } },
      });
    });

    it('returns a Failed execution as a result, not an exception', async () => {
      api.handler = (_req, res) => json(res, 201, execution('user-profile-fffff', 'Failed'));
      const result = await client.execute('shop', 'user-profile', { userId: 'missing' });
      expect(result.status.phase).to.equal('Failed');
    });

    it('sends dryRun=All, a custom generateName, an exact name and annotations when asked', async () => {
      api.handler = (_req, res) => json(res, 201, execution('x', 'Succeeded'));
      await client.execute(
        'shop',
        'user-profile',
        {},
        { dryRun: true, generateName: 'up-', annotations: { why: 'test' } },
      );
      expect(api.last.url).to.equal(`${BASE}/namespaces/shop/workflowexecutions?dryRun=All`);
      expect(JSON.parse(api.last.body).metadata).to.deep.equal({
        generateName: 'up-',
        namespace: 'shop',
        annotations: { why: 'test' },
      });
      await client.execute('shop', 'user-profile', {}, { name: 'exact-1' });
      expect(JSON.parse(api.last.body).metadata).to.deep.equal({ name: 'exact-1', namespace: 'shop' });
    });

    it('throws SyncflowApiError carrying the Status: code, reason and field causes', async () => {
      const causes = [
        { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.input.userId' },
        { reason: 'FieldValueInvalid', message: 'must be boolean', field: 'spec.input.withOrders' },
      ];
      api.handler = (_req, res) =>
        json(
          res,
          422,
          status(422, 'Invalid', 'WorkflowExecution is invalid: spec.input.userId: Required value', {
            causes,
          }),
        );
      const error = await client
        .execute('shop', 'user-profile', { withOrders: 'yes' })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(SyncflowApiError);
      const apiError = error as SyncflowApiError;
      expect(apiError).to.include({ code: 422, reason: 'Invalid', name: 'SyncflowApiError' });
      expect(apiError.message).to.contain('spec.input.userId');
      expect(apiError.causes).to.deep.equal(causes);
      expect(apiError.fields).to.deep.equal(['spec.input.userId', 'spec.input.withOrders']);
      expect(apiError.status.kind).to.equal('Status');
    });

    it('exposes Retry-After of a shed request (429)', async () => {
      api.handler = (_req, res) =>
        json(res, 429, status(429, 'TooManyRequests', 'the server is running 64 executions'), {
          'retry-after': '1',
        });
      const error = (await client
        .execute('shop', 'user-profile', {})
        .catch((e: unknown) => e)) as SyncflowApiError;
      expect(error).to.include({ code: 429, reason: 'TooManyRequests', retryAfterSeconds: 1 });
    });

    it('builds a Status for an error body that is not one (an aggregator outage page)', async () => {
      api.handler = (_req, res) =>
        res.writeHead(503, { 'content-type': 'text/plain' }).end('service unavailable\n');
      const error = (await client
        .execute('shop', 'user-profile', {})
        .catch((e: unknown) => e)) as SyncflowApiError;
      expect(error).to.be.instanceOf(SyncflowApiError);
      expect(error).to.include({ code: 503, reason: 'ServiceUnavailable', message: 'service unavailable' });
    });

    it('gives up after timeoutMs with a TimeoutError, and on an aborted signal with its reason', async () => {
      api.handler = () => undefined; // never answers
      const timedOut = (await client
        .execute('shop', 'user-profile', {}, { timeoutMs: 50 })
        .catch((e: unknown) => e)) as Error;
      expect(timedOut.name).to.equal('TimeoutError');
      const controller = new AbortController();
      const pending = client
        .execute('shop', 'user-profile', {}, { signal: controller.signal })
        .catch((e: unknown) => e);
      controller.abort(new Error('caller went away'));
      expect(((await pending) as Error).message).to.equal('caller went away');
    });

    it('reuses one keep-alive connection for consecutive calls', async () => {
      api.handler = (_req, res) => json(res, 201, execution('x', 'Succeeded'));
      let sockets = 0;
      const server = api.server as Server;
      const onConnection = () => sockets++;
      server.on('connection', onConnection);
      for (let i = 0; i < 5; i++) await client.execute('shop', 'user-profile', {});
      server.off('connection', onConnection);
      expect(sockets).to.be.at.most(1);
    });
  });

  describe('get, list, delete', () => {
    it('gets one execution and throws a 404 SyncflowApiError for a missing one', async () => {
      api.handler = (req, res) =>
        req.url.endsWith('/user-profile-abcde')
          ? json(res, 200, execution('user-profile-abcde', 'Succeeded'))
          : json(
              res,
              404,
              status(404, 'NotFound', 'workflowexecutions.execution.syncflow.io "nope" not found', {
                name: 'nope',
              }),
            );
      const found = await client.get('shop', 'user-profile-abcde');
      expect(found.metadata.name).to.equal('user-profile-abcde');
      expect(api.last.url).to.equal(`${BASE}/namespaces/shop/workflowexecutions/user-profile-abcde`);
      const error = (await client.get('shop', 'nope').catch((e: unknown) => e)) as SyncflowApiError;
      expect(error).to.include({ code: 404, reason: 'NotFound' });
      expect(error.status.details?.name).to.equal('nope');
    });

    it('lists with selectors, limit and continue in the query', async () => {
      api.handler = (_req, res) =>
        json(res, 200, {
          apiVersion: 'execution.syncflow.io/v1alpha1',
          kind: 'WorkflowExecutionList',
          metadata: { resourceVersion: '9', continue: 'tok' },
          items: [execution('a', 'Failed')],
        });
      const page = await client.list('shop', {
        labelSelector: 'team=web',
        fieldSelector: 'status.phase=Failed',
        limit: 1,
        continue: 'prev',
      });
      expect(page.items.map((i) => i.metadata.name)).to.deep.equal(['a']);
      expect(page.metadata).to.deep.equal({ resourceVersion: '9', continue: 'tok' });
      const url = new URL(api.last.url, 'http://x');
      expect(url.pathname).to.equal(`${BASE}/namespaces/shop/workflowexecutions`);
      expect(Object.fromEntries(url.searchParams)).to.deep.equal({
        labelSelector: 'team=web',
        fieldSelector: 'status.phase=Failed',
        limit: '1',
        continue: 'prev',
      });
    });

    it('lists every namespace for the empty namespace', async () => {
      api.handler = (_req, res) =>
        json(res, 200, { kind: 'WorkflowExecutionList', metadata: { resourceVersion: '1' }, items: [] });
      await client.list('');
      expect(api.last.url).to.equal(`${BASE}/workflowexecutions`);
    });

    it('listAll follows continue tokens across pages', async () => {
      api.handler = (req, res) => {
        const token = new URL(req.url, 'http://x').searchParams.get('continue');
        const page =
          token === null
            ? { items: [execution('a', 'Succeeded'), execution('b', 'Succeeded')], next: 'p2' }
            : { items: [execution('c', 'Succeeded')], next: undefined };
        json(res, 200, {
          kind: 'WorkflowExecutionList',
          metadata: { resourceVersion: '5', ...(page.next ? { continue: page.next } : {}) },
          items: page.items,
        });
      };
      const names: string[] = [];
      for await (const item of client.listAll('shop', { limit: 2 })) names.push(item.metadata.name);
      expect(names).to.deep.equal(['a', 'b', 'c']);
    });

    it('deletes an execution', async () => {
      api.handler = (_req, res) => json(res, 200, execution('gone', 'Succeeded'));
      const deleted = await client.delete('shop', 'gone');
      expect(deleted.metadata.name).to.equal('gone');
      expect(api.last).to.include({
        method: 'DELETE',
        url: `${BASE}/namespaces/shop/workflowexecutions/gone`,
      });
    });
  });

  describe('watch', () => {
    it('delivers events until stopped, with the selectors and resourceVersion in the query', async () => {
      api.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`${JSON.stringify({ type: 'ADDED', object: execution('w1', 'Succeeded') })}\n`);
        res.write(`${JSON.stringify({ type: 'DELETED', object: execution('w1', 'Succeeded') })}\n`);
        // stays open until the client stops
      };
      const events: ExecutionWatchEvent[] = [];
      let gotTwo!: () => void;
      const two = new Promise<void>((resolve) => (gotTwo = resolve));
      const watch = await client.watch(
        'shop',
        { labelSelector: 'team=web', resourceVersion: '7', allowWatchBookmarks: true },
        (event) => {
          events.push(event);
          if (events.length === 2) gotTwo();
        },
      );
      await two;
      watch.stop();
      await watch.done;
      expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).to.deep.equal([
        'ADDED w1',
        'DELETED w1',
      ]);
      const url = new URL(api.last.url, 'http://x');
      expect(url.pathname).to.equal(`${BASE}/namespaces/shop/workflowexecutions`);
      expect(Object.fromEntries(url.searchParams)).to.deep.equal({
        watch: 'true',
        labelSelector: 'team=web',
        resourceVersion: '7',
        allowWatchBookmarks: 'true',
      });
      expect(api.last.headers.authorization).to.equal('Bearer app-token');
    });

    it('resolves done when the server ends the watch', async () => {
      api.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } })}\n`);
      };
      const events: ExecutionWatchEvent[] = [];
      const watch = await client.watch('shop', { timeoutSeconds: 1 }, (e) => events.push(e));
      await watch.done;
      expect(events).to.have.length(1);
      expect(events[0]?.type).to.equal('BOOKMARK');
      expect(events[0]?.object.metadata.resourceVersion).to.equal('12');
    });

    it('rejects done with SyncflowApiError for an ERROR event (410 Expired)', async () => {
      api.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(
          `${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version: 3') })}\n`,
        );
      };
      const watch = await client.watch('shop', {}, () => undefined);
      const error = (await watch.done.catch((e: unknown) => e)) as SyncflowApiError;
      expect(error).to.be.instanceOf(SyncflowApiError);
      expect(error).to.include({ code: 410, reason: 'Expired', message: 'too old resource version: 3' });
    });

    it('rejects watch() itself when the server refuses to start it (403)', async () => {
      api.handler = (_req, res) => json(res, 403, status(403, 'Forbidden', 'cannot watch'));
      const error = (await client
        .watch('shop', {}, () => undefined)
        .catch((e: unknown) => e)) as SyncflowApiError;
      expect(error).to.be.instanceOf(SyncflowApiError);
      expect(error).to.include({ code: 403, reason: 'Forbidden' });
    });

    it('stops when the signal aborts and when onEvent throws (done rejects with that error)', async () => {
      api.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`${JSON.stringify({ type: 'ADDED', object: execution('w2', 'Succeeded') })}\n`);
      };
      const controller = new AbortController();
      const watch = await client.watch('shop', { signal: controller.signal }, () => controller.abort());
      await watch.done;
      const bad = await client.watch('shop', {}, () => {
        throw new Error('handler bug');
      });
      expect(((await bad.done.catch((e: unknown) => e)) as Error).message).to.equal('handler bug');
    });
  });

  describe('run (direct gateway)', () => {
    it('posts the input and returns the output with the execution name', async () => {
      api.handler = (_req, res) =>
        json(res, 200, { email: 'a@b.c' }, { 'syncflow-execution': 'shop/user-profile-q2w3e' });
      const result = await client.run<{ email: string }>('shop', 'user-profile', { userId: '42' });
      expect(result).to.deep.equal({ output: { email: 'a@b.c' }, execution: 'shop/user-profile-q2w3e' });
      expect(api.last).to.include({
        method: 'POST',
        url: '/run/v1/namespaces/shop/workflows/user-profile',
        body: '{"userId":"42"}',
      });
      expect(api.last.headers.authorization).to.equal('Bearer app-token');
    });

    it('throws SyncflowRunError with the problem document and the execution of a failed run', async () => {
      const problem = {
        type: 'https://syncflow.io/problems/TaskFailed',
        title: 'workflow failed',
        status: 502,
        detail: 'task user failed',
        code: 'TaskFailed',
        errors: [{ field: 'status.tasks[user]', message: 'HTTP 404' }],
      };
      api.handler = (_req, res) =>
        res
          .writeHead(502, {
            'content-type': 'application/problem+json',
            'syncflow-execution': 'shop/user-profile-zzzzz',
          })
          .end(JSON.stringify(problem));
      const error = (await client
        .run('shop', 'user-profile', { userId: 'missing' })
        .catch((e: unknown) => e)) as SyncflowRunError;
      expect(error).to.be.instanceOf(SyncflowRunError);
      expect(error).to.include({
        httpStatus: 502,
        code: 'TaskFailed',
        execution: 'shop/user-profile-zzzzz',
        message: 'task user failed',
      });
      expect(error.problem).to.deep.equal(problem);
    });

    it('needs the gateway address', async () => {
      const bare = new SyncflowClient(new KubeConfig());
      const error = (await bare.run('shop', 'user-profile', {}).catch((e: unknown) => e)) as Error;
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.contain('gateway');
    });
  });
});
