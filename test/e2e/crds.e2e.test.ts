// The Workflow and WorkflowTask CRDs served by a real kube-apiserver, driven with the matching kubectl.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';

interface Condition {
  type: string;
  status: string;
  reason?: string;
}

interface CrdView {
  spec: { names: { shortNames?: string[] } };
  status?: { conditions?: Condition[] };
}

interface ObjectRef {
  kind: string;
  name: string;
  namespace: string;
}

const examplesDir = join(repoRoot, 'examples');

/** kind/name/namespace of every document under examples/. */
async function exampleObjects(): Promise<ObjectRef[]> {
  const files = (await readdir(examplesDir)).filter((file) => /\.ya?ml$/.test(file)).sort();
  const refs: ObjectRef[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(examplesDir, file), 'utf8'))) {
      const object = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
      if (object?.kind === undefined || object.metadata?.name === undefined) continue;
      refs.push({
        kind: object.kind,
        name: object.metadata.name,
        namespace: object.metadata.namespace ?? 'default',
      });
    }
  }
  return refs;
}

/** A WorkflowTask and a Workflow that every validator accepts; invalid cases are mutations of these. */
function validTask(namespace: string): Record<string, unknown> {
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name: 'get-user', namespace },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      outputSchema: { type: 'object', properties: { email: { type: 'string' } } },
      http: { method: 'GET', url: 'http://users.example.svc/users/{{input.userId}}' },
    },
  };
}

function validWorkflow(namespace: string): Record<string, unknown> {
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: 'user-profile', namespace },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      tasks: [{ id: 'user', taskRef: { name: 'get-user' }, input: { userId: '{{input.userId}}' } }],
      output: { email: '{{tasks.user.output.email}}' },
    },
  };
}

describe('syncflow CRDs on a real kube-apiserver', function () {
  // The first suite to acquire the control plane may have to build it from source.
  this.timeout(60 * 60_000);
  let cp: ControlPlane;
  let namespace: string;

  before(async function () {
    cp = await ControlPlane.acquire();
    namespace = await cp.createNamespace('e2e-crds');
  });

  after(async function () {
    if (namespace !== undefined) await cp.deleteNamespace(namespace);
  });

  for (const [crd, shortName] of [
    ['workflows.syncflow.io', 'wf'],
    ['workflowtasks.syncflow.io', 'wft'],
  ] as const) {
    it(`establishes ${crd} with short name ${shortName}`, async function () {
      const view = await cp.kubectl.json<CrdView>(['get', 'crd', crd]);
      const status = (type: string) => view.status?.conditions?.find((c) => c.type === type)?.status;
      expect(status('Established'), 'Established').to.equal('True');
      expect(status('NamesAccepted'), 'NamesAccepted').to.equal('True');
      expect(view.spec.names.shortNames).to.include(shortName);
    });
  }

  it('creates the example Workflows and WorkflowTasks with kubectl apply -f examples/', async function () {
    const refs = await exampleObjects();
    expect(refs.map((ref) => ref.kind)).to.include.members(['Workflow', 'WorkflowTask']);
    for (const ns of new Set(refs.map((ref) => ref.namespace))) {
      const exists = await cp.kubectl.run(['get', 'namespace', ns]);
      if (exists.code !== 0) await cp.kubectl.ok(['create', 'namespace', ns]);
    }
    await cp.kubectl.ok(['apply', '-f', examplesDir]);
    for (const ref of refs) {
      const object = await cp.kubectl.json<{ metadata: { uid?: string } }>([
        'get',
        `${ref.kind.toLowerCase()}.syncflow.io`,
        ref.name,
        '-n',
        ref.namespace,
      ]);
      expect(object.metadata.uid, `${ref.kind} ${ref.namespace}/${ref.name}`).to.be.a('string');
    }
  });

  it('prints READY, TASKS, REVISION and AGE columns for kubectl get workflows', async function () {
    await cp.kubectl.ok(['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [validTask(namespace), validWorkflow(namespace)],
      }),
    });
    const table = await cp.kubectl.ok(['get', 'workflows', '-n', namespace]);
    const [header, ...rows] = table.trim().split('\n');
    expect(header?.split(/\s+/)).to.deep.equal(['NAME', 'READY', 'TASKS', 'REVISION', 'AGE']);
    expect(rows.map((row) => row.split(/\s+/)[0])).to.deep.equal(['user-profile']);
    const byShortName = await cp.kubectl.ok(['get', 'wf', '-n', namespace, '-o', 'name']);
    expect(byShortName.trim()).to.equal('workflow.syncflow.io/user-profile');
  });

  it('explains workflow.spec.tasks from the published OpenAPI schema', async function () {
    const text = await cp.kubectl.ok(['explain', 'workflow.spec.tasks']);
    expect(text).to.match(/^GROUP:\s+syncflow\.io$/m);
    expect(text).to.match(/^KIND:\s+Workflow$/m);
    expect(text).to.match(/^FIELD:\s+tasks\s+<\[\]Object>$/m);
    for (const field of ['id', 'taskRef', 'input', 'dependsOn', 'when']) {
      expect(text).to.match(new RegExp(`^\\s+${field}\\s+<`, 'm'), `field ${field}`);
    }
  });

  describe('rejects objects the CRD schema alone can catch, naming the field', function () {
    const cases: {
      name: string;
      object: (ns: string) => Record<string, unknown>;
      flags?: string[];
      error: RegExp;
    }[] = [
      {
        name: 'spec.tasks of the wrong type',
        object: (ns) => withSpec(validWorkflow(ns), { tasks: 'user' }),
        error: /spec\.tasks: Invalid value: "string": spec\.tasks in body must be of type array/,
      },
      {
        name: 'a Workflow without spec.tasks',
        object: (ns) => withSpec(validWorkflow(ns), { tasks: undefined }),
        error: /spec\.tasks: Required value/,
      },
      {
        name: 'a task without taskRef',
        object: (ns) => withSpec(validWorkflow(ns), { tasks: [{ id: 'user' }] }),
        error: /spec\.tasks\[0\]\.taskRef: Required value/,
      },
      {
        name: 'a timeout that is not a duration',
        object: (ns) => withSpec(validWorkflow(ns), { timeout: '10 seconds' }),
        error: /spec\.timeout: Invalid value: "10 seconds"/,
      },
      {
        name: 'an unsupported HTTP method',
        object: (ns) =>
          withSpec(validTask(ns), { http: { method: 'FETCH', url: 'http://users.example.svc/' } }),
        error: /spec\.http\.method: Unsupported value: "FETCH"/,
      },
      {
        name: 'an unknown field under --validate=strict',
        object: (ns) => withSpec(validWorkflow(ns), { retries: 3 }),
        flags: ['--validate=strict'],
        error: /unknown field "spec\.retries"/,
      },
    ];

    for (const { name, object, flags = [], error } of cases) {
      it(`rejects ${name}`, async function () {
        const result = await cp.kubectl.run(['create', '--dry-run=server', ...flags, '-f', '-'], {
          stdin: JSON.stringify({ ...object(namespace), metadata: { name: 'invalid', namespace } }),
        });
        expect(result.code, result.stdout).to.not.equal(0);
        expect(result.stderr).to.match(error);
      });
    }

    it('accepts the valid objects the cases above are mutations of', async function () {
      await cp.kubectl.ok(['apply', '-f', '-'], { stdin: JSON.stringify(validTask(namespace)) });
      const result = await cp.kubectl.run(['create', '--dry-run=server', '--validate=strict', '-f', '-'], {
        stdin: JSON.stringify({ ...validWorkflow(namespace), metadata: { name: 'invalid', namespace } }),
      });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout.trim()).to.equal('workflow.syncflow.io/invalid created (server dry run)');
    });
  });
});

/** A copy of `object` with spec fields replaced (undefined removes a field). */
function withSpec(
  object: Record<string, unknown>,
  changes: Record<string, unknown>,
): Record<string, unknown> {
  const spec = { ...(object.spec as Record<string, unknown>), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete spec[key];
  return { ...object, spec };
}
