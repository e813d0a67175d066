// `syncflow server --workers 2` behind the real aggregator: two worker processes share the port and
// the primary's embedded database; executions created through kube-apiserver are served by both,
// recorded once, listed from either; a watch served by one worker sees the executions another runs
// while they run (the live fan-out between workers); a killed worker is replaced; SIGTERM stops all.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEMO_HOST, startDemoUpstream, type DemoUpstream } from '../../examples/demo-upstream/server.ts';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';
import { jsonDocuments, LineProcess } from '../harness/line-process.ts';
import { serverArgs, servedThroughAggregator } from '../harness/syncflow-server.ts';

const NS = `e2e-workers-${Date.now().toString(36)}`;

const SLOW = `
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: { name: slow-step }
spec:
  http: { method: GET, url: 'http://${DEMO_HOST}:8080/slow/{{input.step}}?ms=200' }
  inputSchema: { type: object, required: [step], properties: { step: { type: string } } }
  outputSchema: { type: object, required: [id], properties: { id: { type: string } } }
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: { name: two-slow-steps }
spec:
  tasks:
    - { id: a, taskRef: { name: slow-step }, input: { step: a } }
    - { id: b, taskRef: { name: slow-step }, input: { step: '{{tasks.a.output.id}}b' }, dependsOn: [a] }
`;

const execution = (i: number) =>
  JSON.stringify({
    apiVersion: 'execution.syncflow.io/v1alpha1',
    kind: 'WorkflowExecution',
    metadata: { name: `run-${i}`, namespace: NS },
    spec: { workflowRef: { name: 'two-slow-steps' }, input: {} },
  });

/** The log without the routine lines (revisions recorded at start-up drown the rest otherwise). */
const notable = (logs: string) =>
  logs
    .split('\n')
    .filter((l) => !l.includes('"recorded workflow revision"'))
    .join('\n');

/** The pid of each `execution finished` log line, by execution name. */
function servedBy(logs: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const line of logs.split('\n')) {
    if (!line.includes('"execution finished"')) continue;
    const entry = JSON.parse(line) as { pid: number; execution: string };
    pids.set(entry.execution.split('/')[1] as string, entry.pid);
  }
  return pids;
}

describe('syncflow server --workers 2 through kube-apiserver', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let upstream: DemoUpstream;
  let dataDir: string;
  let primary: ChildProcess;
  let logs = '';

  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const result = await cp.kubectl.run(args, stdin !== undefined ? { stdin } : {});
    expect(result.code, `kubectl ${args.join(' ')}: ${result.stderr}`).to.equal(0);
    return result.stdout;
  };
  const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; logs:\n${notable(logs).slice(-6000)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  const listening = () => logs.split('\n').filter((l) => l.includes('"definitions listed"')).length;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await ok(['create', 'namespace', NS]);
    const demoAddress = `127.${100 + (process.pid % 100)}.${Math.floor(Math.random() * 250) + 1}.7`;
    upstream = await startDemoUpstream({ host: demoAddress, port: 8080 });
    dataDir = await mkdtemp(join(tmpdir(), 'syncflow-e2e-workers-'));
    primary = spawn(
      process.execPath,
      [join(repoRoot, 'bin/syncflow.js'), ...serverArgs(cp, { demoAddress, dataDir }), '--workers=2'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const kill = () => primary.kill('SIGKILL');
    process.once('exit', kill);
    primary.once('exit', () => process.off('exit', kill));
    primary.stdout?.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    primary.stderr?.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    // Each worker lists both kinds of definitions.
    await until('both workers to list the definitions', () => listening() >= 4);
    // Both started at the first try (they once raced each other to the embedded database's migrations).
    expect(notable(logs)).not.to.contain('a worker exited');
    await until('the aggregator to serve the workers', () => servedThroughAggregator(cp));
    await ok(['apply', '-n', NS, '-f', '-'], SLOW);
    await until('the workflow to be Ready', async () => {
      const r = await cp.kubectl.run([
        'get',
        'workflow',
        'two-slow-steps',
        '-n',
        NS,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return r.stdout === 'True';
    });
  });

  after(async () => {
    if (primary && primary.exitCode === null) primary.kill('SIGKILL');
    await upstream?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves executions from both workers, records each once, lists them from either, and a watch sees every one run', async () => {
    const watch = LineProcess.start(cp.settings.kubectl, [
      '--kubeconfig',
      cp.kubectl.kubeconfig,
      'get',
      'wfx',
      '-n',
      NS,
      '-w',
      '--output-watch-events',
      '-o',
      'json',
    ]);
    try {
      // The watch reaches one worker, whose interest reaches the other over the database (presence
      // notice): executions that start before that are not shown live (docs/history.md).
      await watch.waitFor('the watch to start', () => (watch.stderr.length >= 0 ? true : undefined), 1_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      // Concurrent creates: the primary hands connections to the workers in turn.
      const count = 16;
      const created = await Promise.all(
        Array.from({ length: count }, (_, i) => ok(['create', '-f', '-', '-o', 'yaml'], execution(i))),
      );
      expect(created.map((y) => (parse(y) as { status: { phase: string } }).status.phase)).to.deep.equal(
        Array(count).fill('Succeeded'),
      );
      // Log lines are written asynchronously (pino): wait for all of them.
      await until('a log line per execution', () => servedBy(logs).size === count, 30_000);
      const pids = servedBy(logs);
      expect(new Set(pids.values()).size, 'distinct worker pids').to.equal(2);
      const listed = parse(await ok(['get', 'wfx', '-n', NS, '-o', 'yaml'])) as {
        items: { metadata: { name: string } }[];
      };
      expect(listed.items.map((i) => i.metadata.name).sort()).to.deep.equal(
        Array.from({ length: count }, (_, i) => `run-${i}`).sort(),
      );
      // Every execution appeared Running in the one watch, whichever worker served the watch.
      const names = Array.from({ length: count }, (_, i) => `run-${i}`).sort();
      const seenRunning = await watch.waitFor(
        'a Running event of every execution',
        () => {
          const running = new Set(
            jsonDocuments(watch.stdout)
              .map(
                (d) => JSON.parse(d) as { object: { metadata: { name: string }; status: { phase: string } } },
              )
              .filter((d) => d.object.status.phase === 'Running')
              .map((d) => d.object.metadata.name),
          );
          return running.size === count ? [...running].sort() : undefined;
        },
        30_000,
      );
      expect(seenRunning).to.deep.equal(names);
    } finally {
      await watch.stop();
    }
  });

  it('replaces a worker that is killed, keeps serving, and stops every worker at SIGTERM', async () => {
    const pids = [...new Set(servedBy(logs).values())];
    process.kill(pids[0] as number, 'SIGKILL');
    await until('a replacement worker to list the definitions', () => listening() >= 6);
    const result = parse(await ok(['create', '-f', '-', '-o', 'yaml'], execution(100))) as {
      status: { phase: string };
    };
    expect(result.status.phase).to.equal('Succeeded');
    let code: number | null | undefined;
    primary.once('exit', (c) => (code = c));
    primary.kill('SIGTERM');
    await until('the primary to exit after SIGTERM', () => code !== undefined, 60_000);
    expect(code).to.equal(0);
    for (const pid of pids.slice(1)) expect(alive(pid), `worker ${pid} still running`).to.equal(false);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
