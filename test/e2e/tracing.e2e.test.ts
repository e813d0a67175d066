// OpenTelemetry tracing end to end: the real `syncflow server` exports its spans over OTLP/HTTP to a
// real Jaeger (built from its Go module by hack/tools.sh, in-memory storage), and the trace tree is
// read back through Jaeger's query API. Executions are started the ways callers start them: a
// Kubernetes create through kube-apiserver's aggregator and the direct run gateway, each with the
// caller's W3C traceparent.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { KubeConfigTransport } from '../../client/transport.ts';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';
import { LineProcess } from '../harness/line-process.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';

const execFileAsync = promisify(execFile);

/** A span as Jaeger's query API returns it (times in microseconds). */
interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags: Array<{ key: string; value: unknown }>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A caller's trace context: a new trace id, the caller's span id, sampled. */
function callerContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === 'CHILD_OF');

describe('OpenTelemetry tracing to a real Jaeger', function () {
  // A cold cache builds Jaeger from source first (minutes on two cores); warm, it starts at once.
  this.timeout(30 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let jaeger: LineProcess;
  let jaegerDir: string;
  let queryUrl: string;
  let transport: KubeConfigTransport;
  let gateway: { server: string; ca: Buffer };
  let ns: string;
  const SECRET = 'tr4cing-s3cr3t-token';
  const USER_ID = 'tr4ce-user-7741';

  before(async function () {
    cp = await ControlPlane.acquire();
    const s = cp.settings;
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!s.serverPort || !s.tlsCertFile) this.skip();
    const { stdout } = await execFileAsync('bash', [join(repoRoot, 'hack/tools.sh'), 'jaeger'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const binary = stdout.trim().split('\n').pop() as string;
    const [otlpPort, queryPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
    jaegerDir = await mkdtemp(join(tmpdir(), 'syncflow-jaeger-'));
    const config = join(jaegerDir, 'config.yaml');
    await writeFile(
      config,
      `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics: {level: none}
    logs: {level: warn}
extensions:
  jaeger_storage:
    backends:
      memstore: {memory: {max_traces: 10000}}
  jaeger_query:
    storage: {traces: memstore}
    max_clock_skew_adjust: 0s
    http: {endpoint: "127.0.0.1:${queryPort}"}
    grpc: {endpoint: "127.0.0.1:${grpcPort}"}
receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:${otlpPort}"}
exporters:
  jaeger_storage_exporter: {trace_storage: memstore}
`,
    );
    jaeger = LineProcess.start(binary, ['--config', config]);
    queryUrl = `http://127.0.0.1:${queryPort}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${queryUrl}/api/services`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`Jaeger did not start:\n${jaeger.stderr.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    ns = await cp.createNamespace('e2e-tracing');
    await cp.installExamples(ns, SECRET);
    server = await SyncflowServer.start(cp, {
      extraArgs: [`--otel-endpoint=http://127.0.0.1:${otlpPort}`, '--otel-service-name=syncflow-e2e'],
    });
    transport = new KubeConfigTransport(await cp.kubeConfig());
    gateway = {
      server: `https://127.0.0.1:${s.serverPort}`,
      ca: readFileSync(join(dirname(s.tlsCertFile as string), 'syncflow-ca.crt')),
    };
    // One run first, so the demo-api Secret is cached: otherwise the first user attempt waits for
    // the Secret's read from kube-apiserver, and recs (0 ms upstream) can be over before it starts.
    const warm = await transport.send({
      method: 'POST',
      path: `/run/v1/namespaces/${ns}/workflows/user-profile`,
      body: JSON.stringify({ userId: 'warm-up' }),
      endpoint: gateway,
    });
    expect(warm.status, warm.body).to.equal(200);
  });

  after(async () => {
    await server?.stop();
    await jaeger?.stop();
    if (jaegerDir) await rm(jaegerDir, { recursive: true, force: true });
    if (ns) await cp.deleteNamespace(ns);
  });

  /** The spans of a trace once it has `count` of them (the server exports in batches). */
  async function spansOf(traceId: string, count: number): Promise<JaegerSpan[]> {
    const deadline = Date.now() + 30_000;
    let spans: JaegerSpan[] = [];
    while (Date.now() < deadline) {
      const res = await fetch(`${queryUrl}/api/traces/${traceId}`);
      if (res.ok) {
        const body = (await res.json()) as { data?: Array<{ spans: JaegerSpan[] }> };
        spans = body.data?.[0]?.spans ?? [];
        if (spans.length >= count) {
          // A moment more: a late extra span would show up now.
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          const again = (await (await fetch(`${queryUrl}/api/traces/${traceId}`)).json()) as {
            data: Array<{ spans: JaegerSpan[] }>;
          };
          return again.data[0]?.spans ?? spans;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`trace ${traceId} has ${spans.length} spans in Jaeger, expected ${count}`);
  }

  /** Checks the tree of one user-profile execution and returns its server span. */
  function assertProfileTree(spans: JaegerSpan[], caller: { traceId: string; spanId: string }): JaegerSpan {
    const servers = spans.filter((s) => tag(s, 'span.kind') === 'server');
    const clients = spans.filter((s) => tag(s, 'span.kind') === 'client');
    expect(servers.map((s) => s.operationName)).to.deep.equal([`execute ${ns}/user-profile`]);
    const execution = servers[0] as JaegerSpan;
    // The caller's trace continues: same trace id, the caller's span is the execution's parent.
    expect(execution.traceID).to.equal(caller.traceId);
    expect(parentOf(execution)?.spanID).to.equal(caller.spanId);
    expect(tag(execution, 'syncflow.phase')).to.equal('Succeeded');
    expect(clients).to.have.length(3);
    for (const client of clients) expect(parentOf(client)?.spanID).to.equal(execution.spanID);
    expect(clients.map((c) => tag(c, 'syncflow.task')).sort()).to.deep.equal(['orders', 'recs', 'user']);
    for (const client of clients) {
      expect(tag(client, 'http.request.method')).to.equal('GET');
      expect(Number(tag(client, 'http.response.status_code'))).to.equal(200);
      expect(String(tag(client, 'url.template'))).to.match(/^http:\/\/demo\.syncflow-system\.svc:8080\//);
    }
    // user and recs start together and overlap; orders waits for user's output.
    const byTask = (id: string) => clients.find((c) => tag(c, 'syncflow.task') === id) as JaegerSpan;
    const overlap = (a: JaegerSpan, b: JaegerSpan) =>
      a.startTime < b.startTime + b.duration && b.startTime < a.startTime + a.duration;
    expect(overlap(byTask('user'), byTask('recs'))).to.equal(true);
    expect(overlap(byTask('user'), byTask('orders'))).to.equal(false);
    expect(tag(byTask('user'), 'url.template')).to.equal(
      'http://demo.syncflow-system.svc:8080/users/{{input.userId}}',
    );
    // All task spans lie within the execution span.
    for (const client of clients) {
      expect(client.startTime).to.be.at.least(execution.startTime);
      expect(client.startTime + client.duration).to.be.at.most(execution.startTime + execution.duration);
    }
    // Neither the secret header's value nor an input value is in any span.
    const text = JSON.stringify(spans);
    expect(text).not.to.contain(SECRET);
    expect(text).not.to.contain(USER_ID);
    return execution;
  }

  it('traces a Kubernetes create: one execution span under the caller, three task spans, two overlapping', async () => {
    const caller = callerContext();
    const res = await transport.send({
      method: 'POST',
      path: `/apis/execution.syncflow.io/v1alpha1/namespaces/${ns}/workflowexecutions`,
      headers: { traceparent: caller.traceparent },
      body: JSON.stringify({
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata: { generateName: 'user-profile-' },
        spec: { workflowRef: { name: 'user-profile' }, input: { userId: USER_ID, withOrders: true } },
      }),
    });
    expect(res.status, res.body).to.equal(201);
    expect((JSON.parse(res.body) as { status: { phase: string } }).status.phase).to.equal('Succeeded');
    assertProfileTree(await spansOf(caller.traceId, 4), caller);
  });

  it('traces a run through the direct gateway the same way', async () => {
    const caller = callerContext();
    const res = await transport.send({
      method: 'POST',
      path: `/run/v1/namespaces/${ns}/workflows/user-profile`,
      headers: { traceparent: caller.traceparent },
      body: JSON.stringify({ userId: USER_ID, withOrders: true }),
      endpoint: gateway,
    });
    expect(res.status, res.body).to.equal(200);
    assertProfileTree(await spansOf(caller.traceId, 4), caller);
  });

  it('records a retried attempt as its own span with the retry number and status', async () => {
    const caller = callerContext();
    // The demo upstream answers 503 to the first request for user "flaky", then 200.
    const res = await transport.send({
      method: 'POST',
      path: `/run/v1/namespaces/${ns}/workflows/user-profile`,
      headers: { traceparent: caller.traceparent },
      body: JSON.stringify({ userId: 'flaky' }),
      endpoint: gateway,
    });
    expect(res.status, res.body).to.equal(200);
    const spans = await spansOf(caller.traceId, 4);
    const user = spans
      .filter((s) => tag(s, 'syncflow.task') === 'user')
      .sort((a, b) => Number(tag(a, 'syncflow.attempt')) - Number(tag(b, 'syncflow.attempt')));
    expect(
      user.map((s) => [Number(tag(s, 'syncflow.attempt')), Number(tag(s, 'http.response.status_code'))]),
    ).to.deep.equal([
      [1, 503],
      [2, 200],
    ]);
    expect(Number(tag(user[1] as JaegerSpan, 'http.request.resend_count'))).to.equal(1);
    expect(tag(user[0] as JaegerSpan, 'error.type')).to.equal('HTTPError');
  });
});
