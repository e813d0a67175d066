// Two replicas of the real `syncflow server` sharing one PostgreSQL (DESIGN §9): an execution created
// through kube-apiserver runs on replica A (the APIService's endpoint), and a Kubernetes watch opened
// directly on replica B sees it live — ADDED Running, MODIFIED per task, MODIFIED Succeeded — carried
// by the live fan-out through the database.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { ClientRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { ControlPlane } from '../harness/controlplane.ts';
import { mintClientIdentity } from '../harness/identity.ts';
import { SLOW_WORKFLOW as WORKFLOW, startReplicaPair, type ReplicaPair } from '../harness/slow-steps.ts';

interface Execution {
  metadata: { name: string; uid: string };
  status: { phase: string; tasks?: { id: string; phase: string }[] };
}

interface WatchEvent {
  type: string;
  object: Execution;
}

/** What a watch of one three-task execution shows, event by event (type, phase, task phases). */
const RUN_SEQUENCE = [
  'ADDED Running ',
  'MODIFIED Running a:Running',
  'MODIFIED Running a:Succeeded',
  'MODIFIED Running a:Succeeded,b:Running',
  'MODIFIED Running a:Succeeded,b:Succeeded',
  'MODIFIED Running a:Succeeded,b:Succeeded,c:Running',
  'MODIFIED Running a:Succeeded,b:Succeeded,c:Succeeded',
  'MODIFIED Succeeded a:Succeeded,b:Succeeded,c:Succeeded',
];

const summary = (e: WatchEvent): string =>
  `${e.type} ${e.object.status.phase} ${(e.object.status.tasks ?? []).map((t) => `${t.id}:${t.phase}`).join(',')}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('two server replicas sharing one PostgreSQL: live executions of one replica in the watches of the other', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let pair: ReplicaPair | undefined;
  let namespace = '';
  let failed = false;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh provide the local server port and the client CA key.
    if (!cp.settings.serverPort || !cp.settings.tlsCertFile || !cp.settings.clientCaFile) this.skip();
    pair = await startReplicaPair(cp, 'e2e-replicas');
    namespace = pair.namespace;
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    await pair?.stop(failed);
  });

  it('a watch opened on replica B sees Running, each task and Succeeded of an execution created through kube-apiserver (replica A)', async () => {
    const s = cp.settings;
    const identity = await mintClientIdentity({
      caFile: s.clientCaFile as string,
      caKeyFile: join(dirname(s.clientCaFile as string), 'client-ca.key'),
      identity: { user: 'e2e-replica-watcher', groups: ['system:masters'] },
    });
    const events: WatchEvent[] = [];
    let buffered = '';
    let watch: ClientRequest | undefined;
    const answered = new Promise<number>((resolve, reject) => {
      watch = httpsRequest(
        {
          host: '127.0.0.1',
          port: pair?.replica.port,
          path:
            `/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions` +
            '?watch=true&labelSelector=run%3Dreplicas&timeoutSeconds=120',
          ca: readFileSync(join(dirname(s.tlsCertFile as string), 'syncflow-ca.crt')),
          cert: readFileSync(identity.certFile),
          key: readFileSync(identity.keyFile),
        },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            let newline: number;
            while ((newline = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (line) events.push(JSON.parse(line) as WatchEvent);
            }
          });
          resolve(res.statusCode ?? 0);
        },
      );
      watch.on('error', reject);
      watch.end();
    });
    try {
      expect(await answered, 'the watch on replica B is answered').to.equal(200);
      // B subscribed before it answered and announces its interest at once; A hears it within
      // milliseconds through the database. A second is ample on a loaded machine.
      await sleep(1_000);

      const created = JSON.parse(
        await cp.kubectl.ok(['-n', namespace, 'create', '-f', '-', '-o', 'json'], {
          stdin: JSON.stringify({
            apiVersion: 'execution.syncflow.io/v1alpha1',
            kind: 'WorkflowExecution',
            metadata: { generateName: `${WORKFLOW}-`, labels: { run: 'replicas' } },
            spec: { workflowRef: { name: WORKFLOW }, input: {} },
          }),
        }),
      ) as Execution;
      expect(created.status.phase, JSON.stringify(created.status)).to.equal('Succeeded');
      const deadline = Date.now() + 30_000;
      while (!events.some((e) => e.object.status.phase === 'Succeeded') && Date.now() < deadline)
        await sleep(50);
      // Anything after the final state (a repeat) would arrive now.
      await sleep(1_500);
      const mine = events.filter((e) => e.object.metadata.uid === created.metadata.uid);
      expect(mine.map(summary)).to.deep.equal(RUN_SEQUENCE);
      expect(events).to.have.length(mine.length);
      expect(new Set(mine.map((e) => e.object.metadata.name))).to.deep.equal(
        new Set([created.metadata.name]),
      );
    } finally {
      watch?.destroy();
    }
  });
});
