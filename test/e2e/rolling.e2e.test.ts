// Two replicas of the real `syncflow server` sharing one PostgreSQL, run as production runs them:
// under a steady load of executions through both (replica A through kube-apiserver's aggregator and
// directly, replica B directly, as a Service spreads callers), one replica restarted and then the
// other, and the leader of the status controller stopped. Clients retry only what a Service would
// route away from a replica that is going away (connection errors, 503). No execution fails, none
// the server answered for is missing from the history, and both replicas list the same history.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ControlPlane } from '../harness/controlplane.ts';
import { mintClientIdentity } from '../harness/identity.ts';
import { repoRoot, SyncflowServer, type SyncflowReplica } from '../harness/syncflow-server.ts';
import { DEMO_HOST } from '../../examples/demo-upstream/server.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const WORKFLOW = 'two-steps';
const DEFINITIONS = `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: { name: step }
spec:
  inputSchema: { type: object, required: [step], properties: { step: { type: string } } }
  outputSchema: { type: object, required: [id], properties: { id: { type: string } } }
  http: { method: GET, url: 'http://${DEMO_HOST}:8080/slow/{{input.step}}?ms=20' }
  timeout: 5s
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: { name: ${WORKFLOW} }
spec:
  tasks:
    - { id: a, taskRef: { name: step }, input: { step: a } }
    - { id: b, taskRef: { name: step }, input: { step: '{{tasks.a.output.id}}b' } }
  output: { id: '{{tasks.b.output.id}}' }
  timeout: 20s
`;

/** Short Lease timings, so a hand-over fits in a test (the defaults are 15 s, 10 s, 2 s). */
const LEASE_DURATION_S = 4;
const RETRY_PERIOD_MS = 500;
const LEADER_ELECTION = [
  '--leader-elect=true',
  `--leader-elect-lease-duration=${LEASE_DURATION_S}s`,
  '--leader-elect-renew-deadline=3s',
  `--leader-elect-retry-period=${RETRY_PERIOD_MS}ms`,
];
const LEASE_NAME = 'syncflow-controller';

/** TLS material of a route: the server's CA, and the client certificate the test calls with. */
interface Tls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** One way to start an execution: the gateway of a replica, or `create` through kube-apiserver. */
interface Route {
  name: string;
  host: string;
  port: number;
  tls: Tls;
  agent: Agent;
  kind: 'gateway' | 'aggregator';
}

/** What a route answered. */
type Outcome =
  | { kind: 'accepted'; name: string; uid?: string; phase: string; detail?: string }
  /** Nothing was started: the replica is going away or gone (a Service would route elsewhere). */
  | { kind: 'unavailable'; detail: string }
  | { kind: 'shed'; retryAfterMs: number }
  | { kind: 'error'; detail: string };

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(
  route: Route,
  method: string,
  path: string,
  body?: string,
  timeoutMs = 30_000,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: route.host,
        port: route.port,
        method,
        path,
        agent: route.agent,
        ...route.tls,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Connection-level failures: the request never reached a replica that could answer it. */
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

async function startExecution(route: Route, namespace: string, client: string): Promise<Outcome> {
  let response: Response;
  try {
    response =
      route.kind === 'gateway'
        ? await send(route, 'POST', `/run/v1/namespaces/${namespace}/workflows/${WORKFLOW}`, '{}')
        : await send(
            route,
            'POST',
            `/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions`,
            JSON.stringify({
              apiVersion: 'execution.syncflow.io/v1alpha1',
              kind: 'WorkflowExecution',
              metadata: { generateName: `${WORKFLOW}-`, labels: { client } },
              spec: { workflowRef: { name: WORKFLOW }, input: {} },
            }),
          );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const message = (error as Error).message;
    if (CONNECTION_ERRORS.has(code) || message === 'socket hang up')
      return { kind: 'unavailable', detail: `${route.name}: ${code || message}` };
    return { kind: 'error', detail: `${route.name}: ${code} ${message}` };
  }
  const { status, headers, body } = response;
  if (status === 503) return { kind: 'unavailable', detail: `${route.name}: 503 ${body.slice(0, 200)}` };
  if (status === 429) {
    const seconds = Number(headers['retry-after'] ?? 1);
    return { kind: 'shed', retryAfterMs: (Number.isFinite(seconds) ? seconds : 1) * 1000 };
  }
  if (route.kind === 'gateway') {
    const recorded = headers['syncflow-execution'];
    if (typeof recorded === 'string') {
      const name = recorded.split('/')[1] as string;
      return status === 200
        ? { kind: 'accepted', name, phase: 'Succeeded' }
        : { kind: 'accepted', name, phase: 'Failed', detail: `${status} ${body.slice(0, 300)}` };
    }
  } else if (status === 201) {
    const created = JSON.parse(body) as {
      metadata: { name: string; uid: string };
      status: { phase: string; reason?: string; message?: string };
    };
    return {
      kind: 'accepted',
      name: created.metadata.name,
      uid: created.metadata.uid,
      phase: created.status.phase,
      detail: `${created.status.reason ?? ''} ${created.status.message ?? ''}`,
    };
  }
  return { kind: 'error', detail: `${route.name}: ${status} ${body.slice(0, 300)}` };
}

/** An execution a client got an answer for. */
interface Accepted {
  name: string;
  uid?: string;
  phase: string;
  route: string;
  detail?: string;
}

/** What a load run measured. */
interface LoadReport {
  executions: number;
  byRoute: Record<string, number>;
  /** Attempts retried on another route after a connection error or a 503. */
  retries: number;
  retriesByReason: Record<string, number>;
  /** 429 answers (load shed), retried after Retry-After, by route. */
  shed: number;
  shedByRoute: Record<string, number>;
  failed: Accepted[];
  errors: string[];
  durationMs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Clients that each start executions one after another over the routes in turn until stopped.
 * A connection error or a 503 moves the attempt to the next route (as a Service would); a 429 waits
 * for Retry-After; anything else is an error and is not retried.
 */
class LoadGenerator {
  readonly accepted: Accepted[] = [];
  private readonly latencies: number[] = [];
  private readonly retryReasons = new Map<string, number>();
  private retries = 0;
  private readonly shedByRoute = new Map<string, number>();
  private readonly errors: string[] = [];
  private stopping = false;
  private readonly started = Date.now();
  private readonly clients: Promise<void>[];

  constructor(
    private readonly routes: Route[],
    private readonly namespace: string,
    concurrency: number,
  ) {
    this.clients = Array.from({ length: concurrency }, (_, i) => this.client(i));
  }

  get count(): number {
    return this.accepted.length;
  }

  private async client(index: number): Promise<void> {
    let next = index;
    while (!this.stopping) {
      const began = Date.now();
      let route = this.routes[next++ % this.routes.length] as Route;
      for (let attempt = 0; ; attempt++) {
        const outcome = await startExecution(route, this.namespace, `c${index}`);
        if (outcome.kind === 'accepted') {
          this.latencies.push(Date.now() - began);
          this.accepted.push({
            name: outcome.name,
            phase: outcome.phase,
            route: route.name,
            ...(outcome.uid ? { uid: outcome.uid } : {}),
            ...(outcome.detail ? { detail: outcome.detail } : {}),
          });
          break;
        }
        if (outcome.kind === 'error' || attempt >= 200) {
          this.errors.push(outcome.kind === 'error' ? outcome.detail : `gave up after ${attempt} attempts`);
          break;
        }
        if (outcome.kind === 'shed') {
          this.shedByRoute.set(route.name, (this.shedByRoute.get(route.name) ?? 0) + 1);
          await sleep(outcome.retryAfterMs);
          continue;
        }
        this.retries++;
        const reason = outcome.detail.replace(/(: 503).*$/s, '$1');
        this.retryReasons.set(reason, (this.retryReasons.get(reason) ?? 0) + 1);
        route = this.routes[next++ % this.routes.length] as Route;
        await sleep(20);
      }
    }
  }

  /** Stops the clients after their current execution; resolves with the figures. */
  async stop(): Promise<LoadReport> {
    this.stopping = true;
    await Promise.all(this.clients);
    const durationMs = Date.now() - this.started;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const byRoute: Record<string, number> = {};
    for (const a of this.accepted) byRoute[a.route] = (byRoute[a.route] ?? 0) + 1;
    return {
      executions: this.accepted.length,
      byRoute,
      retries: this.retries,
      retriesByReason: Object.fromEntries(this.retryReasons),
      shed: [...this.shedByRoute.values()].reduce((a, b) => a + b, 0),
      shedByRoute: Object.fromEntries(this.shedByRoute),
      failed: this.accepted.filter((a) => a.phase !== 'Succeeded'),
      errors: this.errors,
      durationMs,
      perSecond: Math.round((this.accepted.length / durationMs) * 1000),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
    };
  }
}

/** An execution as a list shows it, reduced to what must be the same from every replica. */
interface Listed {
  name: string;
  uid: string;
  resourceVersion: string;
  phase: string;
  labels: Record<string, string>;
}

interface ExecutionList {
  metadata: { continue?: string };
  items: {
    metadata: { name: string; uid: string; resourceVersion: string; labels?: Record<string, string> };
    status: { phase: string };
  }[];
}

const listed = (list: ExecutionList): Listed[] =>
  list.items.map((i) => ({
    name: i.metadata.name,
    uid: i.metadata.uid,
    resourceVersion: i.metadata.resourceVersion,
    phase: i.status.phase,
    labels: i.metadata.labels ?? {},
  }));

/** Executions a server process finished between "shutting down" and "shut down" (its log lines). */
function finishedWhileShuttingDown(logs: string): number {
  let draining = false;
  let finished = 0;
  for (const line of logs.split('\n')) {
    if (line.includes('"shutting down: finishing in-flight executions"')) draining = true;
    else if (line.includes('"msg":"shut down"')) draining = false;
    else if (draining && line.includes('"execution finished"')) finished++;
  }
  return finished;
}

describe('two server replicas sharing one PostgreSQL under load: rolling restart, leader hand-over, one history', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let pgDir: string | undefined;
  let server: SyncflowServer | undefined;
  let replica: SyncflowReplica | undefined;
  let leaseNamespace = '';
  const namespaces: string[] = [];
  let failed = false;
  let tls: Tls;
  let apiserver: { host: string; port: number; ca: Buffer };
  const agents: Agent[] = [];

  /** Routes to both replicas: A directly and through kube-apiserver, B directly. */
  const routes = (): Route[] => {
    const route = (name: string, kind: Route['kind'], host: string, port: number, ca: Buffer): Route => {
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      agents.push(agent);
      return { name, kind, host, port, tls: { ...tls, ca }, agent };
    };
    return [
      route('A direct', 'gateway', '127.0.0.1', server?.port as number, tls.ca),
      route('B direct', 'gateway', '127.0.0.1', replica?.port as number, tls.ca),
      route('A via kube-apiserver', 'aggregator', apiserver.host, apiserver.port, apiserver.ca),
    ];
  };

  const direct = (port: number): Route => {
    const agent = new Agent({ keepAlive: false });
    agents.push(agent);
    return { name: `:${port}`, kind: 'gateway', host: '127.0.0.1', port, tls, agent };
  };

  /** Every execution of a namespace as replica B lists it itself, page by page. */
  const listFromB = async (namespace?: string): Promise<Listed[]> => {
    const items: Listed[] = [];
    const base = namespace
      ? `/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions`
      : '/apis/execution.syncflow.io/v1alpha1/workflowexecutions';
    let token: string | undefined;
    do {
      const page = await send(
        direct(replica?.port as number),
        'GET',
        `${base}?limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
      );
      expect(page.status, page.body.slice(0, 500)).to.equal(200);
      const list = JSON.parse(page.body) as ExecutionList;
      items.push(...listed(list));
      token = list.metadata.continue || undefined;
    } while (token);
    return items;
  };

  /** Every execution of a namespace as `kubectl get wfx` lists it (kube-apiserver → replica A). */
  const listWithKubectl = async (namespace?: string): Promise<Listed[]> =>
    listed(
      await cp.kubectl.json<ExecutionList>(['get', 'wfx', ...(namespace ? ['-n', namespace] : ['-A'])], {
        timeoutMs: 120_000,
      }),
    );

  const byName = (items: Listed[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));

  /**
   * Waits until the history holds every execution the clients were answered for (history writes
   * are batched), then checks the figures: nothing failed, lost, duplicated or unanswered.
   */
  const expectHistoryOf = async (namespace: string, report: LoadReport, accepted: Accepted[]) => {
    expect(report.errors, 'answers other than success, a connection error, 503 or 429').to.deep.equal([]);
    expect(
      report.failed.map((f) => `${f.name} ${f.phase} ${f.detail ?? ''}`),
      'failed executions',
    ).to.deep.equal([]);
    const names = accepted.map((a) => a.name);
    expect(new Set(names).size, 'duplicate names among the answered executions').to.equal(names.length);
    let fromB: Listed[] = [];
    const deadline = Date.now() + 30_000;
    do {
      fromB = await listFromB(namespace);
      if (fromB.length >= accepted.length) break;
      await sleep(500);
    } while (Date.now() < deadline);
    const recorded = new Map(fromB.map((e) => [e.name, e]));
    const lost = accepted.filter((a) => !recorded.has(a.name)).map((a) => `${a.name} (${a.route})`);
    expect(lost, 'answered executions missing from the history').to.deep.equal([]);
    const uids = accepted.filter((a) => a.uid && recorded.get(a.name)?.uid !== a.uid);
    expect(uids, 'answered executions recorded with another uid').to.deep.equal([]);
    const answered = new Set(names);
    const unanswered = fromB.filter((e) => !answered.has(e.name)).map((e) => `${e.name} ${e.phase}`);
    expect(unanswered, 'recorded executions no client was answered for').to.deep.equal([]);
    expect(new Set(fromB.map((e) => e.name)).size, 'duplicate names in the history').to.equal(fromB.length);
    expect(
      fromB.filter((e) => e.phase !== 'Succeeded').map((e) => `${e.name} ${e.phase}`),
      'recorded executions that did not succeed',
    ).to.deep.equal([]);
    const fromA = await listWithKubectl(namespace);
    expect(byName(fromA), 'kubectl get wfx (replica A) and replica B list the same history').to.deep.equal(
      byName(fromB),
    );
  };

  const leaseHolder = async (): Promise<{ holder: string; durationSeconds: number }> => {
    const lease = await cp.kubectl.json<{
      spec: { holderIdentity?: string; leaseDurationSeconds?: number };
    }>(['-n', leaseNamespace, 'get', 'lease', LEASE_NAME]);
    return { holder: lease.spec.holderIdentity ?? '', durationSeconds: lease.spec.leaseDurationSeconds ?? 0 };
  };

  const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(100);
    }
  };

  const ready = (namespace: string, workflow: string) =>
    cp.kubectl.ok([
      '-n',
      namespace,
      'get',
      'workflow',
      workflow,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);

  const namespaceWithWorkflow = async (prefix: string): Promise<string> => {
    const namespace = await cp.createNamespace(prefix);
    namespaces.push(namespace);
    await cp.kubectl.ok(['-n', namespace, 'apply', '-f', '-'], { stdin: DEFINITIONS });
    await until(
      `${namespace}/${WORKFLOW} to be Ready`,
      async () => ((await ready(namespace, WORKFLOW)) === 'True' ? true : undefined),
      60_000,
    );
    // Ready is the leader's verdict; each replica runs the workflow once its own informers have
    // every definition (on a loaded machine, seconds later). A dry run asks each without recording.
    for (const port of [server?.port as number, replica?.port as number]) {
      const route = direct(port);
      await until(
        `${namespace}/${WORKFLOW} to be runnable on the replica at :${port}`,
        async () => {
          const { status } = await send(
            route,
            'POST',
            `/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions?dryRun=All`,
            JSON.stringify({
              apiVersion: 'execution.syncflow.io/v1alpha1',
              kind: 'WorkflowExecution',
              metadata: { generateName: `${WORKFLOW}-` },
              spec: { workflowRef: { name: WORKFLOW }, input: {} },
            }),
          );
          return status === 201 ? true : undefined;
        },
        60_000,
      );
    }
    return namespace;
  };

  before(async function () {
    cp = await ControlPlane.acquire();
    const s = cp.settings;
    // Only control planes from hack/cp-up.sh provide the local server port and the client CA key.
    if (!s.serverPort || !s.tlsCertFile || !s.clientCaFile) this.skip();
    const started = await run('bash', [join(repoRoot, 'hack/postgres.sh'), 'start']);
    const databaseUrl = /^export TEST_DATABASE_URL=(.+)$/m.exec(started.stdout)?.[1];
    pgDir = /^export SYNCFLOW_PG_DIR=(.+)$/m.exec(started.stdout)?.[1];
    if (!databaseUrl)
      throw new Error(`hack/postgres.sh start printed no URL:\n${started.stdout}${started.stderr}`);
    leaseNamespace = await cp.createNamespace('e2e-rolling-lease');
    const election = [...LEADER_ELECTION, `--leader-election-namespace=${leaseNamespace}`];
    server = await SyncflowServer.start(cp, {
      databaseUrl,
      extraArgs: [...election, '--pod-name=replica-a'],
    });
    replica = await server.startReplica({ extraArgs: [...election, '--pod-name=replica-b'] });

    const identity = await mintClientIdentity({
      caFile: s.clientCaFile as string,
      caKeyFile: join(dirname(s.clientCaFile as string), 'client-ca.key'),
      identity: { user: 'e2e-rolling-load', groups: ['system:masters'] },
    });
    tls = {
      ca: readFileSync(join(dirname(s.tlsCertFile as string), 'syncflow-ca.crt')),
      cert: readFileSync(identity.certFile),
      key: readFileSync(identity.keyFile),
    };
    const cluster = (await cp.kubeConfig()).getCurrentCluster();
    if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
    const url = new URL(cluster.server);
    apiserver = {
      host: url.hostname,
      port: Number(url.port || 443),
      ca: cluster.caData ? Buffer.from(cluster.caData, 'base64') : readFileSync(cluster.caFile as string),
    };
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    if (failed) {
      console.error(`--- replica A log (tail) ---\n${server?.logs.slice(-6000) ?? ''}`);
      console.error(`--- replica B log (tail) ---\n${replica?.logs.slice(-6000) ?? ''}`);
    }
    for (const agent of agents) agent.destroy();
    await replica?.stop();
    await server?.stop();
    for (const namespace of [...namespaces, leaseNamespace].filter(Boolean))
      await cp.deleteNamespace(namespace);
    if (pgDir) await run('bash', [join(repoRoot, 'hack/postgres.sh'), 'stop', pgDir]).catch(() => undefined);
  });

  it('restarts replica B, then replica A, while 2,000 executions run through both: none fails, none is lost, none is recorded twice', async () => {
    const namespace = await namespaceWithWorkflow('e2e-rolling');
    const load = new LoadGenerator(routes(), namespace, 12);
    await until(
      'some executions before the first restart',
      async () => (load.count >= 150 ? true : undefined),
      60_000,
    );
    const restarts: Record<string, { stopMs: number; drainedExecutions: number; startMs: number }> = {};
    // SIGTERM, a pause with the replica gone, then the same command on the same port.
    const restart = async (name: string, target: SyncflowServer | SyncflowReplica) => {
      const began = Date.now();
      const logOffset = target.logs.length;
      let stopMs = 0;
      await target.restart({
        whileStopped: async () => {
          stopMs = Date.now() - began;
          await sleep(1_000);
        },
      });
      expect(target.lastExit, `${name} exits cleanly at SIGTERM`).to.deep.equal({ code: 0, signal: null });
      restarts[name] = {
        stopMs,
        drainedExecutions: finishedWhileShuttingDown(target.logs.slice(logOffset)),
        startMs: Date.now() - began - stopMs - 1_000,
      };
    };
    await restart('B', replica as SyncflowReplica);
    await until('executions on the restarted B', async () => (load.count >= 700 ? true : undefined), 60_000);
    await restart('A', server as SyncflowServer);
    const afterRestarts = load.count;
    await until(
      '2,000 executions, a few hundred of them after both restarts',
      async () => (load.count >= Math.max(2_000, afterRestarts + 300) ? true : undefined),
      120_000,
    );
    const report = await load.stop();
    console.log(
      `      rolling restart: ${JSON.stringify({ ...report, failed: report.failed.length, errors: report.errors.length, restarts })}`,
    );
    expect(report.executions).to.be.at.least(2_000);
    expect(Object.keys(report.byRoute).sort(), 'every route served executions').to.deep.equal(
      ['A direct', 'A via kube-apiserver', 'B direct'].sort(),
    );
    await expectHistoryOf(namespace, report, load.accepted);
  });

  /** What a hand-over measured. */
  interface HandOver {
    from: string;
    to: string;
    /** From the leader's exit to the other replica holding the Lease. */
    handOverMs: number;
    /** From creating a Workflow after the hand-over to its Ready condition (new leader's controller). */
    readyMs: number;
  }

  /**
   * Stops the leader (found from the Lease), waits for the other replica to hold the Lease within
   * `withinMs`, creates a Workflow that only the new leader's status controller can make Ready, and
   * starts the old leader again, which then follows.
   */
  const handOver = async (
    namespace: string,
    workflow: string,
    signal: 'SIGTERM' | 'SIGKILL',
    withinMs: number,
  ): Promise<HandOver> => {
    const { holder, durationSeconds } = await leaseHolder();
    expect(durationSeconds, 'the Lease carries --leader-elect-lease-duration').to.equal(LEASE_DURATION_S);
    expect(['replica-a', 'replica-b']).to.include(holder);
    const [leader, follower] =
      holder === 'replica-a'
        ? [server as SyncflowServer, { name: 'replica-b', process: replica as SyncflowReplica }]
        : [replica as SyncflowReplica, { name: 'replica-a', process: server as SyncflowServer }];
    const followerLogOffset = follower.process.logs.length;
    let handOverMs = -1;
    let readyMs = -1;
    await leader.restart({
      signal,
      whileStopped: async () => {
        const stopped = Date.now();
        await until(
          `${follower.name} to hold the Lease`,
          async () => ((await leaseHolder()).holder === follower.name ? true : undefined),
          withinMs,
        );
        handOverMs = Date.now() - stopped;
        // Only the new leader runs the status controller now: a new Workflow becomes Ready.
        await cp.kubectl.ok(['-n', namespace, 'apply', '-f', '-'], {
          stdin: DEFINITIONS.replace(`name: ${WORKFLOW} }`, `name: ${workflow} }`),
        });
        const created = Date.now();
        await until(
          `the Workflow ${workflow} created after the hand-over to be Ready`,
          async () => ((await ready(namespace, workflow)) === 'True' ? true : undefined),
          20_000,
        );
        readyMs = Date.now() - created;
      },
    });
    if (signal === 'SIGTERM')
      expect(leader.lastExit, 'the leader exits cleanly').to.deep.equal({ code: 0, signal: null });
    const status = await cp.kubectl.json<{
      status: { observedGeneration?: number; revision?: string; parallelGroups?: string[][] };
    }>(['-n', namespace, 'get', 'workflow', workflow]);
    expect(status.status.observedGeneration).to.equal(1);
    expect(status.status.revision).to.match(/^sha256:/);
    expect(status.status.parallelGroups).to.deep.equal([['a'], ['b']]);
    expect(follower.process.logs.slice(followerLogOffset)).to.contain('became leader');
    // The restarted replica follows: the Lease stays where it went.
    await sleep(LEASE_DURATION_S * 1000);
    expect((await leaseHolder()).holder, 'the Lease after the old leader is back').to.equal(follower.name);
    return { from: holder, to: follower.name, handOverMs, readyMs };
  };

  it('hands the Lease to the other replica within the lease duration when the leader stops (SIGTERM) under load, and the status controller goes on there', async () => {
    const namespace = await namespaceWithWorkflow('e2e-handover');
    const load = new LoadGenerator(routes(), namespace, 12);
    await until(
      'executions before the hand-over',
      async () => (load.count >= 200 ? true : undefined),
      60_000,
    );
    // A leader shutting down releases the Lease; the other replica takes it at its next attempt.
    const measured = await handOver(namespace, 'after-hand-over', 'SIGTERM', LEASE_DURATION_S * 1000);
    const atHandOver = load.count;
    await until(
      'executions after the hand-over',
      async () => (load.count >= atHandOver + 200 ? true : undefined),
      60_000,
    );
    const report = await load.stop();
    console.log(
      `      leader hand-over: ${JSON.stringify({ ...measured, ...report, failed: report.failed.length, errors: report.errors.length })}`,
    );
    expect(measured.handOverMs).to.be.within(0, LEASE_DURATION_S * 1000);
    await expectHistoryOf(namespace, report, load.accepted);
  });

  it('hands the Lease over once it expires when the leader is killed (SIGKILL): after the lease duration, within it plus two retry periods', async () => {
    const namespace = await namespaceWithWorkflow('e2e-crash');
    // Nobody releases the Lease: the other replica takes it once unchanged for the lease duration by
    // its own clock, counted from the last renewal it saw (at most one retry period before the kill)
    // and checked once per retry period. kubectl's polling adds a little.
    const retryMs = RETRY_PERIOD_MS;
    const measured = await handOver(
      namespace,
      'after-crash',
      'SIGKILL',
      LEASE_DURATION_S * 1000 + 2 * retryMs + 1_500,
    );
    console.log(`      leader killed: ${JSON.stringify(measured)}`);
    expect(measured.handOverMs).to.be.within(
      LEASE_DURATION_S * 1000 - 2 * retryMs,
      LEASE_DURATION_S * 1000 + 2 * retryMs + 1_500,
    );
  });

  it('lists the same history from both replicas: kubectl get wfx through kube-apiserver (replica A) and replica B directly', async () => {
    const fromA = byName(await listWithKubectl());
    const fromB = byName(await listFromB());
    expect(fromA.length).to.be.at.least(2_000);
    expect(fromA).to.deep.equal(fromB);
    const table = await cp.kubectl.ok(['get', 'wfx', '-A', '--no-headers'], { timeoutMs: 120_000 });
    expect(table.trim().split('\n')).to.have.length(fromB.length);
  });
});
