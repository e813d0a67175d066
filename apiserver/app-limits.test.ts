/** Load shedding and watch bookmarks of the application, with a gated fake executor. */
import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { ExecuteOptions, WorkflowExecutor } from '../core/engine/executor.ts';
import type { WorkflowExecutionStatus } from '../core/model/schema.ts';
import { buildApp } from './app.ts';
import { oneTaskCatalog } from '../core/definitions/testdata/one-task-catalog.ts';
import { ExecutionService } from './execution/service.ts';
import { openHistory, type History } from '../history/index.ts';
import { TrustingGuard } from './http/guard.ts';
import { StaticSecrets } from '../kube/secret-resolver.ts';

/** An executor whose executions finish only when the test says so. */
class GatedExecutor implements WorkflowExecutor {
  started = 0;
  readonly signals: Array<ExecuteOptions['signal']> = [];
  private releases: Array<() => void> = [];
  async execute(
    _workflow: unknown,
    _input: unknown,
    options: ExecuteOptions = {},
  ): Promise<WorkflowExecutionStatus> {
    this.started++;
    this.signals.push(options.signal);
    await new Promise<void>((resolve) => this.releases.push(resolve));
    return { phase: 'Succeeded', output: { ok: true }, startTime: new Date().toISOString(), durationMs: 1 };
  }
  releaseAll(): void {
    for (const release of this.releases.splice(0)) release();
  }
}

function post(
  port: number,
  path: string,
  body: unknown,
): Promise<{ status: number; headers: Record<string, unknown>; json: { code?: number; reason?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text ? JSON.parse(text) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('server application limits', function () {
  this.timeout(20_000);
  let history: History;
  let server: Server;
  let port: number;
  const executor = new GatedExecutor();
  const shed: number[] = [];

  before(async function () {
    // Starting embedded PGlite (WebAssembly) takes seconds on a loaded 2-core machine.
    this.timeout(120_000);
    history = await openHistory({
      logger: pino({ level: 'silent' }),
      registry: new Registry(),
      retention: false,
      watchPollIntervalMs: 20,
    });
    const catalog = oneTaskCatalog();
    const service = new ExecutionService({
      catalog,
      executor,
      history: history.writer,
      store: history.store,
      secrets: new StaticSecrets(new Map()),
    });
    const app = buildApp({
      service,
      store: history.store,
      guard: new TrustingGuard(),
      registry: new Registry(),
      maxInFlight: 2,
      onShed: () => shed.push(1),
      bookmarkIntervalMs: 50,
      readiness: [],
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    executor.releaseAll();
    server?.closeAllConnections();
    if (server) await new Promise((resolve) => server.close(resolve));
    await history?.close();
  });

  it('sheds executions beyond the in-flight limit with 429 and Retry-After, then accepts again', async () => {
    const path = '/apis/execution.syncflow.io/v1alpha1/namespaces/ns/workflowexecutions';
    const body = { metadata: { generateName: 'wf-' }, spec: { workflowRef: { name: 'wf' } } };
    const first = post(port, path, body);
    const second = post(port, '/run/v1/namespaces/ns/workflows/wf', {});
    while (executor.started < 2) await new Promise((resolve) => setImmediate(resolve));
    const refused = await post(port, path, body);
    expect(refused.status).to.equal(429);
    expect(refused.headers['retry-after']).to.equal('1');
    expect(refused.json).to.include({ code: 429, reason: 'TooManyRequests' });
    const refusedGateway = await post(port, '/run/v1/namespaces/ns/workflows/wf', {});
    expect(refusedGateway.status).to.equal(429);
    expect(shed).to.have.length(2);
    executor.releaseAll();
    expect((await first).status).to.equal(201);
    expect((await second).status).to.equal(200);
    const again = post(port, path, body);
    while (executor.started < 3) await new Promise((resolve) => setImmediate(resolve));
    executor.releaseAll();
    expect((await again).status).to.equal(201);
  });

  it('cancels a gateway execution whose caller goes away and frees its slot', async () => {
    const before = executor.started;
    const gone = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/run/v1/namespaces/ns/workflows/wf',
      headers: { 'content-type': 'application/json' },
    });
    gone.on('error', () => undefined);
    gone.end('{}');
    while (executor.started === before) await new Promise((resolve) => setImmediate(resolve));
    const signal = executor.signals[executor.signals.length - 1];
    expect(signal?.aborted).to.equal(false);
    gone.destroy();
    while (!signal?.aborted) await new Promise((resolve) => setImmediate(resolve));
    // Both slots (maxInFlight 2) are free again although the gated execution has not returned.
    const path = '/apis/execution.syncflow.io/v1alpha1/namespaces/ns/workflowexecutions';
    const body = { metadata: { generateName: 'wf-' }, spec: { workflowRef: { name: 'wf' } } };
    const [a, b] = [post(port, path, body), post(port, '/run/v1/namespaces/ns/workflows/wf', {})];
    while (executor.started < before + 3) await new Promise((resolve) => setImmediate(resolve));
    executor.releaseAll();
    expect([(await a).status, (await b).status]).to.deep.equal([201, 200]);
  });

  it('sends BOOKMARK events to watchers that allow them', async () => {
    const event = await new Promise<{ type: string; object: { metadata: { resourceVersion: string } } }>(
      (resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/apis/execution.syncflow.io/v1alpha1/namespaces/ns/workflowexecutions?watch=true&allowWatchBookmarks=true',
          },
          (res) => {
            let buffer = '';
            res.on('data', (chunk: Buffer) => {
              buffer += chunk.toString('utf8');
              for (const line of buffer.split('\n').slice(0, -1)) {
                const parsed = JSON.parse(line) as {
                  type: string;
                  object: { metadata: { resourceVersion: string } };
                };
                if (parsed.type === 'BOOKMARK') {
                  req.destroy();
                  resolve(parsed);
                }
              }
            });
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    expect(event.type).to.equal('BOOKMARK');
    expect(event.object.metadata.resourceVersion).to.match(/^[0-9]+$/);
  });
});
