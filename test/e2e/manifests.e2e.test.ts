// The installation manifests (manifests/overlays/*) against a real kube-apiserver: they render with the
// pinned release's kustomize, pass a server-side dry-run, and every object that needs no node is
// applied for real. The Service, the APIService and the webhook configuration are dry-run only: the
// e2e control plane routes v1alpha1.execution.syncflow.io to the local server process (hack/cp-up.sh),
// and a fail-closed webhook pointing at a Service without Pods would refuse every Workflow of the
// other suites. The Deployment's flags are checked against those the e2e server runs with.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { startDemoUpstream } from '../../examples/demo-upstream/server.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { dockerEntrypoint, dockerfileText, dockerNodeMajor } from '../harness/dockerfile.ts';
import { repoRoot, servedThroughAggregator, serverArgs } from '../harness/syncflow-server.ts';

/** A rendered Kubernetes object, loosely typed: the assertions say what they expect. */
interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

interface Container {
  name: string;
  image: string;
  args: string[];
  env: Array<{
    name: string;
    value?: string;
    valueFrom?: {
      fieldRef?: { fieldPath: string };
      secretKeyRef?: { name: string; key: string; optional?: boolean };
    };
  }>;
  ports: Array<{ name: string; containerPort: number }>;
  readinessProbe: { httpGet: { path: string; port: string; scheme: string } };
  livenessProbe: { httpGet: { path: string; port: string; scheme: string } };
  startupProbe?: { httpGet: { path: string; port: string; scheme: string } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
    seccompProfile?: { type: string };
  };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}

interface PodSpec {
  serviceAccountName: string;
  securityContext: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
  topologySpreadConstraints: Array<{ topologyKey: string; whenUnsatisfiable: string }>;
  terminationGracePeriodSeconds: number;
  containers: Container[];
  volumes: Array<{ name: string; emptyDir?: unknown; secret?: { secretName: string } }>;
}

interface Webhook {
  name: string;
  clientConfig: { service: { namespace: string; name: string; path: string; port: number } };
  rules: Array<{ apiGroups: string[]; operations: string[]; resources: string[] }>;
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  admissionReviewVersions: string[];
  namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> };
}

/**
 * Flags in which the Deployment may differ from the e2e server, each with the reason. Any other
 * difference (a flag added to one side only, or another value) fails the test: change both.
 */
const LOCAL_ONLY: Record<string, string> = {
  'secure-port': 'a free local port in e2e; 8443 in the Pod (the Service maps 443 to it)',
  'bind-address': 'e2e listens on loopback only; the Pod listens on all its addresses',
  kubeconfig: 'e2e uses a client certificate; the Pod uses its ServiceAccount (in-cluster)',
  'egress-allow-loopback': 'the e2e demo upstream listens on loopback; never in a cluster',
  'host-alias': 'resolves the demo upstream host in e2e; cluster DNS does in a Pod',
  'leader-elect': 'one e2e process runs the controller alone; replicas of the Deployment elect one',
  'shutdown-grace': 'e2e stops quickly; Pods let in-flight executions (default timeout 30s) finish',
  'admission-client-ca':
    "cp-up.sh makes kube-apiserver present a webhook client certificate; a cluster's CA is the operator's to mount (docs/install.md)",
};
/** Flags given on both sides with a file path as value: cp-up.sh's PKI and a temp dir vs the Pod's mounts. */
const PATHS = new Set(['tls-cert-file', 'tls-private-key-file', 'embedded-data-dir']);
/** Flags that the production overlay replaces by DATABASE_URL (PostgreSQL instead of the embedded database). */
const EMBEDDED_ONLY = new Set(['embedded-data-dir']);

function flags(args: readonly string[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const arg of args) {
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) throw new Error(`not a --flag=value argument: ${arg}`);
    result.set(match[1], match[2] ?? 'true');
  }
  return result;
}

const find = (objects: KubeObject[], kind: string, name: string): KubeObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(`no ${kind}/${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
};
const podSpec = (objects: KubeObject[]): PodSpec =>
  (find(objects, 'Deployment', 'syncflow') as unknown as { spec: { template: { spec: PodSpec } } }).spec
    .template.spec;
const server = (objects: KubeObject[]): Container => {
  const container = podSpec(objects).containers.find((c) => c.name === 'server');
  if (!container) throw new Error('the Deployment has no container "server"');
  return container;
};
const toYaml = (objects: KubeObject[]): string => objects.map((o) => stringify(o)).join('---\n');

describe('installation manifests (kustomize overlays on a real kube-apiserver)', function () {
  this.timeout(5 * 60_000);
  let cp: ControlPlane;
  const rendered = new Map<string, KubeObject[]>();
  const namespaces: string[] = [];
  /** The production RBAC copied for a fresh ServiceAccount (set by the RBAC test, used by the next). */
  let rbacCopy: { ns: string; workload: string; suffix: string; objects: KubeObject[] } | undefined;

  const render = async (overlay: string): Promise<KubeObject[]> => {
    const text = await cp.kubectl.ok(['kustomize', join(repoRoot, 'manifests/overlays', overlay)]);
    return parseAllDocuments(text).map((doc) => doc.toJS() as KubeObject);
  };
  // The control plane's own APIService (cp-up.sh) has another field manager: a dry-run may take it
  // over without changing anything. Its ExternalName Service syncflow-system/syncflow would merge
  // ports with ours, so the Service is dry-run in a namespace of its own.
  const dryRun = async (objects: KubeObject[]) => {
    const ns = await cp.createNamespace('e2e-svc');
    namespaces.push(ns);
    const moved = objects.map((o) =>
      o.kind === 'Service' ? { ...o, metadata: { ...o.metadata, namespace: ns } } : o,
    );
    return cp.kubectl.run(
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--force-conflicts',
        '--field-manager=syncflow-install',
        '-f',
        '-',
      ],
      { stdin: toYaml(moved) },
    );
  };

  before(async () => {
    cp = await ControlPlane.acquire();
    for (const overlay of ['dev', 'production', 'cert-manager']) rendered.set(overlay, await render(overlay));
  });

  after(async () => {
    for (const o of rbacCopy?.objects ?? []) {
      const args = [
        'delete',
        `${o.kind.toLowerCase()}.rbac.authorization.k8s.io`,
        o.metadata.name,
        '--ignore-not-found',
      ];
      if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
      await cp.kubectl.run(args);
    }
    for (const ns of namespaces) await cp.deleteNamespace(ns);
  });

  const overlay = (name: string): KubeObject[] => {
    const objects = rendered.get(name);
    if (!objects) throw new Error(`overlay ${name} was not rendered`);
    return objects;
  };

  it('renders dev, production and cert-manager with every piece of the installation', () => {
    const expected = [
      'CustomResourceDefinition/workflows.syncflow.io',
      'CustomResourceDefinition/workflowtasks.syncflow.io',
      'Namespace/syncflow-system',
      'ServiceAccount/syncflow',
      'ClusterRole/syncflow:server',
      'ClusterRole/syncflow:secret-reader',
      'ClusterRoleBinding/syncflow:server',
      'ClusterRoleBinding/syncflow:auth-delegator',
      'RoleBinding/syncflow:extension-apiserver-authentication-reader',
      'Role/syncflow:leader-election',
      'ClusterRole/syncflow-author',
      'ClusterRole/syncflow-runner',
      'ClusterRole/syncflow-viewer',
      'Deployment/syncflow',
      'Service/syncflow',
      'APIService/v1alpha1.execution.syncflow.io',
      'ValidatingWebhookConfiguration/syncflow',
      'NetworkPolicy/syncflow',
    ];
    for (const name of ['dev', 'production', 'cert-manager']) {
      const present = overlay(name).map((o) => `${o.kind}/${o.metadata.name}`);
      expect(present, name).to.include.members(expected);
    }
    expect(overlay('production').map((o) => o.kind)).to.include('PodDisruptionBudget');
    expect(
      overlay('dev').map((o) => o.kind),
      'one replica: no PDB to block drains',
    ).not.to.include('PodDisruptionBudget');
    // The CRDs are the generated files, unchanged.
    const crd = parseAllDocuments(
      readFileSync(join(repoRoot, 'manifests/crds/syncflow.io_workflows.yaml'), 'utf8'),
    )[0]?.toJS() as KubeObject;
    expect(
      find(overlay('production'), 'CustomResourceDefinition', 'workflows.syncflow.io').spec,
    ).to.deep.equal(crd.spec);
  });

  it('production: HA, hardened Pods, probes on the real HTTPS endpoints, DATABASE_URL from a Secret', () => {
    const objects = overlay('production');
    const deployment = find(objects, 'Deployment', 'syncflow') as unknown as { spec: { replicas: number } };
    expect(deployment.spec.replicas).to.be.at.least(2);
    const pod = podSpec(objects);
    const c = server(objects);
    expect(pod.serviceAccountName).to.equal('syncflow');
    expect(pod.topologySpreadConstraints.map((t) => t.topologyKey)).to.include.members([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    expect(pod.securityContext).to.deep.include({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).to.deep.include({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
    });
    expect(c.securityContext.capabilities?.drop).to.deep.equal(['ALL']);
    expect(c.resources.requests).to.have.keys('cpu', 'memory');
    expect(c.resources.limits).to.have.property('memory');
    // Probes hit the server's own health endpoints over HTTPS on the port the server listens on.
    const port = c.ports.find((p) => p.name === 'https');
    expect(port?.containerPort).to.equal(Number(flags(c.args).get('secure-port')));
    expect(c.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(c.livenessProbe.httpGet).to.deep.equal({ path: '/livez', port: 'https', scheme: 'HTTPS' });
    // The read-only root filesystem still has a writable /tmp (tsx's cache).
    const tmp = c.volumeMounts.find((m) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v) => v.name === tmp?.name)?.emptyDir).to.not.equal(undefined);
    // TLS files are those of the mounted serving-certificate Secret.
    const certMount = c.volumeMounts.find((m) =>
      flags(c.args).get('tls-cert-file')?.startsWith(`${m.mountPath}/`),
    );
    expect(pod.volumes.find((v) => v.name === certMount?.name)?.secret?.secretName).to.equal(
      'syncflow-serving-cert',
    );
    const env = new Map(c.env.map((e) => [e.name, e]));
    expect(env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath).to.equal('metadata.name');
    expect(env.get('POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).to.equal('metadata.namespace');
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).to.deep.equal({
      name: 'syncflow-database',
      key: 'url',
    });
    expect(pod.terminationGracePeriodSeconds * 1000).to.be.greaterThan(
      30_000 + 5_000,
      'preStop + --shutdown-grace must fit in the grace period',
    );
  });

  it('Service 443 → the HTTPS port; APIService and webhooks route to it; webhooks fail closed and skip syncflow-system', () => {
    const objects = overlay('production');
    const service = find(objects, 'Service', 'syncflow') as unknown as {
      metadata: { namespace: string };
      spec: { ports: Array<{ port: number; targetPort: string }>; selector: Record<string, string> };
    };
    expect(service.metadata.namespace).to.equal('syncflow-system');
    expect(service.spec.ports).to.deep.include({
      name: 'https',
      port: 443,
      targetPort: 'https',
      protocol: 'TCP',
    });
    const labels = (
      find(objects, 'Deployment', 'syncflow') as unknown as {
        spec: { template: { metadata: { labels: Record<string, string> } } };
      }
    ).spec.template.metadata.labels;
    expect(labels).to.deep.include(service.spec.selector);
    const apiService = find(objects, 'APIService', 'v1alpha1.execution.syncflow.io') as unknown as {
      spec: Record<string, unknown>;
    };
    expect(apiService.spec).to.deep.include({
      group: 'execution.syncflow.io',
      version: 'v1alpha1',
      service: { namespace: 'syncflow-system', name: 'syncflow', port: 443 },
    });
    const webhooks = (
      find(objects, 'ValidatingWebhookConfiguration', 'syncflow') as unknown as { webhooks: Webhook[] }
    ).webhooks;
    const byPath = new Map(webhooks.map((w) => [w.clientConfig.service.path, w]));
    expect([...byPath.keys()].sort()).to.deep.equal([
      '/admission/v1/workflows',
      '/admission/v1/workflowtasks',
    ]);
    expect(byPath.get('/admission/v1/workflows')?.rules).to.deep.equal([
      {
        apiGroups: ['syncflow.io'],
        apiVersions: ['v1alpha1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['workflows'],
        scope: 'Namespaced',
      },
    ]);
    expect(byPath.get('/admission/v1/workflowtasks')?.rules).to.deep.equal([
      {
        apiGroups: ['syncflow.io'],
        apiVersions: ['v1alpha1'],
        operations: ['CREATE', 'UPDATE', 'DELETE'],
        resources: ['workflowtasks'],
        scope: 'Namespaced',
      },
    ]);
    for (const w of webhooks) {
      expect(w.clientConfig.service).to.deep.include({
        namespace: 'syncflow-system',
        name: 'syncflow',
        port: 443,
      });
      expect(w).to.deep.include({
        failurePolicy: 'Fail',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      });
      expect(w.timeoutSeconds).to.be.within(1, 10);
      expect(w.namespaceSelector.matchExpressions).to.deep.include({
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: ['syncflow-system', 'kube-system'],
      });
    }
  });

  for (const name of ['dev', 'production']) {
    it(`${name}: the container runs \`syncflow server\` with the e2e server's flags, except the local-only ones`, function () {
      // serverArgs needs a control plane from hack/cp-up.sh (a kind cluster runs no local server).
      if (!cp.settings.serverPort) this.skip();
      const c = server(overlay(name));
      const e2eArgs = serverArgs(cp, { demoAddress: '127.0.0.90', dataDir: '/tmp/e2e-data' });
      // The image's entrypoint supplies `syncflow server`; the Deployment only adds flags.
      const entrypoint = dockerEntrypoint();
      expect(entrypoint.slice(-2)).to.deep.equal(['/app/dist/cli/bin.js', 'server']);
      expect(e2eArgs[0]).to.equal('server');
      const e2e = flags(e2eArgs.slice(1));
      const pod = flags(c.args);
      for (const flag of new Set([...e2e.keys(), ...pod.keys()])) {
        if (flag in LOCAL_ONLY) continue;
        if (EMBEDDED_ONLY.has(flag) && name === 'production') {
          expect(pod.has(flag), `production uses DATABASE_URL, not --${flag}`).to.equal(false);
          continue;
        }
        if (PATHS.has(flag)) {
          expect(pod.get(flag), `--${flag}: Deployment (${name}) vs e2e server`).to.match(/^\/[a-z/.-]+$/);
          expect(e2e.has(flag), `--${flag}: the e2e server sets it too`).to.equal(true);
          continue;
        }
        expect(pod.get(flag), `--${flag}: Deployment (${name}) vs e2e server`).to.equal(e2e.get(flag));
      }
      // Local-only flags that make no sense in a cluster must not leak into it.
      for (const flag of ['kubeconfig', 'egress-allow-loopback', 'host-alias', 'bind-address'])
        expect(pod.has(flag), `--${flag}`).to.equal(false);
      expect(pod.get('leader-elect')).to.equal('true');
    });
  }

  // Docker cannot run on the development machine (no daemon), so the image is checked by structure.
  it('Dockerfile: multi-stage, compiled, production dependencies only, non-root, `syncflow server` entrypoint', () => {
    const instructions = dockerfileText()
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const stages = instructions.filter((line) => line.startsWith('FROM '));
    expect(stages, 'a build stage and a runtime stage').to.have.length(2);
    expect(stages[0]).to.match(/^FROM node:24\S* AS build$/);
    // The gateway benchmark runs its servers on the runtime stage's Node major (dockerNodeMajor).
    expect(dockerNodeMajor(), 'the runtime stage runs the Node major it was built with').to.equal(24);
    const runtimeStart = instructions.indexOf(stages[1] ?? '');
    const runtime = instructions.slice(runtimeStart);
    expect(
      runtime.some((line) => /^RUN /.test(line)),
      'the runtime stage runs nothing (no shell needed)',
    ).to.equal(false);
    const installs = instructions.filter((line) => /\bnpm (ci|install)\b/.test(line));
    expect(installs).to.have.length(1);
    expect(installs[0]).to.match(/^RUN npm ci /);
    // The compile step runs hack/build.sh, then the development dependencies are pruned in the same layer.
    const build = instructions.find((line) => line.includes('hack/build.sh dist'));
    expect(build, 'a RUN that compiles into dist/').to.match(
      /^RUN bash hack\/build\.sh dist .*npm prune --omit=dev/,
    );
    const user = runtime.filter((line) => line.startsWith('USER ')).at(-1);
    expect(user, 'the last USER is numeric and not root').to.match(/^USER [1-9][0-9]*(:[1-9][0-9]*)?$/);
    const uid = Number(user?.split(' ')[1]?.split(':')[0]);
    expect(podSpec(overlay('production')).securityContext).to.deep.include({ runAsUser: uid });
    const copied = runtime.filter((line) => line.startsWith('COPY '));
    expect(
      copied.every((line) => line.includes('--from=build')),
      'the runtime copies only from the build stage',
    ).to.equal(true);
    // Only runtime sources enter the build context.
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    expect(ignore[ignore.findIndex((l) => !l.startsWith('#'))]).to.equal('*');
    for (const kept of [
      '!package.json',
      '!package-lock.json',
      '!core/',
      '!apiserver/',
      '!admission/',
      '!cli/',
      '!client/',
      '!tsconfig.json',
      '!tsconfig.build.json',
      '!hack/build.sh',
    ])
      expect(ignore).to.include(kept);
    for (const dropped of ['**/*.test.ts', '**/node_modules/']) expect(ignore).to.include(dropped);
    // Every directory the compiled build covers (tsconfig.build.json) is copied in for the compile step.
    const sources = new Set(
      instructions
        // Source folders are copied as `COPY <folder>/ <folder>/`.
        .filter((l) => /^COPY ([a-z-]+)\/ \1\/$/.test(l))
        .map((l) => l.split(' ')[1]),
    );
    const buildConfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    // ... and the web console, which hack/console.sh builds (Vite) into console/dist.
    expect([...sources].sort()).to.deep.equal(
      [...buildConfig.include.map((dir) => `${dir}/`), 'console/'].sort(),
    );
    // The runtime holds the compiled code and console, its dependencies and package.json (for
    // "type": "module").
    expect(copied.map((line) => line.split(' ').at(-1)).sort()).to.deep.equal([
      '/app/console/dist',
      '/app/dist',
      '/app/node_modules',
      '/app/package.json',
    ]);
  });

  it('dev runs one replica on the embedded database, without DATABASE_URL', () => {
    const c = server(overlay('dev'));
    expect(c.env.map((e) => e.name)).not.to.include('DATABASE_URL');
    const dataDir = flags(c.args).get('embedded-data-dir');
    expect(c.volumeMounts.map((m) => m.mountPath)).to.include(dataDir);
    expect(
      (find(overlay('dev'), 'Deployment', 'syncflow') as unknown as { spec: { replicas: number } }).spec
        .replicas,
    ).to.equal(1);
  });

  for (const name of ['dev', 'production']) {
    it(`${name}: \`kubectl apply --server-side --dry-run=server\` accepts every object`, async () => {
      const result = await dryRun(overlay(name));
      expect(result.code, result.stderr).to.equal(0);
      const lines = result.stdout.trim().split('\n');
      expect(lines).to.have.length(overlay(name).length);
      for (const line of lines) expect(line).to.match(/serverside-applied \(server dry run\)$/);
    });
  }

  it('cert-manager: CA injection into the APIService and the webhooks, a serving Certificate for the Service DNS name', async () => {
    const objects = overlay('cert-manager');
    for (const [kind, name] of [
      ['APIService', 'v1alpha1.execution.syncflow.io'],
      ['ValidatingWebhookConfiguration', 'syncflow'],
    ] as const) {
      expect(
        find(objects, kind, name).metadata.annotations?.['cert-manager.io/inject-ca-from'],
        kind,
      ).to.equal('syncflow-system/syncflow-serving');
    }
    const serving = find(objects, 'Certificate', 'syncflow-serving') as unknown as {
      spec: { secretName: string; dnsNames: string[]; issuerRef: { name: string } };
    };
    expect(serving.spec.secretName).to.equal(
      podSpec(objects).volumes.find((v) => v.secret)?.secret?.secretName,
    );
    expect(serving.spec.dnsNames).to.include('syncflow.syncflow-system.svc');
    expect(find(objects, 'Issuer', serving.spec.issuerRef.name)).to.have.nested.property(
      'spec.ca.secretName',
      'syncflow-ca',
    );
    // cert-manager's own kinds need its CRDs, which this control plane does not have; the rest must pass.
    const result = await dryRun(objects.filter((o) => !o.apiVersion.startsWith('cert-manager.io/')));
    expect(result.code, result.stderr).to.equal(0);
  });

  it('the Pod template passes the restricted Pod Security Standard (server-side dry-run of its Pod)', async () => {
    const ns = await cp.createNamespace('e2e-psa');
    namespaces.push(ns);
    await cp.kubectl.ok([
      'label',
      'namespace',
      ns,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/enforce-version=latest',
    ]);
    await cp.kubectl.ok(['-n', ns, 'create', 'serviceaccount', 'syncflow']);
    for (const name of ['dev', 'production']) {
      const template = (
        find(overlay(name), 'Deployment', 'syncflow') as unknown as {
          spec: { template: { metadata: object; spec: PodSpec } };
        }
      ).spec.template;
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...template.metadata, name: `syncflow-${name}`, namespace: ns },
        spec: template.spec,
      };
      const result = await cp.kubectl.run(['create', '--dry-run=server', '-f', '-'], {
        stdin: JSON.stringify(pod),
      });
      expect(result.code, `${name}: ${result.stderr}`).to.equal(0);
      expect(result.stderr, name).not.to.contain('violate');
    }
    // The check is real: a root container is refused in that namespace.
    const root = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'root', namespace: ns },
      spec: {
        serviceAccountName: 'syncflow',
        containers: [{ name: 'c', image: 'busybox', securityContext: { runAsUser: 0 } }],
      },
    };
    const refused = await cp.kubectl.run(['create', '--dry-run=server', '-f', '-'], {
      stdin: JSON.stringify(root),
    });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('violates PodSecurity "restricted');
  });

  it('applies for real every object that needs no node (all but the Service, APIService and webhooks)', async () => {
    const routedToLocalServer = new Set(['Service', 'APIService', 'ValidatingWebhookConfiguration']);
    const objects = overlay('production').filter((o) => !routedToLocalServer.has(o.kind));
    const applied = await cp.kubectl.run(
      ['apply', '--server-side', '--field-manager=syncflow-install', '-f', '-'],
      { stdin: toYaml(objects) },
    );
    expect(applied.code, applied.stderr).to.equal(0);
    for (const o of objects) {
      const args = [
        'get',
        `${o.kind.toLowerCase()}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(
          /\.$/,
          '',
        ),
        o.metadata.name,
        '-o',
        'name',
      ];
      if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
      const got = await cp.kubectl.run(args);
      expect(got.code, `${o.kind}/${o.metadata.name}: ${got.stderr}`).to.equal(0);
    }
    // Applying again is a no-op (declarative, nothing generated per apply).
    const again = await cp.kubectl.run(
      ['apply', '--server-side', '--field-manager=syncflow-install', '-f', '-'],
      { stdin: toYaml(objects) },
    );
    expect(again.code, again.stderr).to.equal(0);
  });

  it("the server's RBAC grants what it uses and nothing more (a copy bound to a fresh ServiceAccount)", async () => {
    // The ServiceAccount syncflow-system/syncflow also has hack/controlplane/dev-rbac.yaml; a copy of the
    // production RBAC for another ServiceAccount shows what these manifests alone allow.
    const ns = await cp.createNamespace('e2e-rbac-sa');
    const workload = await cp.createNamespace('e2e-rbac-wl');
    namespaces.push(ns, workload);
    const suffix = ns.slice('e2e-rbac-sa-'.length);
    const rbac = overlay('production')
      .filter(
        (o) => o.apiVersion.startsWith('rbac.authorization.k8s.io/') && /^syncflow:/.test(o.metadata.name),
      )
      .map((o) => {
        const text = JSON.stringify(o)
          .replaceAll('"namespace":"syncflow-system"', `"namespace":"${ns}"`)
          // Our roles and bindings get a unique name; built-in roleRefs (system:auth-delegator,
          // extension-apiserver-authentication-reader) do not start with `syncflow:` and keep theirs.
          .replace(/"name":"syncflow:([a-z-]+)"/g, `"name":"syncflow:$1-${suffix}"`);
        return JSON.parse(text) as KubeObject;
      });
    expect(rbac.length).to.be.at.least(7);
    const applied = await cp.kubectl.run(
      ['apply', '--server-side', '--field-manager=syncflow-e2e', '-f', '-'],
      { stdin: toYaml(rbac) },
    );
    expect(applied.code, applied.stderr).to.equal(0);
    const as = {
      user: `system:serviceaccount:${ns}:syncflow`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
    };
    const can = async (...args: string[]) =>
      (await cp.kubectl.run(['auth', 'can-i', ...args], { as })).stdout.trim();
    const allowed: string[][] = [
      ['list', 'workflows.syncflow.io', '--all-namespaces'],
      ['watch', 'workflowtasks.syncflow.io', '--all-namespaces'],
      ['patch', 'workflows.syncflow.io', '--subresource=status', '-n', workload],
      ['patch', 'workflowtasks.syncflow.io', '--subresource=status', '-n', workload],
      ['create', 'tokenreviews.authentication.k8s.io'],
      ['create', 'subjectaccessreviews.authorization.k8s.io'],
      ['watch', 'configmaps/extension-apiserver-authentication', '-n', 'kube-system'],
      ['update', 'leases.coordination.k8s.io', '-n', ns],
      ['create', 'leases.coordination.k8s.io', '-n', ns],
      ['create', 'events', '-n', workload],
    ];
    const denied: string[][] = [
      ['get', 'secrets', '-n', workload],
      ['list', 'secrets', '--all-namespaces'],
      ['update', 'workflows.syncflow.io', '-n', workload],
      ['patch', 'workflows.syncflow.io', '-n', workload],
      ['get', 'events', '-n', workload],
      ['create', 'workflowtasks.syncflow.io', '-n', workload],
      ['update', 'leases.coordination.k8s.io', '-n', 'kube-system'],
      ['get', 'configmaps', '-n', 'kube-system'],
      ['list', 'pods', '--all-namespaces'],
    ];
    for (const args of allowed) expect(await can(...args), args.join(' ')).to.equal('yes');
    for (const args of denied) expect(await can(...args), args.join(' ')).to.equal('no');
    // Secrets become readable in one namespace when an operator binds syncflow:secret-reader there
    // (the command of docs/install.md), and nowhere else.
    await cp.kubectl.ok([
      '-n',
      workload,
      'create',
      'rolebinding',
      'syncflow-secrets',
      `--clusterrole=syncflow:secret-reader-${suffix}`,
      `--serviceaccount=${ns}:syncflow`,
    ]);
    expect(await can('get', 'secrets', '-n', workload)).to.equal('yes');
    expect(await can('list', 'secrets', '-n', workload)).to.equal('no');
    expect(await can('get', 'secrets', '-n', 'kube-system')).to.equal('no');
    rbacCopy = { ns, workload, suffix, objects: rbac };
  });

  it('the real server runs with nothing but that RBAC: executions with a Secret, leader election, Workflow status', async function () {
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (!rbacCopy || !cp.settings.serverPort || !cp.settings.clientCaFile) this.skip();
    const { ns, workload } = rbacCopy;
    // A client certificate for the ServiceAccount's user name: RBAC sees exactly that identity.
    const kubeConfig = await cp.kubeConfig({
      user: `system:serviceaccount:${ns}:syncflow`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`],
    });
    const dir = await mkdtemp(join(tmpdir(), 'syncflow-rbac-'));
    const kubeconfigFile = join(dir, 'kubeconfig');
    await writeFile(kubeconfigFile, kubeConfig.exportConfig());
    const upstream = await startDemoUpstream({ host: '127.0.0.92', port: 8080 });
    await cp.installExamples(workload, 'rbac-s3cr3t');
    // The e2e flags with this identity, and leader election on (as in the Deployment) in its namespace.
    const args = serverArgs(cp, { demoAddress: '127.0.0.92', dataDir: join(dir, 'db') })
      .filter((a) => !a.startsWith('--kubeconfig=') && !a.startsWith('--leader-elect'))
      .concat([
        `--kubeconfig=${kubeconfigFile}`,
        '--leader-elect=true',
        `--leader-election-namespace=${ns}`,
        `--pod-name=rbac-${rbacCopy.suffix}`,
      ]);
    const child = spawn(process.execPath, [join(repoRoot, 'bin/syncflow.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (logs += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (logs += c));
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    try {
      const deadline = Date.now() + 90_000;
      let reachable = false;
      while (!reachable && Date.now() < deadline && child.exitCode === null) {
        if (logs.includes('definitions listed')) reachable = await servedThroughAggregator(cp);
        if (!reachable) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(reachable, `server not reachable through the aggregator:\n${logs.slice(-3000)}`).to.equal(true);
      const execution = {
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata: { generateName: 'user-profile-', namespace: workload },
        spec: { workflowRef: { name: 'user-profile' }, input: { userId: '7' } },
      };
      const created = await cp.kubectl.run(['create', '-f', '-', '-o', 'json'], {
        stdin: JSON.stringify(execution),
      });
      expect(created.code, `${created.stderr}\n${logs.slice(-3000)}`).to.equal(0);
      const status = (JSON.parse(created.stdout) as { status: { phase: string; output: { email: string } } })
        .status;
      expect(status.phase, created.stdout).to.equal('Succeeded');
      expect(status.output.email).to.equal('user7@example.com');
      // The status controller elected itself in its own namespace and wrote the Workflow's status.
      let ready = '';
      let holder = '';
      for (let i = 0; i < 60 && (ready !== 'True' || holder === ''); i++) {
        ready = await cp.kubectl.ok([
          '-n',
          workload,
          'get',
          'workflow',
          'user-profile',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        holder = (
          await cp.kubectl.run(['-n', ns, 'get', 'leases', '-o', 'jsonpath={.items[*].spec.holderIdentity}'])
        ).stdout;
        if (ready !== 'True' || holder === '') await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(holder).to.contain(`rbac-${rbacCopy.suffix}`);
      expect(ready, logs.slice(-3000)).to.equal('True');
      expect(logs, 'no authorization failure logged').not.to.match(/forbidden/i);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 15_000);
      await exited;
      clearTimeout(timer);
      process.off('exit', kill);
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
