// Every template of the library (templates/*.yaml), with its placeholders filled by their examples,
// applied with kubectl (so the admission webhooks accept it) and run to Succeeded against the demo
// upstream through the real aggregator.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  exampleValues,
  fillTemplate,
  parseWorkflowTemplate,
  type WorkflowTemplate,
} from '../../console/src/builder/templates.ts';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';
import { installWebhooks } from '../harness/webhooks.ts';

const DIR = join(repoRoot, 'templates');
const templates = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map(
    (file) =>
      parseWorkflowTemplate(file.replace(/\.yaml$/, ''), readFileSync(join(DIR, file), 'utf8'))
        .template as WorkflowTemplate,
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('templates library end to end', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let ns: string;
  let failed = false;
  let removeWebhooks: (() => Promise<void>) | undefined;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    ns = await cp.createNamespace('e2e-templates');
    // The Secret the templates' `secrets:` list names.
    await cp.createDemoSecret(ns);
    server = await SyncflowServer.start(cp);
    // The admission webhooks check every definition applied in the namespace (the suite's own only).
    removeWebhooks = await installWebhooks(cp, ns);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    if (failed && server) console.error(`--- syncflow server log (tail) ---\n${server.logs.slice(-5000)}`);
    await removeWebhooks?.();
    await server?.stop();
    if (ns) await cp.deleteNamespace(ns);
  });

  for (const template of templates) {
    it(`${template.name}: kubectl apply accepts it and an execution with its sample input Succeeds`, async () => {
      const { tasks, workflow } = fillTemplate(template, exampleValues(template));
      const list = { apiVersion: 'v1', kind: 'List', items: [...tasks, workflow] };
      await cp.kubectl.ok(['-n', ns, 'apply', '-f', '-'], { stdin: JSON.stringify(list) });
      const name = workflow.metadata.name;
      let ready = '';
      for (let i = 0; i < 240 && ready !== 'True'; i++) {
        if (i) await sleep(250);
        ready = await cp.kubectl.ok([
          '-n',
          ns,
          'get',
          'workflow',
          name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
      }
      expect(ready, `workflow ${name} Ready`).to.equal('True');
      const execution = {
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata: { generateName: `${name}-`, namespace: ns },
        spec: { workflowRef: { name }, input: template.sampleInput },
      };
      const created = parse(
        await cp.kubectl.ok(['-n', ns, 'create', '-f', '-', '-o', 'yaml'], {
          stdin: JSON.stringify(execution),
        }),
      ) as {
        status: {
          phase: string;
          message?: string;
          output?: unknown;
          tasks: Array<{ id: string; phase: string; error?: unknown }>;
        };
      };
      expect(created.status.phase, JSON.stringify(created.status)).to.equal('Succeeded');
      // Every step ran or was skipped by its `when`; none failed behind onError: continue.
      for (const task of created.status.tasks)
        expect(['Succeeded', 'Skipped'], `${task.id}: ${JSON.stringify(task)}`).to.include(task.phase);
      expect(created.status.output).to.be.an('object');
      expect(JSON.stringify(created)).not.to.contain('e2e-s3cr3t');
    });
  }
});
