// Map steps, idempotency keys, circuit breakers, hedged requests, response caching and WebSocket
// tasks end to end: definitions applied with kubectl (through the syncflow admission webhooks),
// executions created with `kubectl create` through kube-apiserver's aggregator to the real
// `syncflow server`, and the records read back from the history with `kubectl get`. The upstreams
// are this suite's own node:http and ws server on loopback (the e2e server allows loopback egress).
// The hedging figures need hundreds of executions: those go through the direct run gateway, the hot
// path callers use.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { parse } from 'yaml';
import { KubeConfigTransport } from '../../client/transport.ts';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';

const RUN = Date.now().toString(36);
const SELECTOR_KEY = 'syncflow.io/e2e-resilience';
const WEBHOOK_NAME = `syncflow-e2e-resilience-${RUN}`;

interface TaskRecord {
  id: string;
  phase: string;
  durationMs?: number;
  attempts?: number;
  cached?: boolean;
  hedged?: boolean;
  itemCount?: number;
  failedItems?: number;
  items?: Array<{ index: number; phase: string }>;
  output?: unknown;
  error?: { reason: string; message: string };
  attemptLog?: Array<{ reason?: string }>;
}

interface ExecutionObject {
  metadata: { name: string };
  status: { phase: string; reason?: string; output?: unknown; tasks: TaskRecord[] };
}

/** The suite's upstream: one server, a route per feature, every request counted per path. */
class Upstream {
  readonly seen = new Map<string, IncomingMessage[]>();
  flakyHealthy = false;
  ordersCalls = 0;
  private steadyCalls = 0;
  private server: Server | undefined;
  base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    // The WebSocket upstream: a welcome, then for a subscription an ack and a quote that echoes the
    // caller's Authorization header (which the engine must redact from what it records).
    const wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      if (req.headers.authorization !== `Bearer ${WS_TOKEN}`) {
        socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(JSON.stringify({ type: 'welcome' }));
        ws.on('message', (data) => {
          const { subscribe } = JSON.parse(String(data)) as { subscribe: string };
          ws.send(JSON.stringify({ type: 'ack' }));
          ws.send(
            JSON.stringify({
              type: 'quote',
              symbol: subscribe,
              price: 42.5,
              auth: req.headers.authorization,
            }),
          );
        });
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  count(path: string): number {
    return this.seen.get(path)?.length ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const path = url.pathname;
    const list = this.seen.get(path) ?? [];
    list.push(req);
    this.seen.set(path, list);
    req.resume();
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path.startsWith('/item/')) {
      // 50 ms per element.
      await sleep(50);
      json(200, { id: decodeURIComponent(path.slice('/item/'.length)) });
    } else if (path === '/steady') {
      // Every 50th request (2%) takes 500 ms; the others answer at once.
      const slow = ++this.steadyCalls % 50 === 0;
      if (slow) await sleep(500);
      if (!res.destroyed) json(200, { slow });
    } else if (path === '/flaky') {
      if (this.flakyHealthy) json(200, { ok: true });
      else json(503, { error: 'down' });
    } else if (path === '/orders') {
      // The first call fails after taking effect: the retry must carry the same key.
      if (++this.ordersCalls === 1) json(503, { error: 'try again' });
      else json(201, { key: req.headers['idempotency-key'] });
    } else if (path.startsWith('/price/')) {
      json(200, { sku: path.slice('/price/'.length), price: 12.5, call: this.count(path) });
    } else {
      json(404, { error: 'no route' });
    }
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The token the WebSocket upstream expects, from a Secret the task reads. */
const WS_TOKEN = 'ws-e2e-s3cr3t-token';

/** The definitions of the suite, against the upstream at `base`. */
function definitions(base: string): string {
  return `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: get-item}
spec:
  inputSchema: {type: object, required: [id], properties: {id: {type: string}}}
  outputSchema: {type: object, properties: {id: {type: string}}}
  http: {method: GET, url: "${base}/item/{{input.id}}"}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: map-items}
spec:
  inputSchema:
    type: object
    properties: {items: {type: array, items: {type: object, required: [id], properties: {id: {type: string}}}}}
  tasks:
  - id: each
    taskRef: {name: get-item}
    map: {items: "{{input.items}}", concurrency: 10}
    input: {id: "{{item.id}}"}
  output: {ids: "{{tasks.each.output}}"}
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: steady}
spec:
  http: {method: GET, url: "${base}/steady"}
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: steady-hedged}
spec:
  http: {method: GET, url: "${base}/steady"}
  hedge: {after: p95, maxExtraPercent: 10}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: plain-get}
spec:
  tasks: [{id: get, taskRef: {name: steady}}]
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: hedged-get}
spec:
  tasks: [{id: get, taskRef: {name: steady-hedged}}]
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: flaky}
spec:
  http: {method: GET, url: "${base}/flaky"}
  circuitBreaker: {minimumRequests: 3, failureRatio: 0.5, window: 30s, openFor: 2s}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: breaker}
spec:
  tasks: [{id: call, taskRef: {name: flaky}}]
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: create-order}
spec:
  http: {method: POST, url: "${base}/orders", body: {sku: "{{input.sku}}"}}
  idempotencyKey: {header: Idempotency-Key}
  retry: {maxAttempts: 3, backoff: {initial: 10ms, max: 10ms}}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: order}
spec:
  tasks: [{id: create, taskRef: {name: create-order}, input: {sku: "{{input.sku}}"}}]
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: price}
spec:
  inputSchema: {type: object, properties: {sku: {type: string}}}
  http: {method: GET, url: "${base}/price/{{input.sku}}"}
  cache: {ttl: 5m}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: cached-price}
spec:
  inputSchema: {type: object, properties: {sku: {type: string}}}
  tasks: [{id: price, taskRef: {name: price}, input: {sku: "{{input.sku}}"}}]
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: quote}
spec:
  inputSchema: {type: object, properties: {symbol: {type: string}}}
  http:
    method: GET
    url: "${base.replace('http://', 'ws://')}/quotes"
    headers: {Authorization: "Bearer {{secrets.token}}"}
  secrets: [{name: token, secretKeyRef: {name: quotes-api, key: token}}]
  websocket:
    message: {subscribe: "{{input.symbol}}"}
    complete: {match: 'message.type == "quote"'}
  timeout: 5s
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: quote-ws}
spec:
  inputSchema: {type: object, properties: {symbol: {type: string}}}
  tasks: [{id: quote, taskRef: {name: quote}, input: {symbol: "{{input.symbol}}"}}]
`;
}

/** Definitions the admission webhooks refuse, each with the field path the refusal names. */
const INVALID: Array<{ name: string; yaml: string; field: string; code: string }> = [
  {
    name: 'map over a non-array',
    field: 'spec.tasks[0].map.items',
    code: 'TypeMismatch',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: map-over-string}
spec:
  inputSchema: {type: object, properties: {name: {type: string}}}
  tasks: [{id: each, taskRef: {name: get-item}, map: {items: "{{input.name}}"}, input: {id: "{{item}}"}}]
`,
  },
  {
    name: '{{item.x}} not in the element schema',
    field: 'spec.tasks[0].input.id',
    code: 'UnknownInputField',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: map-unknown-field}
spec:
  inputSchema:
    type: object
    properties: {items: {type: array, items: {type: object, properties: {id: {type: string}}}}}
  tasks: [{id: each, taskRef: {name: get-item}, map: {items: "{{input.items}}"}, input: {id: "{{item.idd}}"}}]
`,
  },
  {
    name: 'hedging a POST without an idempotency key',
    field: 'spec.hedge',
    code: 'FieldInvalid',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: hedged-post}
spec:
  http: {method: POST, url: "http://orders.example/orders", body: {a: 1}}
  hedge: {after: 50ms}
`,
  },
];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(p * sorted.length) - 1] as number;
}

describe('map, idempotency keys, circuit breakers, hedging, caching and WebSocket tasks against the real control plane', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let ns: string;
  let transport: KubeConfigTransport;
  let gateway: { server: string; ca: Buffer };
  const upstream = new Upstream();
  let failures = 0;

  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const result = await cp.kubectl.run(args, stdin === undefined ? {} : { stdin });
    expect(result.code, `kubectl ${args.join(' ')}: ${result.stderr}`).to.equal(0);
    return result.stdout;
  };

  /** `kubectl create -o yaml` of an execution: runs it and returns the finished object. */
  const run = async (workflow: string, input: unknown = {}): Promise<ExecutionObject> => {
    const body = JSON.stringify({
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: { generateName: `${workflow}-`, namespace: ns },
      spec: { workflowRef: { name: workflow }, input },
    });
    return parse(await ok(['create', '-f', '-', '-o', 'yaml'], body)) as ExecutionObject;
  };

  /** One execution through the run gateway; its wall time in ms seen by the caller. */
  const timedRun = async (workflow: string): Promise<number> => {
    const started = performance.now();
    const response = await transport.send({
      method: 'POST',
      path: `/run/v1/namespaces/${ns}/workflows/${workflow}`,
      body: '{}',
      endpoint: gateway,
    });
    const elapsed = performance.now() - started;
    expect(response.status, response.body).to.equal(200);
    return elapsed;
  };

  async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await attempt();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(250);
    }
  }

  before(async function () {
    cp = await ControlPlane.acquire();
    const s = cp.settings;
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!s.serverPort || !s.tlsCertFile) this.skip();
    await upstream.start();
    ns = await cp.createNamespace('e2e-resilience');
    await ok(['label', 'namespace', ns, `${SELECTOR_KEY}=${RUN}`]);
    server = await SyncflowServer.start(cp);
    const ca = readFileSync(join(dirname(s.tlsCertFile), 'syncflow-ca.crt'));
    await ok(
      ['apply', '-f', '-'],
      readFileSync(join(repoRoot, 'hack/controlplane/webhooks.yaml'), 'utf8')
        .replaceAll('${NAME}', WEBHOOK_NAME)
        .replaceAll('${PORT}', String(s.serverPort))
        .replaceAll('${CA_BUNDLE}', ca.toString('base64'))
        .replaceAll('${SELECTOR_KEY}', SELECTOR_KEY)
        .replaceAll('${SELECTOR_VALUE}', RUN),
    );
    await ok(['-n', ns, 'create', 'secret', 'generic', 'quotes-api', `--from-literal=token=${WS_TOKEN}`]);
    await ok(['-n', ns, 'apply', '-f', '-'], definitions(upstream.base));
    for (const name of [
      'map-items',
      'plain-get',
      'hedged-get',
      'breaker',
      'order',
      'cached-price',
      'quote-ws',
    ]) {
      await eventually(`workflow ${name} to be Ready`, async () => {
        const ready = await cp.kubectl.run([
          '-n',
          ns,
          'get',
          'workflow',
          name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return ready.stdout === 'True' ? true : undefined;
      });
    }
    transport = new KubeConfigTransport(await cp.kubeConfig());
    gateway = { server: `https://127.0.0.1:${s.serverPort}`, ca };
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failures++;
  });

  after(async () => {
    if (failures > 0 && server)
      console.error(`--- syncflow server log (tail) ---\n${server.logs.slice(-6000)}`);
    if (cp)
      await cp.kubectl.run(['delete', 'validatingwebhookconfiguration', WEBHOOK_NAME, '--ignore-not-found']);
    await server?.stop();
    await upstream.stop();
    if (ns) await cp.deleteNamespace(ns);
  });

  describe('admission refuses invalid uses with field paths', () => {
    for (const { name, yaml, field, code } of INVALID) {
      it(`refuses ${name} (${field})`, async () => {
        // The webhook configuration reaches kube-apiserver's informer with a lag: retry until it answers.
        const refusal = await eventually(`the webhook to refuse ${name}`, async () => {
          const result = await cp.kubectl.run(['-n', ns, 'apply', '--dry-run=server', '-f', '-'], {
            stdin: yaml,
          });
          return result.code !== 0 && result.stderr.includes(field) ? result.stderr : undefined;
        });
        // kubectl prints the webhook's Status: `The <Kind> "<name>" is invalid: <field>: <code>: <message>`.
        expect(refusal).to.contain('is invalid');
        expect(refusal).to.contain(code);
      });
    }
  });

  it('maps over 100 elements with concurrency 10 against a 50 ms upstream in about 10 × 50 ms', async () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ id: `e${i}` }));
    const plan = parse(
      await ok(
        ['create', '--dry-run=server', '-f', '-', '-o', 'yaml'],
        JSON.stringify({
          apiVersion: 'execution.syncflow.io/v1alpha1',
          kind: 'WorkflowExecution',
          metadata: { generateName: 'map-items-', namespace: ns },
          spec: { workflowRef: { name: 'map-items' }, input: { items } },
        }),
      ),
    ) as { status: { plan: { tasks: Array<{ id: string; items?: number }> } } };
    expect(plan.status.plan.tasks.find((t) => t.id === 'each')?.items).to.equal(100);

    const before = upstream.count('/item/e0');
    const execution = await run('map-items', { items });
    expect(execution.status.phase).to.equal('Succeeded');
    expect(execution.status.output).to.deep.equal({ ids: items });
    const each = execution.status.tasks.find((t) => t.id === 'each') as TaskRecord;
    expect(each.itemCount).to.equal(100);
    expect(each.items?.map((e) => e.index)).to.deep.equal(items.map((_, i) => i));
    expect(upstream.count('/item/e0') - before).to.equal(1);
    // Ten waves of ten 50 ms calls: 500 ms and the engine's overhead (generous on a loaded machine).
    console.log(`      map of 100 × 50 ms at concurrency 10: step ${each.durationMs} ms`);
    expect(each.durationMs).to.be.at.least(490).and.below(2_500);

    // The history keeps the per-element trace.
    const stored = parse(
      await ok(['-n', ns, 'get', 'wfx', execution.metadata.name, '-o', 'yaml']),
    ) as ExecutionObject;
    const storedEach = stored.status.tasks.find((t) => t.id === 'each') as TaskRecord;
    expect(storedEach.itemCount).to.equal(100);
    expect(storedEach.items).to.have.length(100);
  });

  it('sends a retried POST with one idempotency key per execution and step', async () => {
    const execution = await run('order', { sku: 'book' });
    expect(execution.status.phase).to.equal('Succeeded');
    expect(execution.status.tasks[0]?.attempts).to.equal(2);
    const keys = (upstream.seen.get('/orders') ?? []).map((r) => r.headers['idempotency-key']);
    expect(keys).to.have.length(2);
    expect(keys[0]).to.be.a('string').and.equal(keys[1]);
    expect((execution.status.tasks[0]?.output as { key: string }).key).to.equal(keys[0]);
  });

  it('opens a circuit breaker, fails fast with CircuitOpen, and closes again after a good trial call', async () => {
    upstream.flakyHealthy = false;
    for (let i = 0; i < 3; i++) {
      const failed = await run('breaker');
      expect(failed.status.tasks[0]?.error?.reason).to.equal('HTTPError');
    }
    const calls = upstream.count('/flaky');
    const fast = await run('breaker');
    expect(fast.status.phase).to.equal('Failed');
    expect(fast.status.tasks[0]?.error?.reason).to.equal('CircuitOpen');
    expect(upstream.count('/flaky')).to.equal(calls);
    // kubectl shows the breaker open, with the replica that answered (cluster-scoped, list only).
    const origin = new URL(upstream.base).origin;
    const table = await ok(['get', 'circuitbreakers']);
    expect(table.split('\n')[0]).to.match(/^NAME\s+ORIGIN\s+STATE\s+FAILURE RATIO\s+OPENED AT\s+REPLICA/);
    const row = table.split('\n').find((line) => line.includes(` ${origin} `));
    expect(row, table).to.match(/\sopen\s+\d+%\s+\d{4}-\d\d-\d\dT/);
    const listed = JSON.parse(await ok(['get', 'circuitbreakers', '-o', 'json'])) as {
      items: Array<{ origin: string; state: string; replica: string; openedAt?: string }>;
    };
    const breaker = listed.items.find((b) => b.origin === origin);
    expect(breaker?.state).to.equal('open');
    expect(breaker?.replica).to.be.a('string').and.not.equal('');
    expect(Date.parse(breaker?.openedAt ?? '')).to.be.closeTo(Date.now(), 60_000);

    upstream.flakyHealthy = true;
    // After openFor (2 s) a trial call goes through and, succeeding, closes the circuit.
    await eventually(
      'the circuit to let a trial call through',
      async () => ((await run('breaker')).status.phase === 'Succeeded' ? true : undefined),
      30_000,
    );
    const closed = await run('breaker');
    expect(closed.status.phase).to.equal('Succeeded');
    expect(upstream.count('/flaky')).to.be.greaterThan(calls + 1);
    const after = JSON.parse(await ok(['get', 'circuitbreakers', '-o', 'json'])) as {
      items: Array<{ origin: string; state: string }>;
    };
    expect(after.items.find((b) => b.origin === origin)?.state).to.equal('closed');
  });

  it('cuts the p99 of a GET whose 2% slow answers take 500 ms to near its p50 with a hedge', async () => {
    // Warm-up: connections, and the hedged task's latency history (p95 needs 20 calls).
    for (let i = 0; i < 30; i++) await timedRun('hedged-get');
    for (let i = 0; i < 10; i++) await timedRun('plain-get');
    const plain: number[] = [];
    for (let i = 0; i < 200; i++) plain.push(await timedRun('plain-get'));
    const calls = upstream.count('/steady');
    const hedged: number[] = [];
    for (let i = 0; i < 200; i++) hedged.push(await timedRun('hedged-get'));
    const extra = upstream.count('/steady') - calls - 200;
    const figures = {
      plain: { p50: percentile(plain, 0.5), p99: percentile(plain, 0.99) },
      hedged: { p50: percentile(hedged, 0.5), p99: percentile(hedged, 0.99) },
      extraRequests: extra,
    };
    console.log(`      hedging through the gateway (ms): ${JSON.stringify(figures)}`);
    expect(figures.plain.p99).to.be.at.least(500);
    expect(figures.hedged.p99).to.be.below(250);
    // The budget: at most 10% extra requests, plus the one allowed to start with.
    expect(extra).to.be.at.most(21);

    const one = await run('hedged-get');
    expect(one.status.phase).to.equal('Succeeded');
  });

  it('runs a WebSocket task: secret in the handshake, templated message, the matching message as output, redacted', async () => {
    const execution = await run('quote-ws', { symbol: 'ACME' });
    expect(execution.status.phase, JSON.stringify(execution.status)).to.equal('Succeeded');
    const quote = execution.status.tasks[0] as TaskRecord & { httpStatus?: number };
    expect(quote.httpStatus).to.equal(101);
    expect(quote.output).to.deep.include({ type: 'quote', symbol: 'ACME', price: 42.5 });
    // The upstream echoed the Authorization header: the record keeps it redacted.
    expect((quote.output as { auth: string }).auth).to.not.contain(WS_TOKEN);
    const stored = await ok(['-n', ns, 'get', 'wfx', execution.metadata.name, '-o', 'yaml']);
    expect(stored).to.not.contain(WS_TOKEN);
  });

  it('answers a repeated request from the cache: marked in the trace, no upstream call', async () => {
    const first = await run('cached-price', { sku: 'lamp' });
    expect(first.status.tasks[0]?.cached).to.equal(undefined);
    const calls = upstream.count('/price/lamp');
    expect(calls).to.equal(1);
    const second = await run('cached-price', { sku: 'lamp' });
    expect(second.status.phase).to.equal('Succeeded');
    expect(second.status.tasks[0]?.cached).to.equal(true);
    expect(second.status.tasks[0]?.output).to.deep.equal(first.status.tasks[0]?.output);
    expect(upstream.count('/price/lamp')).to.equal(1);
    const stored = parse(
      await ok(['-n', ns, 'get', 'wfx', second.metadata.name, '-o', 'yaml']),
    ) as ExecutionObject;
    expect(stored.status.tasks[0]?.cached).to.equal(true);
  });
});
