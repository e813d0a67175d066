/**
 * Added latency of the aggregated path: creating WorkflowExecutions through
 * kube-apiserver, whose aggregator proxies to the syncflow server, against creating them directly
 * on the syncflow server, at concurrency 1 and 200, with 0 errors required.
 *
 * Everything is real: kube-apiserver + etcd from hack/cp-up.sh (reused when SYNCFLOW_KUBECONFIG is
 * set, e.g. after `. DIR/env.sh`; else started and torn down), the `syncflow server` process with
 * embedded history (test/harness/syncflow-server.ts) and the demo upstream, workflow `user-profile`
 * of examples/. The client is undici with the kubeconfig's admin client certificate: kube-apiserver
 * authenticates it and forwards the user as X-Remote-User over its front-proxy connection; directly,
 * the syncflow server authenticates the same certificate against the cluster client CA. Both paths
 * run SubjectAccessReview (cached) and wait for the history as Kubernetes clients expect. Paired
 * closed loops (each worker alternates the paths); loopback only; bounded request counts.
 *
 *   . DIR/env.sh && npx tsx bench/api/aggregated.ts --out bench/results/api.json
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent } from 'undici';
import { ControlPlane } from '../../test/harness/controlplane.ts';
import { SyncflowServer } from '../../test/harness/syncflow-server.ts';
import {
  benchOptions,
  closedLoop,
  machine,
  pairedLoop,
  round3,
  summary,
  writeSection,
  type Shot,
} from './measure.ts';

const { quick, out } = benchOptions();

/** CPU seconds (user + system) a process has used, from /proc; undefined when unknown. */
function processCpuSeconds(pidFile: string | undefined): number | undefined {
  try {
    if (!pidFile) return undefined;
    const pid = readFileSync(pidFile, 'utf8').trim();
    // Fields after the command name: state is field 3, utime 14 and stime 15 (in clock ticks, 100/s on Linux).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function bytes(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  return file ? readFileSync(file) : undefined;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const cp = await ControlPlane.acquire();
  const s = cp.settings;
  if (!s.serverPort || !s.tlsCertFile)
    throw new Error('needs a control plane from hack/cp-up.sh (SYNCFLOW_SERVER_* variables)');
  const kubeConfig = await cp.kubeConfig();
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  const cert = bytes(user?.certFile, user?.certData);
  const key = bytes(user?.keyFile, user?.keyData);
  if (!cluster || !cert || !key)
    throw new Error('the kubeconfig must use a client certificate (hack/cp-up.sh writes one)');
  const apiserverCa = bytes(cluster.caFile, cluster.caData);
  const syncflowCa = readFileSync(join(dirname(s.tlsCertFile), 'syncflow-ca.crt'));
  const apiserverPid = s.dir ? join(s.dir, 'pids', 'kube-apiserver.pid') : undefined;
  const version = (await cp.kubectl.ok(['version', '-o', 'json'])) as string;

  const ns = await cp.createNamespace('bench-agg');
  await cp.installExamples(ns, 'bench-token');
  const server = await SyncflowServer.start(cp);
  const viaApiserver = new Agent({
    connect: { ...(apiserverCa ? { ca: apiserverCa } : {}), cert, key },
    connections: null,
    keepAliveTimeout: 30_000,
  });
  const direct = new Agent({
    connect: { ca: syncflowCa, cert, key },
    connections: null,
    keepAliveTimeout: 30_000,
  });
  try {
    const path = `/apis/execution.syncflow.io/v1alpha1/namespaces/${ns}/workflowexecutions`;
    const body = JSON.stringify({
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: { generateName: 'user-profile-', labels: { bench: 'aggregated' } },
      spec: { workflowRef: { name: 'user-profile' }, input: { userId: '42' } },
    });
    const shot =
      (agent: Agent, origin: string): Shot =>
      async () => {
        const res = await agent.request({
          origin,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body,
        });
        const text = await res.body.text();
        if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${text.slice(0, 300)}`);
        const phase = (JSON.parse(text) as { status?: { phase?: string } }).status?.phase;
        if (phase !== 'Succeeded') throw new Error(`execution ${phase}`);
      };
    const aggregated = shot(viaApiserver, cluster.server.replace(/\/+$/, ''));
    const straight = shot(direct, `https://127.0.0.1:${s.serverPort}`);

    for (const target of [aggregated, straight]) {
      const warm = await closedLoop(target, 8, quick ? 50 : 300);
      if (warm.errors) throw new Error(`warm-up failed: ${warm.firstError}`);
    }

    const results: Record<string, unknown> = {};
    let errors = 0;
    for (const concurrency of [1, 200]) {
      const total = concurrency === 1 ? (quick ? 100 : 600) : quick ? 800 : 4_000;
      const apiserverCpu0 = processCpuSeconds(apiserverPid);
      const { a, b } = await pairedLoop(aggregated, straight, concurrency, total);
      const apiserverCpu1 = processCpuSeconds(apiserverPid);
      errors += a.errors + b.errors;
      const as = summary(a.latencies);
      const ds = summary(b.latencies);
      results[`c${concurrency}`] = {
        requests: { aggregated: a.latencies.length + a.errors, direct: b.latencies.length + b.errors },
        errors: {
          aggregated: a.errors,
          direct: b.errors,
          ...(a.firstError || b.firstError ? { first: a.firstError ?? b.firstError } : {}),
        },
        executionsPerSecond: round3((a.latencies.length + b.latencies.length) / a.seconds),
        aggregatedMs: as,
        directMs: ds,
        addedLatencyMs: {
          p50: round3(as.p50 - ds.p50),
          p90: round3(as.p90 - ds.p90),
          p99: round3(as.p99 - ds.p99),
        },
        ...(apiserverCpu0 !== undefined && apiserverCpu1 !== undefined
          ? {
              kubeApiserverCpuMsPerAggregatedRequest: round3(
                ((apiserverCpu1 - apiserverCpu0) * 1000) / (a.latencies.length + a.errors),
              ),
            }
          : {}),
      };
      process.stderr.write(`c=${concurrency}: ${JSON.stringify(results[`c${concurrency}`])}\n`);
    }

    const kube = JSON.parse(version) as { serverVersion?: { gitVersion?: string } };
    const result = {
      date: new Date().toISOString(),
      machine: machine(
        loadBefore,
        'shared 2-core VM; kube-apiserver, etcd, the syncflow server, the demo upstream and this driver all share its 2 cores',
      ),
      method: {
        controlPlane: `kube-apiserver ${kube.serverVersion?.gitVersion ?? '?'} + etcd from hack/cp-up.sh, 127.0.0.1`,
        server:
          'the real `syncflow server` process (test/harness/syncflow-server.ts): embedded PGlite history, informers, SubjectAccessReview against kube-apiserver',
        workflow:
          'examples/user-profile.yaml against the demo upstream (examples/demo-upstream), input {userId: "42"}',
        request:
          'POST workflowexecutions (create = synchronous run, 201 with the finished object; waits for the history)',
        client: 'undici, keep-alive, the admin client certificate of the kubeconfig on both paths',
        driver: 'paired closed loop: each worker alternates aggregated and direct creates',
        kubeApiserverCpu:
          'CPU time of the kube-apiserver process during the loop (/proc) divided by the aggregated requests; includes its SubjectAccessReviews for both paths (mostly cached) and background work',
      },
      results,
      targets: {
        zeroErrors: { errors, met: errors === 0 },
      },
    };
    const text = `${JSON.stringify(result, null, 2)}\n`;
    if (out) await writeSection(out, 'aggregated', result);
    process.stdout.write(text);
  } finally {
    await viaApiserver.close();
    await direct.close();
    await server.stop();
    await cp.deleteNamespace(ns);
    await cp.stop();
  }
}

await main();
