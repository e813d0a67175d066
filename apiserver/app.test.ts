/**
 * The server application end to end in one process: real engine, real upstream (the demo), real
 * history (embedded PGlite), fake guard. The Kubernetes boundary itself is covered by test/e2e.
 */
import { expect } from 'chai';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import { SyncflowError } from '../core/errors.ts';
import { causeType } from '../core/model/status-causes.ts';
import { validateDocuments } from '../core/validation/validate.ts';
import { EgressPolicy } from '../adapters/egress/policy.ts';
import { DagExecutor } from '../core/engine/executor.ts';
import { UndiciTaskClient } from '../adapters/http-client.ts';
import { DEMO_HOST, startDemoUpstream, type DemoUpstream } from '../examples/demo-upstream/server.ts';
import { buildApp } from './app.ts';
import type { UserInfo } from './auth/user.ts';
import { DefinitionCatalog, type DefinitionObject } from '../core/definitions/catalog.ts';
import { ExecutionService } from './execution/service.ts';
import type { WorkflowExecution } from '../core/model/execution.ts';
import { openHistory, type History } from '../history/index.ts';
import type { RequestGuard, ResourceRequest } from './http/guard.ts';
import { StaticSecrets } from '../kube/secret-resolver.ts';
import { createServerMetrics } from './metrics.ts';
import { aliasResolver } from '../adapters/egress/host-aliases.ts';

const ADDRESS = '127.0.0.89';

/** Users by header; `denied` lists `verb resource` pairs refused to everyone but admin. */
class HeaderGuard implements RequestGuard {
  denied = new Set<string>();
  async authenticate(req: IncomingMessage): Promise<UserInfo> {
    const name = req.headers['x-test-user'];
    if (typeof name !== 'string' || name === '') throw new SyncflowError('Unauthorized', 'Unauthorized');
    return { username: name, groups: ['system:authenticated'], extra: {} };
  }
  async authorize(user: UserInfo, request: ResourceRequest): Promise<void> {
    if (user.username !== 'admin' && this.denied.has(`${request.verb} ${request.resource}`)) {
      throw new SyncflowError(
        'Forbidden',
        `User "${user.username}" cannot ${request.verb} resource "${request.resource}"`,
      );
    }
  }
  async authorizePath(): Promise<void> {}
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('server application', function () {
  this.timeout(20_000);
  let upstream: DemoUpstream;
  let history: History;
  let server: Server;
  let port: number;
  const guard = new HeaderGuard();
  const catalog = new DefinitionCatalog();
  const registry = new Registry();

  function call(
    method: string,
    path: string,
    options: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; user?: string } = {},
  ): Promise<Reply> {
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          headers: {
            'content-type': 'application/json',
            'x-test-user': options.user ?? 'alice',
            ...options.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  const executions = '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions';
  const create = (workflow: string, input: unknown, extra: Record<string, unknown> = {}) =>
    call('POST', executions, {
      body: {
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata: { generateName: `${workflow}-`, labels: { team: 'web' } },
        spec: { workflowRef: { name: workflow }, input },
        ...extra,
      },
    });

  before(async function () {
    // Starting embedded PGlite (WebAssembly) takes seconds on a loaded 2-core machine.
    this.timeout(120_000);
    upstream = await startDemoUpstream({ host: ADDRESS, port: 8080 });
    history = await openHistory({
      logger: pino({ level: 'silent' }),
      registry,
      retention: false,
      watchPollIntervalMs: 20,
    });
    let rv = 1;
    for (const file of ['user-profile.yaml', 'checkout.yaml', 'loan-quote.yaml']) {
      for (const doc of parseAllDocuments(
        readFileSync(join(import.meta.dirname, '..', 'examples', file), 'utf8'),
      )) {
        const object = doc.toJS() as DefinitionObject;
        object.metadata.namespace = 'shop';
        object.metadata.resourceVersion = String(rv++);
        catalog.upsert(object);
      }
    }
    catalog.upsert({
      kind: 'Workflow',
      metadata: { name: 'broken', namespace: 'shop', resourceVersion: '99' },
      spec: { tasks: [{ id: 'a', taskRef: { name: 'nope' } }] },
    });
    const metrics = createServerMetrics(registry, { defaults: false });
    const http = new UndiciTaskClient({
      policy: new EgressPolicy({ allowLoopback: true }, aliasResolver(new Map([[DEMO_HOST, ADDRESS]]))),
    });
    const service = new ExecutionService({
      catalog,
      executor: new DagExecutor({ http, observer: metrics.observer }),
      history: history.writer,
      store: history.store,
      secrets: new StaticSecrets(new Map([['demo-api/token', 's3cr3t-token']])),
    });
    const app = buildApp({
      service,
      store: history.store,
      guard,
      registry,
      maxInFlight: 64,
      readiness: [{ name: 'history-writable', check: () => history.writer.canAccept() }],
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    server?.closeAllConnections();
    if (server) await new Promise((resolve) => server.close(resolve));
    await history?.close();
    await upstream?.close();
  });

  describe('create', () => {
    it('runs the workflow and returns 201 with the finished execution', async () => {
      const reply = await create('user-profile', { userId: '42', withOrders: true });
      expect(reply.status).to.equal(201);
      const object = reply.json;
      expect(object.metadata.name).to.match(/^user-profile-[a-z0-9]{5}$/);
      expect(object.metadata.labels).to.deep.equal({ team: 'web', 'syncflow.io/workflow': 'user-profile' });
      expect(object.status.phase).to.equal('Succeeded');
      expect(object.status.user).to.equal('alice');
      expect(object.status.workflowRevision).to.match(/^sha256:/);
      expect(object.status.output).to.deep.equal({
        email: 'user42@example.com',
        name: 'User 42',
        orders: [
          { id: 'o-18', total: 42.5 },
          { id: 'o-2', total: 7 },
        ],
        recommendations: ['book-for-42', 'lamp'],
      });
      expect(reply.headers['syncflow-execution']).to.equal(`shop/${object.metadata.name}`);
      expect(reply.text).not.to.contain('s3cr3t-token');
    });

    it('records a failing upstream as a Failed execution with the task error', async () => {
      const reply = await create('user-profile', { userId: 'missing' });
      expect(reply.status).to.equal(201);
      expect(reply.json.status.phase).to.equal('Failed');
      expect(reply.json.status.reason).to.equal('TaskFailed');
      const user = reply.json.status.tasks.find((t: { id: string }) => t.id === 'user');
      expect(user).to.include({ phase: 'Failed', httpStatus: 404 });
      expect(user.error.reason).to.equal('HTTPError');
    });

    it('answers 422 naming spec.input.<field> for bad input', async () => {
      const reply = await create('user-profile', { withOrders: 'yes' });
      expect(reply.status).to.equal(422);
      expect(reply.json).to.include({ kind: 'Status', reason: 'Invalid', code: 422 });
      const fields = reply.json.details.causes.map((c: { field: string }) => c.field);
      expect(fields).to.include.members(['spec.input.userId', 'spec.input.withOrders']);
      expect(reply.json.message).to.contain('spec.input.userId');
    });

    it('refuses an execution document with the codes and paths `syncflow validate` reports for it', async () => {
      const file = join(import.meta.dirname, '..', 'test/fixtures/invalid/execution-metadata-invalid.yaml');
      const document = parseAllDocuments(readFileSync(file, 'utf8'))[0]?.toJS() as Record<string, unknown>;
      const [report] = validateDocuments([document]);
      const cli = (report?.errors ?? []).map((e) => ({ field: e.field, reason: causeType(e.code) }));
      expect(cli).to.have.length(3);
      const reply = await call('POST', executions, { body: document });
      expect(reply.status).to.equal(422);
      const server = reply.json.details.causes.map((c: { field: string; reason: string }) => ({
        field: c.field,
        reason: c.reason,
      }));
      expect(server).to.deep.equal(cli);
    });

    it('answers 404 for an unknown workflow and 409 for one that is not Ready', async () => {
      const missing = await create('nope', {});
      expect(missing.status).to.equal(404);
      expect(missing.json.reason).to.equal('NotFound');
      const broken = await create('broken', {});
      expect(broken.status).to.equal(409);
      expect(broken.json.message).to.match(/not Ready \(TaskNotFound\)/);
    });

    it('plans with dryRun=All and calls nothing', async () => {
      const before = [...upstream.calls.values()].reduce((a, b) => a + b, 0);
      const reply = await call('POST', `${executions}?dryRun=All`, {
        body: {
          metadata: { generateName: 'lq-' },
          spec: { workflowRef: { name: 'loan-quote' }, input: { applicantId: 'a1', amount: 1000 } },
        },
      });
      expect(reply.status).to.equal(201);
      expect(reply.json.status.phase).to.equal('Pending');
      expect(reply.json.status.plan.parallelGroups).to.deep.equal([['score'], ['quote', 'review']]);
      expect(reply.json.status.plan.tasks[0].input).to.deep.equal({ applicantId: 'a1' });
      expect([...upstream.calls.values()].reduce((a, b) => a + b, 0)).to.equal(before);
      const listed = await call('GET', `${executions}?labelSelector=syncflow.io/workflow%3Dloan-quote`);
      expect(listed.json.items).to.have.length(0);
    });

    it('rejects malformed, oversized, too deep and mistyped bodies with a clear Status', async () => {
      const malformed = await call('POST', executions, { raw: '{"spec": ' });
      expect(malformed.status).to.equal(400);
      expect(malformed.json.message).to.match(/not valid JSON/);
      const big = await call('POST', executions, { raw: `{"x":"${'a'.repeat(3 * 1024 * 1024 + 10)}"}` });
      expect(big.status).to.equal(413);
      const deep = await call('POST', executions, { raw: `${'['.repeat(100)}${']'.repeat(100)}` });
      expect(deep.status).to.equal(400);
      expect(deep.json.message).to.match(/nests 100 levels/);
      const noRef = await call('POST', executions, { body: { metadata: { name: 'Bad_Name' }, spec: {} } });
      expect(noRef.status).to.equal(422);
      expect(noRef.json.details.causes.map((c: { field: string }) => c.field)).to.have.members([
        'metadata.name',
        'spec.workflowRef.name',
      ]);
    });

    it('applies fieldValidation Strict and Warn to unknown fields', async () => {
      const body = {
        metadata: { generateName: 'up-' },
        spec: { workflowRef: { name: 'user-profile' }, input: { userId: '1' }, bogus: 1 },
      };
      const strict = await call('POST', `${executions}?fieldValidation=Strict`, { body });
      expect(strict.status).to.equal(400);
      expect(strict.json.message).to.contain('unknown field "spec.bogus"');
      const warn = await call('POST', executions, { body });
      expect(warn.status).to.equal(201);
      expect(warn.headers.warning).to.contain('unknown field \\"spec.bogus\\"');
    });

    it('refuses a user the guard denies with 403', async () => {
      guard.denied.add('create workflowexecutions');
      try {
        const reply = await create('user-profile', { userId: '1' });
        expect(reply.status).to.equal(403);
        expect(reply.json.reason).to.equal('Forbidden');
        const unauthenticated = await call('GET', executions, { user: '' });
        expect(unauthenticated.status).to.equal(401);
        expect(unauthenticated.json.reason).to.equal('Unauthorized');
      } finally {
        guard.denied.clear();
      }
    });
  });

  describe('read, change and delete', () => {
    let name: string;
    before(async () => {
      name = (await create('checkout', { cartId: 'c1', customerId: 'u1' })).json.metadata.name;
    });

    it('gets an execution right after it ran and from the history later', async () => {
      const now = await call('GET', `${executions}/${name}`);
      expect(now.status).to.equal(200);
      expect(now.json.status.output.paymentId).to.equal('p-r-c1');
      await history.writer.flush();
      const stored = await history.store.get('shop', name);
      expect(stored?.metadata.name).to.equal(name);
    });

    it('lists with label and field selectors, pages with limit/continue, and prints a Table', async () => {
      await history.writer.flush();
      const failed = await call('GET', `${executions}?fieldSelector=status.phase%3DFailed`);
      expect(failed.json.kind).to.equal('WorkflowExecutionList');
      expect(failed.json.items.length).to.be.greaterThan(0);
      expect(
        failed.json.items.every((i: { status: { phase: string } }) => i.status.phase === 'Failed'),
      ).to.equal(true);
      const page = await call('GET', `${executions}?limit=1`);
      expect(page.json.items).to.have.length(1);
      expect(page.json.metadata.continue).to.be.a('string');
      const next = await call(
        'GET',
        `${executions}?limit=1&continue=${encodeURIComponent(page.json.metadata.continue)}`,
      );
      expect(next.json.items[0].metadata.name).not.to.equal(page.json.items[0].metadata.name);
      const table = await call('GET', `${executions}?labelSelector=syncflow.io/workflow%3Dcheckout`, {
        headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
      });
      expect(table.json.kind).to.equal('Table');
      expect(table.json.columnDefinitions.map((c: { name: string }) => c.name)).to.include.members([
        'Name',
        'Workflow',
        'Phase',
      ]);
      expect(table.json.rows[0].cells[0]).to.equal(name);
    });

    it('patches labels with merge and JSON patches, and refuses changes to spec', async () => {
      const merged = await call('PATCH', `${executions}/${name}`, {
        raw: JSON.stringify({ metadata: { labels: { reviewed: 'yes' } } }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      expect(merged.status).to.equal(200);
      expect(merged.json.metadata.labels).to.include({ reviewed: 'yes', team: 'web' });
      const json = await call('PATCH', `${executions}/${name}`, {
        raw: JSON.stringify([{ op: 'add', path: '/metadata/annotations', value: { note: 'ok' } }]),
        headers: { 'content-type': 'application/json-patch+json' },
      });
      expect(json.json.metadata.annotations).to.deep.equal({ note: 'ok' });
      const spec = await call('PATCH', `${executions}/${name}`, {
        raw: JSON.stringify({ spec: { input: { cartId: 'other' } } }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      expect(spec.status).to.equal(422);
      expect(spec.json.details.causes[0].field).to.equal('spec');
      const apply = await call('PATCH', `${executions}/${name}`, {
        raw: '{}',
        headers: { 'content-type': 'application/apply-patch+yaml' },
      });
      expect(apply.status).to.equal(415);
    });

    it('watches: an execution created meanwhile arrives as ADDED', async () => {
      const list = await call('GET', executions);
      const seen = watchLines<{ type: string; object: { metadata: { name: string } } }>(
        list.json.metadata.resourceVersion,
        (event) => (event.object.metadata.name.startsWith('watched-') ? event.type : undefined),
      );
      await new Promise((r) => setTimeout(r, 100));
      await call('POST', executions, {
        body: {
          metadata: { generateName: 'watched-' },
          spec: { workflowRef: { name: 'user-profile' }, input: { userId: '7' } },
        },
      });
      expect(await seen).to.equal('ADDED');
    });

    /**
     * Reads the watch from `resourceVersion` line by line; `onEvent` returns a value to end it with,
     * or undefined to read on.
     */
    function watchLines<E, T = unknown>(
      resourceVersion: string,
      onEvent: (event: E) => T | undefined,
    ): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let received = 0;
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            path: `${executions}?watch=true&resourceVersion=${resourceVersion}`,
            headers: { 'x-test-user': 'alice' },
          },
          (res) => {
            let buffer = '';
            res.on('data', (chunk: Buffer) => {
              buffer += chunk.toString('utf8');
              let nl;
              while ((nl = buffer.indexOf('\n')) >= 0) {
                const event = JSON.parse(buffer.slice(0, nl)) as E;
                buffer = buffer.slice(nl + 1);
                received++;
                const result = onEvent(event);
                if (result !== undefined) {
                  req.destroy();
                  resolve(result);
                }
              }
            });
          },
        );
        req.on('error', (error) => (received ? undefined : reject(error)));
        req.end();
      });
    }

    /** Watch events of executions named `prefix…` until one arrives with a final phase. */
    function watchUntilFinal(resourceVersion: string, prefix: string) {
      const events: { type: string; phase: string; rv: number; tasks: number }[] = [];
      return watchLines<{ type: string; object: WorkflowExecution }, typeof events>(
        resourceVersion,
        (event) => {
          if (!event.object.metadata.name.startsWith(prefix)) return undefined;
          const phase = event.object.status.phase;
          events.push({
            type: event.type,
            phase,
            rv: Number(event.object.metadata.resourceVersion),
            tasks: event.object.status.tasks?.length ?? 0,
          });
          return phase !== 'Running' ? events : undefined;
        },
      );
    }

    it('watches an execution while it runs: ADDED Running, MODIFIED per task, MODIFIED final', async () => {
      const list = await call('GET', executions);
      const watched = watchUntilFinal(list.json.metadata.resourceVersion, 'live-');
      await new Promise((r) => setTimeout(r, 100));
      await call('POST', executions, {
        body: {
          metadata: { generateName: 'live-' },
          spec: { workflowRef: { name: 'user-profile' }, input: { userId: '7' } },
        },
      });
      const events = await watched;
      expect(events[0]).to.include({ type: 'ADDED', phase: 'Running', tasks: 0 });
      const progress = events.slice(1, -1);
      expect(progress.length).to.be.greaterThan(1);
      expect(progress.every((e) => e.type === 'MODIFIED' && e.phase === 'Running')).to.equal(true);
      expect(progress.map((e) => e.tasks)).to.deep.equal(
        [...progress.map((e) => e.tasks)].sort((a, b) => a - b),
      );
      const final = events[events.length - 1];
      expect(final).to.include({ type: 'MODIFIED', phase: 'Succeeded' });
      // Live objects carry the last stored version the watch delivered: below the final one.
      expect(events.slice(0, -1).every((e) => e.rv < (final?.rv ?? 0))).to.equal(true);
      // Resumed from the last live object's version, the watch shows the final state once, nothing before.
      const resumed = await watchUntilFinal(String(progress[progress.length - 1]?.rv), 'live-');
      expect(resumed).to.deep.equal([{ ...final, type: 'ADDED' }]);
    });

    it('deletes an execution and then answers 404', async () => {
      await history.writer.flush();
      const deleted = await call('DELETE', `${executions}/${name}`);
      expect(deleted.status).to.equal(200);
      const gone = await call('GET', `${executions}/${name}`);
      expect(gone.status).to.equal(404);
      expect(gone.json.reason).to.equal('NotFound');
      const put = await call('PUT', `${executions}/${name}`, { body: {} });
      expect(put.status).to.equal(405);
    });

    it('lists workflow revisions recorded by the executions', async () => {
      await new Promise((r) => setTimeout(r, 100));
      const revisions = await call(
        'GET',
        '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowrevisions?labelSelector=syncflow.io/workflow%3Dcheckout',
      );
      expect(revisions.status).to.equal(200);
      expect(revisions.json.items).to.have.length(1);
      expect(revisions.json.items[0].hash).to.match(/^sha256:/);
    });
  });

  describe('direct run gateway', () => {
    const gateway = '/run/v1/namespaces/shop/workflows';

    it('answers 200 with the output and links the history record', async () => {
      const reply = await call('POST', `${gateway}/loan-quote`, {
        body: { applicantId: 'a1', amount: 1200 },
      });
      expect(reply.status).to.equal(200);
      expect(reply.json).to.deep.equal({
        score: 720,
        quote: { rate: 0.049, monthly: 105 },
        reviewCase: null,
      });
      expect(reply.headers['syncflow-execution']).to.match(/^shop\/loan-quote-[a-z0-9]{5}$/);
      // Sized, not chunked: headers and body leave in one write.
      expect(reply.headers['content-length']).to.equal(String(Buffer.byteLength(reply.text)));
      expect(reply.headers['transfer-encoding']).to.equal(undefined);
    });

    it('answers problem+json: 422 for bad input, 404 unknown, 502 task failure, 400 malformed', async () => {
      const bad = await call('POST', `${gateway}/loan-quote`, { body: { applicantId: 'a1', amount: 5 } });
      expect(bad.status).to.equal(422);
      expect(bad.headers['content-type']).to.contain('application/problem+json');
      expect(bad.json.errors[0].field).to.equal('spec.input.amount');
      expect((await call('POST', `${gateway}/nope`, { body: {} })).status).to.equal(404);
      const failed = await call('POST', `${gateway}/user-profile`, { body: { userId: 'missing' } });
      expect(failed.status).to.equal(502);
      expect(failed.json.code).to.equal('TaskFailed');
      expect(failed.headers['syncflow-execution']).to.match(/^shop\//);
      expect((await call('POST', `${gateway}/user-profile`, { raw: 'not json' })).status).to.equal(400);
      // A path that is not valid percent-encoding is the caller's 400, never a crash.
      const undecodable = await call('POST', `${gateway}/user-%E0%A4%A`, { body: {} });
      expect(undecodable.status).to.equal(400);
      expect(undecodable.json.detail).to.contain('percent-encoding');
      expect((await call('POST', `${gateway}/nope`, { body: {} })).status).to.equal(404);
      const kube = await call(
        'GET',
        '/apis/execution.syncflow.io/v1alpha1/namespaces/%E0%A4%A/workflowexecutions',
      );
      expect(kube.status).to.equal(400);
    });

    it('uses the same RBAC check as creating an execution', async () => {
      guard.denied.add('create workflowexecutions');
      try {
        const reply = await call('POST', `${gateway}/loan-quote`, {
          body: { applicantId: 'a1', amount: 1200 },
        });
        expect(reply.status).to.equal(403);
      } finally {
        guard.denied.clear();
      }
    });
  });

  describe('operations', () => {
    it('serves health, discovery, OpenAPI, metrics and Status 404s', async () => {
      expect((await call('GET', '/livez')).text).to.equal('ok');
      expect((await call('GET', '/readyz?verbose')).text).to.contain('[+]history-writable ok');
      const apis = await call('GET', '/apis');
      expect(apis.json.groups[0].name).to.equal('execution.syncflow.io');
      const resources = await call('GET', '/apis/execution.syncflow.io/v1alpha1');
      expect(resources.json.resources.map((r: { name: string }) => r.name)).to.include('workflowexecutions');
      const openapi = await call('GET', '/openapi/v2');
      expect(openapi.text).to.contain('x-kubernetes-group-version-kind');
      const metrics = await call('GET', '/metrics');
      expect(metrics.text).to.match(
        /syncflow_executions_total\{namespace="shop",workflow="user-profile",phase="Succeeded"/,
      );
      const missing = await call('GET', '/nothing/here');
      expect(missing.status).to.equal(404);
      expect(missing.json.kind).to.equal('Status');
    });
  });
});
