// The live-events stream and WebSocket watches through the real kube-apiserver (aggregator) and the
// real `syncflow server`: the stream's subresource path with the kubeconfig's own identity and with
// ServiceAccount tokens carried as browsers carry them (subprotocol), RBAC from manifests/base
// (rbac-users.yaml), per-message authorization, and a browser-style Kubernetes watch over WebSocket.
// docs/stream.md is the contract.
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WebSocket, type ClientOptions } from 'ws';
import { StreamClient, type StreamClientMessage, type StreamHandle } from '../../client/stream.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { mintClientIdentity } from '../harness/identity.ts';
import { repoRoot, SyncflowServer } from '../harness/syncflow-server.ts';
import {
  applySlowSteps,
  SLOW_WORKFLOW as WORKFLOW,
  startReplicaPair,
  type ReplicaPair,
} from '../harness/slow-steps.ts';

interface WatchEvent {
  type: string;
  object: { metadata: { name: string }; status: { phase: string; tasks?: { id: string; phase: string }[] } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Messages of a handle until it ends (or `until` says so), within `ms`. */
async function collect(
  handle: StreamHandle,
  until: (message: StreamClientMessage) => boolean = () => false,
  ms = 20_000,
): Promise<StreamClientMessage[]> {
  const out: StreamClientMessage[] = [];
  const timer = setTimeout(() => handle.close(), ms);
  for await (const message of handle) {
    out.push(message);
    if (until(message)) break;
  }
  clearTimeout(timer);
  return out;
}

/** A one-line summary of a stream message: type, task, and for edges from→to. */
const summary = (m: StreamClientMessage): string => {
  if (m.type === 'Signal') return `Signal ${m.from}->${m.to}`;
  if (m.type === 'TaskStarted' || m.type === 'TaskFinished') return `${m.type} ${m.task}`;
  return m.type;
};

const EXPECTED_RUN = [
  'ExecutionStarted',
  'TaskStarted a',
  'TaskFinished a',
  'Signal a->b',
  'TaskStarted b',
  'TaskFinished b',
  'Signal b->c',
  'TaskStarted c',
  'TaskFinished c',
  'ExecutionFinished',
];

describe('the live-events stream and WebSocket watches through kube-apiserver', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let nsX: string;
  let nsY: string;
  let apiserver: string;
  let ca: Buffer;
  let adminTls: ClientOptions;
  const clients: StreamClient[] = [];
  const tokens: Record<string, string> = {};

  const streamUrl = (namespace: string) =>
    `${apiserver}/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions/-/stream`;
  /** A client with the kubeconfig's own identity (its client certificate). */
  const adminClient = (namespace: string) => {
    const client = new StreamClient({
      url: streamUrl(namespace),
      connect: (url, protocols) => new WebSocket(url, protocols, adminTls),
    });
    clients.push(client);
    return client;
  };
  /** A client that carries a ServiceAccount token as a browser does (subprotocol; no header). */
  const tokenClient = (namespace: string, who: string) => {
    const client = new StreamClient({
      url: streamUrl(namespace),
      token: tokens[who],
      connect: (url, protocols) => new WebSocket(url, protocols, { ca, origin: 'https://console.example' }),
    });
    clients.push(client);
    return client;
  };
  const subscribed = async (handle: StreamHandle) => {
    const [first] = await collect(handle, () => true);
    expect(first, JSON.stringify(first)).to.deep.include({ type: 'subscribed' });
  };

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    const kubeConfig = await cp.kubeConfig();
    apiserver = kubeConfig.getCurrentCluster()?.server as string;
    adminTls = {};
    await kubeConfig.applyToHTTPSOptions(adminTls);
    ca = adminTls.ca as Buffer;
    // The user roles as shipped (server-side apply, as the user RBAC suite does).
    await cp.kubectl.ok(['apply', '--server-side', '--field-manager=syncflow-install', '-f', '-'], {
      stdin: await readFile(join(repoRoot, 'manifests/base/rbac-users.yaml'), 'utf8'),
    });
    nsX = await cp.createNamespace('e2e-stream-x');
    nsY = await cp.createNamespace('e2e-stream-y');
    server = await SyncflowServer.start(cp);
    // watcher: syncflow-viewer in X only; runner: syncflow-runner in X only (create, no watch).
    for (const [who, role] of [
      ['watcher', 'syncflow-viewer'],
      ['runner', 'syncflow-runner'],
    ] as const) {
      await cp.kubectl.ok(['-n', nsX, 'create', 'serviceaccount', who]);
      await cp.kubectl.ok([
        '-n',
        nsX,
        'create',
        'rolebinding',
        who,
        `--clusterrole=${role}`,
        `--serviceaccount=${nsX}:${who}`,
      ]);
      tokens[who] = (await cp.kubectl.ok(['-n', nsX, 'create', 'token', who])).trim();
    }
    for (const ns of [nsX, nsY]) await applySlowSteps(cp, ns);
  });

  let failures = 0;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failures++;
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    if (failures > 0 && server)
      console.error(`--- syncflow server log (tail) ---\n${server.logs.slice(-6000)}`);
    await server?.stop();
    for (const ns of [nsX, nsY]) if (ns) await cp.deleteNamespace(ns);
  });

  it('execute with the kubeconfig’s identity streams the events in order and ends with the recorded execution', async () => {
    const run = adminClient(nsX).execute({ namespace: nsX, workflow: WORKFLOW, input: {} });
    const messages = await collect(run);
    expect(messages.map(summary)).to.deep.equal(EXPECTED_RUN);
    const seqs = messages.map((m) => ('seq' in m ? m.seq : -1));
    expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
    const last = messages.at(-1);
    if (last?.type !== 'ExecutionFinished') throw new Error(`ended with ${JSON.stringify(last)}`);
    expect(last.object.status.phase).to.equal('Succeeded');
    expect(last.object.status.user).to.equal('syncflow-dev-admin');
    const stored = JSON.parse(
      await cp.kubectl.ok(['-n', nsX, 'get', 'wfx', last.object.metadata.name, '-o', 'json']),
    ) as { metadata: { uid: string }; status: { phase: string } };
    expect(stored.status.phase).to.equal('Succeeded');
    expect(stored.metadata.uid).to.equal(last.object.metadata.uid);
  });

  it('subscribe (a token as browsers send it) sees another client’s execution, every event in order, ending with the final object', async () => {
    const subscription = tokenClient(nsX, 'watcher').subscribe({ namespace: nsX, workflow: WORKFLOW });
    await subscribed(subscription);
    const run = collect(adminClient(nsX).execute({ namespace: nsX, workflow: WORKFLOW }));
    const seen = await collect(subscription, (m) => m.type === 'ExecutionFinished');
    const own = await run;
    expect(seen.map(summary)).to.deep.equal(EXPECTED_RUN);
    const final = seen.at(-1);
    const ownFinal = own.at(-1);
    if (final?.type !== 'ExecutionFinished' || ownFinal?.type !== 'ExecutionFinished')
      throw new Error('no ExecutionFinished');
    expect(final.object.metadata.name).to.equal(ownFinal.object.metadata.name);
    expect(final.object.status.phase).to.equal('Succeeded');
  });

  it('refuses subscribe to a user without watch in the namespace with a 403 Status (and still runs their execute)', async () => {
    const client = tokenClient(nsX, 'runner');
    const [refused] = await collect(client.subscribe({ namespace: nsX }));
    if (refused?.type !== 'error') throw new Error(`expected an error, got ${JSON.stringify(refused)}`);
    expect(refused.status).to.include({ kind: 'Status', code: 403, reason: 'Forbidden' });
    expect(refused.status.message).to.contain(`system:serviceaccount:${nsX}:runner`);
    const ran = await collect(client.execute({ namespace: nsX, workflow: WORKFLOW }));
    const last = ran.at(-1);
    expect(last?.type === 'ExecutionFinished' && last.object.status.user).to.equal(
      `system:serviceaccount:${nsX}:runner`,
    );
  });

  it('a user bound only in namespace x receives nothing from namespace y', async () => {
    const watcher = tokenClient(nsX, 'watcher');
    const [refused] = await collect(watcher.subscribe({ namespace: nsY }));
    expect(refused?.type === 'error' && refused.status.code).to.equal(403);
    const inX = watcher.subscribe({ namespace: nsX });
    await subscribed(inX);
    const admin = adminClient(nsY);
    await collect(admin.execute({ namespace: nsY, workflow: WORKFLOW }));
    await collect(admin.execute({ namespace: nsX, workflow: WORKFLOW }));
    const seen = await collect(inX, (m) => m.type === 'ExecutionFinished');
    expect(seen.map(summary)).to.deep.equal(EXPECTED_RUN);
    expect(seen.every((m) => 'execution' in m && m.execution.namespace === nsX)).to.equal(true);
    // Nor can the user open the stream's path in y: kube-apiserver refuses get workflowexecutions/stream there.
    const direct = new WebSocket(streamUrl(nsY), [], {
      ca,
      headers: { authorization: `Bearer ${tokens.watcher}` },
    });
    const status = await new Promise<number>((resolve) => {
      direct.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      direct.once('open', () => resolve(101));
      direct.once('error', () => resolve(-1));
    });
    direct.terminate();
    expect(status).to.equal(403);
  });

  it('a debug run pauses before each task with its resolved request; skip uses the substitute, and the record is marked', async () => {
    const client = adminClient(nsX);
    const run = client.execute({ namespace: nsX, workflow: WORKFLOW, debug: { breakpoints: ['*'] } });
    const pauses: string[] = [];
    let final: StreamClientMessage | undefined;
    for await (const message of run) {
      if (message.type === 'paused') {
        const request = message.request as { method: string; url: string };
        pauses.push(`${message.task} ${request.method} ${new URL(request.url).pathname}`);
        if (message.task === 'b') client.skip(run.id, { id: 'sub' });
        else client.continue(run.id);
      }
      if (message.type === 'ExecutionFinished' || message.type === 'error') final = message;
    }
    expect(pauses).to.deep.equal(['a GET /slow/a', 'b GET /slow/ab', 'c GET /slow/subc']);
    if (final?.type !== 'ExecutionFinished') throw new Error(`ended with ${JSON.stringify(final)}`);
    expect(final.object.status.phase).to.equal('Succeeded');
    expect(final.object.status.tasks?.find((t) => t.id === 'b')?.output).to.deep.equal({ id: 'sub' });
    const stored = JSON.parse(
      await cp.kubectl.ok(['-n', nsX, 'get', 'wfx', final.object.metadata.name, '-o', 'json']),
    ) as { metadata: { annotations?: Record<string, string> } };
    expect(stored.metadata.annotations).to.deep.include({ 'syncflow.io/debug': 'true' });
  });

  it('a browser-style WebSocket watch through kube-apiserver receives ADDED Running, MODIFIED per task, MODIFIED Succeeded', async () => {
    const run = `ws-${Date.now().toString(36)}`;
    const bearer = `base64url.bearer.authorization.k8s.io.${Buffer.from(tokens.watcher as string).toString('base64url')}`;
    const path = `/apis/execution.syncflow.io/v1alpha1/namespaces/${nsX}/workflowexecutions?watch=true&labelSelector=run%3D${run}`;
    const ws = new WebSocket(
      `${apiserver.replace(/^https/, 'wss')}${path}`,
      [bearer, 'base64.binary.k8s.io'],
      {
        ca,
        origin: 'https://console.example',
      },
    );
    const events: WatchEvent[] = [];
    ws.on('message', (data, isBinary) => {
      expect(isBinary).to.equal(false);
      events.push(JSON.parse(String(data)) as WatchEvent);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`watch refused: HTTP ${res.statusCode}`)),
      );
      ws.once('error', reject);
    });
    expect(ws.protocol).to.equal('base64.binary.k8s.io');
    // The server subscribes to live executions once the watch is open; give the proxy a moment.
    await sleep(500);
    await collect(adminClient(nsX).execute({ namespace: nsX, workflow: WORKFLOW, labels: { run } }));
    for (let i = 0; i < 100 && events.at(-1)?.object.status.phase !== 'Succeeded'; i++) await sleep(100);
    ws.close();
    const seen = events.map(
      (e) =>
        `${e.type} ${e.object.status.phase} ${(e.object.status.tasks ?? []).map((t) => `${t.id}:${t.phase}`).join(',')}`,
    );
    expect(seen[0]).to.equal('ADDED Running ');
    expect(seen.at(-1)).to.equal('MODIFIED Succeeded a:Succeeded,b:Succeeded,c:Succeeded');
    expect(seen).to.include('MODIFIED Running a:Succeeded,b:Running');
    expect(new Set(events.map((e) => e.object.metadata.name)).size).to.equal(1);
  });
});

describe('the stream across two server replicas sharing one PostgreSQL', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let pair: ReplicaPair | undefined;
  let namespace = '';
  let failed = false;
  const clients: StreamClient[] = [];

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh provide the local server port and the client CA key.
    if (!cp.settings.serverPort || !cp.settings.tlsCertFile || !cp.settings.clientCaFile) this.skip();
    pair = await startReplicaPair(cp, 'e2e-stream-replicas');
    namespace = pair.namespace;
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await pair?.stop(failed);
  });

  it('execute on replica A (through kube-apiserver) while subscribe listens on replica B: B receives every event, in order, ending with the final object', async () => {
    const s = cp.settings;
    const identity = await mintClientIdentity({
      caFile: s.clientCaFile as string,
      caKeyFile: join(dirname(s.clientCaFile as string), 'client-ca.key'),
      identity: { user: 'e2e-stream-replica', groups: ['system:masters'] },
    });
    const [ca, cert, key] = await Promise.all([
      readFile(join(dirname(s.tlsCertFile as string), 'syncflow-ca.crt')),
      readFile(identity.certFile),
      readFile(identity.keyFile),
    ]);
    const onB = new StreamClient({
      url: `https://127.0.0.1:${pair?.replica.port}/stream/v1`,
      connect: (url, protocols) => new WebSocket(url, protocols, { ca, cert, key }),
    });
    clients.push(onB);
    const subscription = onB.subscribe({ namespace, workflow: WORKFLOW });
    const [first] = await collect(subscription, () => true);
    expect(first, JSON.stringify(first)).to.deep.include({ type: 'subscribed' });
    // B announced its interest through the database as it subscribed; A hears it within milliseconds.
    await sleep(1_000);

    const kubeConfig = await cp.kubeConfig();
    const tls: ClientOptions = {};
    await kubeConfig.applyToHTTPSOptions(tls);
    const onA = new StreamClient({
      url: `${kubeConfig.getCurrentCluster()?.server}/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions/-/stream`,
      connect: (url, protocols) => new WebSocket(url, protocols, tls),
    });
    clients.push(onA);
    const own = await collect(onA.execute({ namespace, workflow: WORKFLOW }));
    const seen = await collect(subscription, (m) => m.type === 'ExecutionFinished');
    expect(seen.map(summary)).to.deep.equal(EXPECTED_RUN);
    expect(seen.map((m) => ('seq' in m ? m.seq : 0))).to.deep.equal(own.map((m) => ('seq' in m ? m.seq : 0)));
    const final = seen.at(-1);
    const ownFinal = own.at(-1);
    if (final?.type !== 'ExecutionFinished' || ownFinal?.type !== 'ExecutionFinished')
      throw new Error('no ExecutionFinished');
    expect(final.object.metadata.uid).to.equal(ownFinal.object.metadata.uid);
    expect(final.object.status.phase).to.equal('Succeeded');
  });
});
