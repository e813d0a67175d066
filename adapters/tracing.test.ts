import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { DagExecutor } from '../core/engine/executor.ts';
import type { TaskHttpClient, TaskRequest, TaskResponse } from '../core/engine/task-http.ts';
import { compileFixture } from '../core/engine/testdata/fixtures.ts';
import { startTracing, type Tracing } from './tracing.ts';

/** Answers 200 with `{"ok":true}` after `delayMs`, or from a per-path list of statuses; records requests. */
class FakeUpstreams implements TaskHttpClient {
  readonly requests: TaskRequest[] = [];
  constructor(private readonly statuses: Record<string, number[]> = {}) {}
  async send(request: TaskRequest): Promise<TaskResponse> {
    this.requests.push(request);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const list = this.statuses[new URL(request.url).pathname] ?? [200];
    const status = (list.length > 1 ? list.shift() : list[0]) as number;
    return { status, headers: {}, body: Buffer.from(status === 200 ? '{"ok":true}' : '') };
  }
  async close(): Promise<void> {}
}

/** A workflow like the user-profile example: one task, then two in parallel. */
const PROFILE = `kind: WorkflowTask
metadata: {name: get-user}
spec:
  http: {method: GET, url: "\${BASE}/users/{{input.userId}}", headers: {Authorization: "Bearer {{secrets.token}}"}}
  secrets: [{name: token, secretKeyRef: {name: api, key: token}}]
  retry: {maxAttempts: 2, backoff: {initial: 1ms}}
---
kind: WorkflowTask
metadata: {name: get-orders}
spec:
  http: {method: GET, url: "\${BASE}/orders", query: {email: "{{input.email}}"}}
---
kind: WorkflowTask
metadata: {name: post-event}
spec:
  http: {method: POST, url: "\${BASE}/events", body: {email: "{{input.email}}", user: "{{input.userId}}"}}
---
kind: Workflow
metadata: {name: user-profile}
spec:
  tasks:
  - {id: user, taskRef: {name: get-user}, input: {userId: "{{input.userId}}"}}
  - {id: orders, taskRef: {name: get-orders}, dependsOn: [user], input: {email: "{{input.email}}"}}
  - {id: event, taskRef: {name: post-event}, dependsOn: [user], input: {email: "{{input.email}}", userId: "{{input.userId}}"}}
`;

const SECRET = 'tok-7b1e9c0d-very-secret';
const INPUT = { userId: 'user-31337-private', email: 'alice.private@example.org' };
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

describe('OpenTelemetry execution tracer (adapters/tracing)', () => {
  let exporter: InMemorySpanExporter;
  let tracing: Tracing | undefined;

  beforeEach(() => {
    exporter = new InMemorySpanExporter();
  });
  afterEach(async () => {
    await tracing?.shutdown();
    tracing = undefined;
  });

  async function run(options: {
    ratio?: number;
    parentBased?: boolean;
    traceparent?: string;
    statuses?: Record<string, number[]>;
  }): Promise<{ spans: ReadableSpan[]; http: FakeUpstreams }> {
    tracing = startTracing(
      {
        endpoint: 'http://127.0.0.1:9/v1/traces',
        serviceName: 'syncflow-test',
        ratio: options.ratio ?? 1,
        parentBased: options.parentBased ?? true,
      },
      { exporter },
    );
    const http = new FakeUpstreams(options.statuses);
    const executor = new DagExecutor({ http, tracer: tracing.tracer, random: () => 0 });
    await executor.execute(compileFixture(PROFILE, 'http://upstream.test'), INPUT, {
      secrets: { resolve: () => SECRET },
      ...(options.traceparent ? { traceparent: options.traceparent } : {}),
    });
    await tracing.flush();
    return { spans: exporter.getFinishedSpans(), http };
  }

  it("records one server span per execution continuing the caller's trace, and a client span per task", async () => {
    const { spans } = await run({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
    expect(servers).to.have.length(1);
    expect(clients).to.have.length(3);
    const server = servers[0] as ReadableSpan;
    expect(server.spanContext().traceId).to.equal(CALLER_TRACE);
    expect(server.parentSpanContext?.spanId).to.equal(CALLER_SPAN);
    expect(server.name).to.equal('execute test/user-profile');
    expect(server.attributes).to.include({
      'syncflow.workflow': 'user-profile',
      'k8s.namespace.name': 'test',
      'syncflow.phase': 'Succeeded',
    });
    for (const client of clients) {
      expect(client.spanContext().traceId).to.equal(CALLER_TRACE);
      expect(client.parentSpanContext?.spanId).to.equal(server.spanContext().spanId);
    }
    expect(clients.map((c) => c.attributes['syncflow.task']).sort()).to.deep.equal([
      'event',
      'orders',
      'user',
    ]);
    const resource = server.resource.attributes;
    expect(resource['service.name']).to.equal('syncflow-test');
  });

  it('gives each attempt span the method, the declared URL template, the status and the retry number', async () => {
    const { spans } = await run({ statuses: { '/users/user-31337-private': [503, 200] } });
    const user = spans
      .filter((s) => s.attributes['syncflow.task'] === 'user')
      .sort((a, b) => Number(a.attributes['syncflow.attempt']) - Number(b.attributes['syncflow.attempt']));
    expect(user).to.have.length(2);
    expect(user[0]?.name).to.equal('GET user');
    expect(user[0]?.attributes).to.include({
      'http.request.method': 'GET',
      'url.template': 'http://upstream.test/users/{{input.userId}}',
      'http.response.status_code': 503,
      'syncflow.attempt': 1,
      'syncflow.task_ref': 'get-user',
      'error.type': 'HTTPError',
    });
    expect(user[0]?.status.code).to.equal(SpanStatusCode.ERROR);
    expect(user[1]?.attributes).to.include({
      'http.response.status_code': 200,
      'syncflow.attempt': 2,
      'http.request.resend_count': 1,
    });
    expect(user[1]?.attributes).not.to.have.property('error.type');
    expect(user[1]?.status.code).to.equal(SpanStatusCode.UNSET);
  });

  it("puts each attempt span's own traceparent on its request, so upstream spans are its children", async () => {
    const { spans, http } = await run({});
    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
    const expected = clients.map((c) => `00-${c.spanContext().traceId}-${c.spanContext().spanId}-01`).sort();
    expect(http.requests.map((r) => r.headers.traceparent).sort()).to.deep.equal(expected);
  });

  it('puts no secret and no input value in any span name, attribute, event or status', async () => {
    const { spans, http } = await run({ statuses: { '/orders': [500] } });
    // The values really were sent upstream: the check below is not vacuous.
    expect(JSON.stringify(http.requests.map((r) => [r.url, r.headers, r.body]))).to.contain(SECRET);
    expect(JSON.stringify(http.requests.map((r) => [r.url, r.body]))).to.contain(INPUT.email);
    const everything = JSON.stringify(
      spans.map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
        status: s.status,
        links: s.links,
        resource: s.resource.attributes,
      })),
    );
    expect(spans.length).to.be.greaterThan(3);
    for (const value of [SECRET, INPUT.userId, INPUT.email, 'alice.private'])
      expect(everything).not.to.contain(value);
  });

  it('samples new traces by ratio: ratio 0 records nothing and tells upstreams the trace is not sampled', async () => {
    const { spans, http } = await run({ ratio: 0 });
    expect(spans).to.have.length(0);
    expect(http.requests).to.have.length(3);
    for (const r of http.requests) expect(r.headers.traceparent).to.match(/-00$/);
  });

  it("follows the caller's sampled flag when parent-based, whatever the ratio", async () => {
    const sampled = await run({ ratio: 0, traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    expect(sampled.spans).to.have.length(4);
    await tracing?.shutdown();
    exporter = new InMemorySpanExporter();
    const unsampled = await run({ ratio: 1, traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` });
    expect(unsampled.spans).to.have.length(0);
    for (const r of unsampled.http.requests)
      expect(r.headers.traceparent).to.match(new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-00$`));
  });

  it("ignores the caller's flag when not parent-based, and a malformed traceparent starts a new trace", async () => {
    const { spans } = await run({ ratio: 1, parentBased: false, traceparent: 'not-a-traceparent' });
    const server = spans.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    expect(server.parentSpanContext).to.equal(undefined);
    await tracing?.shutdown();
    exporter = new InMemorySpanExporter();
    const again = await run({
      ratio: 1,
      parentBased: false,
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00`,
    });
    expect(again.spans).to.have.length(4);
  });

  describe('export over OTLP/HTTP', () => {
    let collector: Server;
    const received: Array<{ url: string | undefined; type: string | undefined; body: string }> = [];
    before(async () => {
      collector = createServer((req: IncomingMessage, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({
            url: req.url,
            type: req.headers['content-type'],
            body: Buffer.concat(chunks).toString(),
          });
          if (req.url?.startsWith('/reject/'))
            res.writeHead(400, { 'content-type': 'application/json' }).end('{}');
          else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    });
    after(() => collector.close());

    it('sends the spans to the configured endpoint when flushed', async () => {
      const port = (collector.address() as AddressInfo).port;
      tracing = startTracing({
        endpoint: `http://127.0.0.1:${port}/v1/traces`,
        serviceName: 'syncflow-otlp',
        ratio: 1,
        parentBased: true,
      });
      const executor = new DagExecutor({ http: new FakeUpstreams(), tracer: tracing.tracer });
      await executor.execute(compileFixture(PROFILE, 'http://upstream.test'), INPUT, {
        secrets: { resolve: () => SECRET },
      });
      await tracing.flush();
      expect(received.map((r) => r.url)).to.include('/v1/traces');
      const body = received.map((r) => r.body).join('\n');
      expect(body).to.contain('execute test/user-profile');
      expect(body).to.contain('syncflow-otlp');
      expect(body).not.to.contain(SECRET);
    });

    it('reports failed exports, at most one per interval with the count left out', async () => {
      const port = (collector.address() as AddressInfo).port;
      const problems: Array<{ message: string; suppressed: number }> = [];
      tracing = startTracing(
        {
          endpoint: `http://127.0.0.1:${port}/reject/v1/traces`,
          serviceName: 's',
          ratio: 1,
          parentBased: true,
        },
        {
          onProblem: (message, suppressed) => problems.push({ message, suppressed }),
          problemIntervalMs: 300,
        },
      );
      const executor = new DagExecutor({ http: new FakeUpstreams(), tracer: tracing.tracer });
      const failExport = async () => {
        await executor.execute(compileFixture(PROFILE, 'http://upstream.test'), INPUT, {
          secrets: { resolve: () => SECRET },
        });
        await tracing?.flush();
      };
      await failExport();
      await failExport();
      expect(problems).to.have.length(1);
      expect(problems[0]?.message).to.match(/Bad Request/);
      expect(problems[0]?.suppressed).to.equal(0);
      await new Promise((resolve) => setTimeout(resolve, 350));
      await failExport();
      expect(problems.map((p) => p.suppressed)).to.deep.equal([0, 1]);
    });
  });
});

describe('tracing is loaded only when on', () => {
  /** Modules a file loads when it is imported: static imports and re-exports, not `import type` or `import()`. */
  function staticImports(file: string): string[] {
    const text = readFileSync(file, 'utf8');
    const out: string[] = [];
    for (const m of text.matchAll(
      /^(?:import|export)(?!\s+type\s)[^;'"]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm,
    ))
      out.push((m[1] ?? m[2]) as string);
    return out;
  }

  it('the server reaches neither adapters/tracing nor an @opentelemetry package through static imports', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const seen = new Set<string>();
    const packages = new Set<string>();
    const queue = [join(root, 'cli/server.ts'), join(root, 'apiserver/server.ts')];
    while (queue.length) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of staticImports(file)) {
        if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
        else packages.add(spec);
      }
    }
    // The walk is real: it reaches the engine and the HTTP client.
    expect([...seen].map((f) => relative(root, f))).to.include.members([
      'core/engine/executor.ts',
      'adapters/http-client.ts',
    ]);
    expect([...seen].map((f) => relative(root, f))).not.to.include('adapters/tracing.ts');
    expect([...packages].filter((p) => p.startsWith('@opentelemetry/'))).to.deep.equal([]);
  });
});
