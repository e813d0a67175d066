// The live-events suites' workflow: three tasks in a chain, each a 300 ms call to the demo upstream,
// slow enough that a watch or a subscriber sees every step. And two server replicas sharing one
// throwaway PostgreSQL with that workflow Ready, for the suites that cross replicas.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEMO_HOST } from '../../examples/demo-upstream/server.ts';
import type { ControlPlane } from './controlplane.ts';
import { repoRoot, SyncflowServer, type SyncflowReplica } from './syncflow-server.ts';

export const SLOW_WORKFLOW = 'three-slow-steps';

/** The WorkflowTask `slow-step` and the Workflow {@link SLOW_WORKFLOW} (a → b → c, 300 ms each). */
export const SLOW_DEFINITIONS = `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: { name: slow-step }
spec:
  inputSchema: { type: object, required: [step], properties: { step: { type: string } } }
  http: { method: GET, url: 'http://${DEMO_HOST}:8080/slow/{{input.step}}?ms=300' }
  timeout: 2s
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: { name: ${SLOW_WORKFLOW} }
spec:
  tasks:
    - { id: a, taskRef: { name: slow-step }, input: { step: a } }
    - { id: b, taskRef: { name: slow-step }, input: { step: '{{tasks.a.output.id}}b' } }
    - { id: c, taskRef: { name: slow-step }, input: { step: '{{tasks.b.output.id}}c' } }
  timeout: 10s
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const run = promisify(execFile);

/** Applies the slow-steps definitions in `namespace` and waits (up to 30 s) for the Workflow to be Ready. */
export async function applySlowSteps(cp: ControlPlane, namespace: string): Promise<void> {
  await cp.kubectl.ok(['-n', namespace, 'apply', '-f', '-'], { stdin: SLOW_DEFINITIONS });
  for (let i = 0; i < 120; i++) {
    const ready = await cp.kubectl.ok([
      '-n',
      namespace,
      'get',
      'workflow',
      SLOW_WORKFLOW,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    if (ready === 'True') return;
    await sleep(250);
  }
}

/** Two replicas on one PostgreSQL: `server` (the APIService's endpoint) and `replica` (direct). */
export interface ReplicaPair {
  server: SyncflowServer;
  replica: SyncflowReplica;
  /** A namespace with {@link SLOW_WORKFLOW} Ready. */
  namespace: string;
  /** Stops both replicas and the database and deletes the namespace; prints the logs when `failed`. */
  stop(failed: boolean): Promise<void>;
}

/** Starts a throwaway PostgreSQL (hack/postgres.sh), the server and a replica on it, and the workflow. */
export async function startReplicaPair(cp: ControlPlane, namespacePrefix: string): Promise<ReplicaPair> {
  const started = await run('bash', [join(repoRoot, 'hack/postgres.sh'), 'start']);
  const databaseUrl = /^export TEST_DATABASE_URL=(.+)$/m.exec(started.stdout)?.[1];
  const pgDir = /^export SYNCFLOW_PG_DIR=(.+)$/m.exec(started.stdout)?.[1];
  if (!databaseUrl)
    throw new Error(`hack/postgres.sh start printed no URL:\n${started.stdout}${started.stderr}`);
  const namespace = await cp.createNamespace(namespacePrefix);
  const server = await SyncflowServer.start(cp, { databaseUrl });
  const replica = await server.startReplica();
  await applySlowSteps(cp, namespace);
  return {
    server,
    replica,
    namespace,
    async stop(failed) {
      if (failed) {
        console.error(`--- replica A log (tail) ---\n${server.logs.slice(-5000)}`);
        console.error(`--- replica B log (tail) ---\n${replica.logs.slice(-5000)}`);
      }
      await replica.stop();
      await server.stop();
      await cp.deleteNamespace(namespace);
      if (pgDir)
        await run('bash', [join(repoRoot, 'hack/postgres.sh'), 'stop', pgDir]).catch(() => undefined);
    },
  };
}
