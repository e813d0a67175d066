/**
 * Memory of the compiled `syncflow server` (what the image runs: `node --max-semi-space-size=32
 * dist/cli/bin.js server`) with an external PostgreSQL: RSS idle after start, and peak RSS with
 * 1,000 executions in flight (each waits on an upstream that holds its answer until all 1,000 are
 * in, then a few seconds more). kube-apiserver is a stand-in in this process (HTTPS, the calls the
 * server makes: the authentication ConfigMap, list+watch of definitions, TokenReview,
 * SubjectAccessReview), so only the server's own memory is measured.
 *
 *   bash hack/build.sh /tmp/a/dist   # each build under test (a dist/ whose parent reaches node_modules)
 *   bash hack/postgres.sh run npx tsx bench/memory/run.ts --build before=/tmp/b/dist --build after=dist \
 *     [--rounds 2] [--in-flight 1000] [--node-flags "--max-semi-space-size=32"] [--out bench/results/memory.json]
 *
 * Builds run alternately (A/B/A/B) and each figure is the median of the rounds. `--variant NAME=FLAGS`
 * adds a run of the last build with other Node flags (e.g. `nosemi=` for V8's default young generation).
 * `--embedded NAME` adds a run of the last build on the embedded PGlite (in memory) instead of the
 * external PostgreSQL; for the external runs, the PostgreSQL server's own memory (the summed PSS of
 * its processes, bench/api/postgres-processes.ts) is reported beside the server's, so the two can be
 * compared whole. `--section NAME` writes the report as that key of `--out` (keeping the others).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { makeBenchPki } from '../api/pki.ts';
import { machine } from '../api/measure.ts';
import { postgresProcesses } from '../api/postgres-processes.ts';

const args = process.argv.slice(2);
const all = (name: string): string[] =>
  args.flatMap((a, i) => (a === name && args[i + 1] ? [args[i + 1]!] : []));
const flag = (name: string): string | undefined => all(name)[0];
const builds: Array<{ name: string; dist: string; nodeFlags: string[]; embedded?: boolean }> = all(
  '--build',
).map((b) => {
  const [name, dist] = b.split('=') as [string, string];
  return {
    name,
    dist,
    nodeFlags: (flag('--node-flags') ?? '--max-semi-space-size=32').split(' ').filter(Boolean),
  };
});
for (const v of all('--variant')) {
  const [name, flags = ''] = v.split('=') as [string, string?];
  const last = builds.at(-1);
  if (last) builds.push({ name, dist: last.dist, nodeFlags: flags.split(' ').filter(Boolean) });
}
for (const name of all('--embedded')) {
  const last = builds.at(-1);
  if (last) builds.push({ ...last, name, embedded: true });
}
const rounds = Number(flag('--rounds') ?? 2);
const section = flag('--section');
const inFlight = Number(flag('--in-flight') ?? 1000);
const out = flag('--out');
const databaseUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
if (builds.length === 0 || !databaseUrl) {
  console.error(
    'usage: hack/postgres.sh run npx tsx bench/memory/run.ts --build NAME=DIST ... (needs TEST_DATABASE_URL)',
  );
  process.exit(2);
}

/** The external PostgreSQL's processes, when it runs on this machine. */
const postgres = await postgresProcesses(databaseUrl);

const NAMESPACE = 'bench';
const TOKEN = 'bench-caller-token';

/** kube-apiserver's part: definitions, the authentication ConfigMap, reviews; watches stay open. */
function fakeKubeApi(pki: { cert: string; key: string }, upstream: string): Server {
  const definitions = {
    workflowtasks: [
      {
        apiVersion: 'syncflow.io/v1alpha1',
        kind: 'WorkflowTask',
        metadata: { name: 'hold', namespace: NAMESPACE, resourceVersion: '1', uid: 't1', generation: 1 },
        spec: { http: { method: 'GET', url: `${upstream}/hold/{{input.id}}` }, timeout: '120s' },
      },
    ],
    workflows: [
      {
        apiVersion: 'syncflow.io/v1alpha1',
        kind: 'Workflow',
        metadata: { name: 'held', namespace: NAMESPACE, resourceVersion: '2', uid: 'w1', generation: 1 },
        spec: {
          inputSchema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
          tasks: [{ id: 'hold', taskRef: { name: 'hold' }, input: { id: '{{input.id}}' } }],
          output: { id: '{{tasks.hold.output.id}}' },
          timeout: '120s',
        },
      },
    ],
  };
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  return createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://x');
      if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
        res.writeHead(200, { 'content-type': 'application/json' }); // open, silent
        return;
      }
      const path = url.pathname;
      const plural = /^\/apis\/syncflow\.io\/v1alpha1\/(workflows|workflowtasks)$/.exec(path)?.[1] as
        keyof typeof definitions | undefined;
      if (req.method === 'GET' && plural)
        return json(res, 200, {
          apiVersion: 'syncflow.io/v1alpha1',
          kind: 'List',
          metadata: { resourceVersion: '2' },
          items: definitions[plural],
        });
      if (path === '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication')
        return json(res, 200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: {} });
      if (req.method === 'POST' && path.endsWith('/tokenreviews')) {
        const review = JSON.parse(body) as { spec?: { token?: string } };
        return json(res, 201, {
          ...review,
          status:
            review.spec?.token === TOKEN
              ? { authenticated: true, user: { username: 'bench', groups: ['bench'] } }
              : { authenticated: false },
        });
      }
      if (req.method === 'POST' && path.endsWith('/subjectaccessreviews'))
        return json(res, 201, { ...(JSON.parse(body) as object), status: { allowed: true } });
      if (req.method === 'PATCH' || (req.method === 'POST' && path.endsWith('/events')))
        return json(res, 200, JSON.parse(body || '{}') as object);
      json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' });
    });
  });
}

/** Holds every `/hold/<id>` answer until released. */
function holdingUpstream() {
  const held: ServerResponse[] = [];
  const server = createHttpServer((req, res) => {
    held.push(res);
    res.on('close', () => undefined);
    void req;
  });
  return {
    server,
    held,
    release() {
      for (const res of held.splice(0))
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"ok"}');
    },
  };
}

async function rss(pid: number): Promise<{ rssMB: number; hwmMB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMB: Math.round(kb('VmRSS') / 1024), hwmMB: Math.round(kb('VmHWM') / 1024) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Round {
  idleMB: number;
  peakMB: number;
  afterMB: number;
  startMs: number;
  /** The external PostgreSQL's summed PSS: idle, and the most of three samples (idle, in flight, after). */
  databaseIdleMB?: number;
  databasePeakMB?: number;
  /** Executions seen in flight at once (upstream calls held). */
  held: number;
  answered: number;
  ok: number;
}

async function measure(
  build: (typeof builds)[number],
  files: { kubeconfig: string; cert: string; key: string; ca: string },
  upstream: ReturnType<typeof holdingUpstream>,
): Promise<Round> {
  const port = await freePort();
  const started = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...build.nodeFlags,
      join(build.dist, 'cli/bin.js'),
      'server',
      '--kubeconfig',
      files.kubeconfig,
      ...(build.embedded ? [] : ['--database-url', databaseUrl as string]),
      '--tls-cert-file',
      files.cert,
      '--tls-private-key-file',
      files.key,
      '--secure-port',
      String(port),
      '--bind-address',
      '127.0.0.1',
      '--egress-allow-loopback',
      '--leader-elect=false',
      // 1,000 TLS handshakes at once delay the loop; shedding would keep executions out of flight.
      '--max-event-loop-delay',
      '0',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  await ready(child, () => output);
  const startMs = Date.now() - started;
  const dispatcher = new Agent({
    connect: { ca: await readFile(files.ca, 'utf8') },
    connections: inFlight + 10,
    pipelining: 0,
  });
  const base = `https://127.0.0.1:${port}`;
  try {
    await sleep(5_000);
    const idle = await rss(child.pid as number);
    // The external PostgreSQL's memory beside the server's (none to read on the embedded PGlite).
    const database = build.embedded ? undefined : postgres;
    const databaseMB = database ? [database.pssMB()] : [];
    // One execution first, so that the caller's TokenReview and SubjectAccessReview are cached
    // (as for a caller in steady state) rather than 1,000 reviews asked at once.
    const warmUp = dispatcher.request({
      origin: base,
      path: `/run/v1/namespaces/${NAMESPACE}/workflows/held`,
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'warm-up' }),
    });
    while (upstream.held.length < 1) await sleep(50);
    upstream.release();
    await (await warmUp).body.text();
    let answered = 0;
    let ok = 0;
    let failure: string | undefined;
    const requests = Array.from({ length: inFlight }, (_, i) =>
      dispatcher
        .request({
          origin: base,
          path: `/run/v1/namespaces/${NAMESPACE}/workflows/held`,
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id: String(i) }),
          headersTimeout: 180_000,
          bodyTimeout: 180_000,
        })
        .then(async (r) => {
          const text = await r.body.text();
          answered++;
          if (r.statusCode === 200) ok++;
          else if (!failure) failure = `HTTP ${r.statusCode}: ${text.slice(0, 300)}`;
        })
        .catch((error: unknown) => {
          answered++;
          failure ??= String(error);
        }),
    );
    const deadline = Date.now() + 90_000;
    while (upstream.held.length < inFlight && Date.now() < deadline && answered === 0) await sleep(100);
    await sleep(3_000); // all in flight: let the collector see it
    const during = await rss(child.pid as number);
    if (database) databaseMB.push(database.pssMB());
    const held = upstream.held.length;
    upstream.release();
    await Promise.all(requests);
    await sleep(2_000);
    const after = await rss(child.pid as number);
    if (database) databaseMB.push(database.pssMB());
    if (failure) console.error(`${build.name}: ${inFlight - ok} of ${inFlight} failed, first: ${failure}`);
    return {
      idleMB: idle.rssMB,
      peakMB: Math.max(during.hwmMB, after.hwmMB),
      afterMB: after.rssMB,
      ...(database
        ? { databaseIdleMB: databaseMB[0] as number, databasePeakMB: Math.max(...databaseMB) }
        : {}),
      startMs,
      held,
      answered,
      ok,
    };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([once(child, 'exit'), sleep(10_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await dispatcher.close();
  }
}

async function ready(child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (output().includes('syncflow server listening')) return;
    if (child.exitCode !== null) throw new Error(`server exited: ${output()}`);
    await sleep(100);
  }
  throw new Error(`server did not start: ${output()}`);
}

async function freePort(): Promise<number> {
  const probe = createNetServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  return port;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
};

/**
 * The external PostgreSQL's memory over the rounds that read it: the medians of its PSS idle and of
 * the most of its three samples (idle, in flight, after), which is not a high-water mark like the
 * server's VmHWM.
 */
function databaseMemory(rs: Round[]): Record<string, number> {
  const read = rs.filter((r) => r.databaseIdleMB !== undefined && r.databasePeakMB !== undefined);
  if (read.length === 0) return {};
  return {
    databaseIdleMB: median(read.map((r) => r.databaseIdleMB as number)),
    databasePeakMB: median(read.map((r) => r.databasePeakMB as number)),
  };
}

const loadBefore = loadavg();
const dir = await mkdtemp(join(tmpdir(), 'syncflow-memory-'));
try {
  const pki = await makeBenchPki();
  const files = {
    cert: join(dir, 'tls.crt'),
    key: join(dir, 'tls.key'),
    ca: join(dir, 'ca.crt'),
    kubeconfig: join(dir, 'kubeconfig'),
  };
  await writeFile(files.cert, pki.serverCert);
  await writeFile(files.key, pki.serverKey);
  await writeFile(files.ca, pki.servingCa);
  const upstream = holdingUpstream();
  upstream.server.listen(0, '127.0.0.1');
  await once(upstream.server, 'listening');
  const upstreamUrl = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
  const kube = fakeKubeApi({ cert: pki.serverCert, key: pki.serverKey }, upstreamUrl);
  kube.listen(0, '127.0.0.1');
  await once(kube, 'listening');
  await writeFile(
    files.kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'k',
          cluster: {
            server: `https://127.0.0.1:${(kube.address() as AddressInfo).port}`,
            'certificate-authority': files.ca,
          },
        },
      ],
      users: [{ name: 'server', user: { token: 'server-token' } }],
      contexts: [{ name: 'k', context: { cluster: 'k', user: 'server' } }],
      'current-context': 'k',
    }),
  );
  const results = new Map<string, Round[]>();
  for (let round = 0; round < rounds; round++)
    for (const build of builds) {
      const result = await measure(build, files, upstream);
      console.error(
        `${build.name} round ${round + 1}: ${JSON.stringify(result)} load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      results.set(build.name, [...(results.get(build.name) ?? []), result]);
    }
  kube.closeAllConnections();
  kube.close();
  upstream.server.closeAllConnections();
  upstream.server.close();
  const report = {
    what: `RSS of the compiled syncflow server with an external PostgreSQL (and that PostgreSQL's summed PSS) or the embedded PGlite: idle 5 s after start, and peak (VmHWM) with ${inFlight} executions in flight (upstream holds every answer), medians of ${rounds} alternating rounds`,
    machine: machine(loadBefore, 'shared 2-core machine; other engineers ran benchmarks and tests meanwhile'),
    inFlight,
    builds: Object.fromEntries(
      builds.map((b) => {
        const rs = results.get(b.name) ?? [];
        return [
          b.name,
          {
            dist: b.dist,
            nodeFlags: b.nodeFlags,
            idleMB: median(rs.map((r) => r.idleMB)),
            peakMB: median(rs.map((r) => r.peakMB)),
            afterMB: median(rs.map((r) => r.afterMB)),
            ...(b.embedded ? { database: 'embedded PGlite, in memory' } : {}),
            ...databaseMemory(rs),
            startMs: median(rs.map((r) => r.startMs)),
            rounds: rs,
          },
        ];
      }),
    ),
  };
  console.log(JSON.stringify(report, null, 2));
  if (out && section) {
    const doc = JSON.parse(await readFile(out, 'utf8').catch(() => '{}')) as Record<string, unknown>;
    doc[section] = report;
    await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);
  } else if (out) await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
