// The Helm chart (charts/syncflow), with helm built from its Go module (hack/tools.sh helm): it lints
// and renders with every documented values file, renders what the kustomize overlays render (the
// chart is generated from manifests/, so the two cannot drift), refuses bad values with a message,
// and installs, upgrades and uninstalls for real on a fresh control plane of its own (its APIService
// and fail-closed webhooks must not disturb the suites that share the other one). There is no node:
// the Deployment is created but gets no Pods, so the test checks the objects, not running replicas.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ControlPlane } from '../harness/controlplane.ts';
import { repoRoot } from '../harness/syncflow-server.ts';

const execFileAsync = promisify(execFile);
const chart = join(repoRoot, 'charts/syncflow');
const examples = readdirSync(join(chart, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const MONITORING = ['monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PrometheusRule'];

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

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command and resolves with its result whatever the exit code. */
function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// YAML 1.1, as Kubernetes reads it (`defaultMode: 0440` is octal).
const parse = (text: string): KubeObject[] =>
  parseAllDocuments(text, { version: '1.1' })
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
const key = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;
const find = (objects: KubeObject[], kind: string, name: string): KubeObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in ${objects.map(key).join(', ')}`);
  return found;
};

interface Named {
  name: string;
}

/** What kustomize and Helm must agree on: the object without labels, annotations and caBundles. */
function comparable(o: KubeObject): unknown {
  const copy = JSON.parse(JSON.stringify(o)) as Record<string, unknown> & KubeObject;
  delete copy.metadata.labels;
  delete copy.metadata.annotations;
  const text = JSON.stringify(copy, (k, v: unknown) => (k === 'caBundle' ? undefined : v));
  const plain = JSON.parse(text) as {
    spec?: {
      template?: {
        spec?: {
          containers?: Array<{ args?: string[]; env?: Named[]; volumeMounts?: Named[] }>;
          volumes?: Named[];
        };
      };
    };
  };
  // Order carries no meaning in these lists (kustomize's patches put their items first, the chart
  // appends), so both sides are compared sorted.
  const byName = (list: Named[] | undefined) => list?.sort((x, y) => x.name.localeCompare(y.name));
  for (const c of plain.spec?.template?.spec?.containers ?? []) {
    c.args?.sort();
    byName(c.env);
    byName(c.volumeMounts);
  }
  byName(plain.spec?.template?.spec?.volumes);
  return plain;
}

/** The shell blocks of docs/install.md marked `<!-- doctest: NAME -->`, by name. */
function doctestBlock(name: string): string {
  const markdown = readFileSync(join(repoRoot, 'docs/install.md'), 'utf8');
  const match = new RegExp(`<!-- doctest: ${name} -->\\s*\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(markdown);
  if (!match?.[1]) throw new Error(`docs/install.md has no block marked doctest: ${name}`);
  return match[1];
}

describe('Helm chart charts/syncflow (helm from its Go module)', function () {
  this.timeout(10 * 60_000);
  let helm: string;
  let kubectl: string;

  const template = async (...args: string[]): Promise<KubeObject[]> => {
    const result = await run(helm, [
      'template',
      'syncflow',
      chart,
      '--namespace',
      'syncflow-system',
      ...args,
    ]);
    expect(result.code, result.stderr).to.equal(0);
    return parse(result.stdout);
  };

  before(async () => {
    helm = (await execFileAsync('bash', [join(repoRoot, 'hack/tools.sh'), 'helm'])).stdout.trim();
    const controlplane = (
      await execFileAsync('bash', [join(repoRoot, 'hack/controlplane/build.sh')], {
        maxBuffer: 16 * 1024 * 1024,
      })
    ).stdout.trim();
    kubectl = join(controlplane, 'kubectl');
  });

  it('documents its values files in charts/syncflow/examples', () => {
    expect(examples).to.include.members([
      'dev.yaml',
      'production.yaml',
      'cert-manager.yaml',
      'provided-certs.yaml',
    ]);
  });

  it('passes `helm lint --strict` with the defaults and with every documented values file', async () => {
    for (const values of [undefined, ...examples]) {
      const args = ['lint', '--strict', chart, ...(values ? ['-f', join(chart, 'examples', values)] : [])];
      const result = await run(helm, args);
      expect(result.code, `${values ?? 'defaults'}: ${result.stdout}${result.stderr}`).to.equal(0);
      expect(result.stdout).to.contain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  for (const [example, overlay] of [
    ['dev.yaml', 'dev'],
    ['production.yaml', 'production'],
    ['cert-manager.yaml', 'cert-manager'],
  ] as const) {
    it(`examples/${example} renders what manifests/overlays/${overlay} renders (one source: manifests/)`, async () => {
      const helmObjects = await template('-f', join(chart, 'examples', example));
      const kustomize = parse(
        (await execFileAsync(kubectl, ['kustomize', join(repoRoot, 'manifests/overlays', overlay)])).stdout,
      );
      // CRDs come from the chart's crds/ (helm template leaves them out without --include-crds); the
      // Namespace is Helm's (--create-namespace), labelled as docs/install.md says.
      const expected = kustomize.filter(
        (o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition',
      );
      for (const o of expected)
        expect(comparable(find(helmObjects, o.kind, o.metadata.name)), key(o)).to.deep.equal(comparable(o));
      // Nothing else but what the certificate mode adds.
      const extra = helmObjects.map(key).filter((k) => !expected.some((o) => key(o) === k));
      expect(extra, overlay === 'cert-manager' ? 'cert-manager' : 'self-signed').to.deep.equal(
        overlay === 'cert-manager' ? [] : ['Secret/syncflow-serving-cert'],
      );
      for (const o of helmObjects) {
        expect(o.metadata.labels?.['app.kubernetes.io/managed-by'], key(o)).to.equal('Helm');
        expect(o.metadata.labels?.['app.kubernetes.io/part-of'], key(o)).to.equal('syncflow');
      }
    });
  }

  it('ships the generated CRDs unchanged in crds/', () => {
    for (const file of ['syncflow.io_workflows.yaml', 'syncflow.io_workflowtasks.yaml'])
      expect(readFileSync(join(chart, 'crds', file), 'utf8')).to.equal(
        readFileSync(join(repoRoot, 'manifests/crds', file), 'utf8'),
      );
  });

  it('self-signed certificates: one CA in the Secret, the APIService and both webhooks; the serving certificate names the release namespace', async () => {
    const objects = await template('--namespace', 'team-a');
    const secret = find(objects, 'Secret', 'syncflow-serving-cert') as unknown as {
      data: Record<string, string>;
    };
    const ca = secret.data['ca.crt'] ?? '';
    expect(
      (
        find(objects, 'APIService', 'v1alpha1.execution.syncflow.io') as unknown as {
          spec: { caBundle: string };
        }
      ).spec.caBundle,
    ).to.equal(ca);
    const webhooks = (
      find(objects, 'ValidatingWebhookConfiguration', 'syncflow') as unknown as {
        webhooks: Array<{ clientConfig: { caBundle: string; service: { namespace: string } } }>;
      }
    ).webhooks;
    for (const w of webhooks) {
      expect(w.clientConfig.caBundle).to.equal(ca);
      expect(w.clientConfig.service.namespace).to.equal('team-a');
    }
    const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'] ?? '', 'base64'));
    expect(cert.verify(new X509Certificate(Buffer.from(ca, 'base64')).publicKey)).to.equal(true);
    expect(cert.subjectAltName).to.contain('DNS:syncflow.team-a.svc');
    // Everything namespaced is in the release namespace, but the reader binding of kube-system's ConfigMap.
    for (const o of objects.filter(
      (x) => x.metadata.namespace !== undefined && x.metadata.namespace !== 'kube-system',
    ))
      expect(o.metadata.namespace, key(o)).to.equal('team-a');
  });

  it("provided certificates: the operator's Secret and CA bundle, no generated Secret", async () => {
    const objects = await template('-f', join(chart, 'examples', 'provided-certs.yaml'));
    expect(objects.map(key)).not.to.include('Secret/syncflow-serving-cert');
    const values = parseAllDocuments(
      readFileSync(join(chart, 'examples', 'provided-certs.yaml'), 'utf8'),
    )[0]?.toJS() as {
      certificates: { provided: { secretName: string; caBundle: string } };
    };
    const apiService = find(objects, 'APIService', 'v1alpha1.execution.syncflow.io') as unknown as {
      spec: { caBundle: string };
    };
    expect(apiService.spec.caBundle).to.equal(values.certificates.provided.caBundle);
    const volumes = (
      find(objects, 'Deployment', 'syncflow') as unknown as {
        spec: { template: { spec: { volumes: Array<{ secret?: { secretName: string } }> } } };
      }
    ).spec.template.spec.volumes;
    expect(volumes.find((v) => v.secret)?.secret?.secretName).to.equal(
      values.certificates.provided.secretName,
    );
  });

  it('values reach the Pod: replicas, resources, image, database Secret, egress flags, OTel endpoint, roles and policies', async () => {
    const objects = await template(
      '--set',
      'replicas=4',
      '--set',
      'image.repository=registry.example/syncflow',
      '--set',
      'image.tag=9.9.9',
      '--set-string',
      'resources.requests.cpu=3',
      '--set',
      'database.urlSecret.name=pg',
      '--set',
      'database.urlSecret.key=dsn',
      '--set',
      'egress.allowCIDRs={10.1.0.0/16}',
      '--set',
      'egress.allowHosts={*.example.com}',
      '--set',
      'otel.endpoint=http://otel-collector:4318',
      '--set',
      'userRoles.create=false',
      '--set',
      'networkPolicy.enabled=false',
      '--set',
      'podDisruptionBudget.minAvailable=3',
      '--set',
      'secretReader.namespaces={apps}',
    );
    const deployment = find(objects, 'Deployment', 'syncflow') as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            containers: Array<{
              image: string;
              args: string[];
              resources: { requests: Record<string, string> };
              env: Array<{
                name: string;
                value?: string;
                valueFrom?: { secretKeyRef?: { name: string; key: string } };
              }>;
            }>;
          };
        };
      };
    };
    const c = deployment.spec.template.spec.containers[0];
    expect(deployment.spec.replicas).to.equal(4);
    expect(c?.image).to.equal('registry.example/syncflow:9.9.9');
    expect(c?.resources.requests.cpu).to.equal('3');
    expect(c?.args).to.include.members([
      '--egress-allow-cidr=10.1.0.0/16',
      '--egress-allow-host=*.example.com',
    ]);
    const env = new Map(c?.env.map((e) => [e.name, e]));
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'pg', key: 'dsn' });
    expect(env.get('OTEL_EXPORTER_OTLP_ENDPOINT')?.value).to.equal('http://otel-collector:4318');
    const kinds = objects.map(key);
    expect(kinds).not.to.include.members(['ClusterRole/syncflow-author']);
    expect(kinds).not.to.include('NetworkPolicy/syncflow');
    expect(
      (find(objects, 'PodDisruptionBudget', 'syncflow') as unknown as { spec: { minAvailable: number } }).spec
        .minAvailable,
    ).to.equal(3);
    const binding = find(objects, 'RoleBinding', 'syncflow:secret-reader');
    expect(binding.metadata.namespace).to.equal('apps');
    // Without an OTel endpoint there is no OTel variable at all (tracing stays off).
    const plain = await template();
    const plainEnv =
      (
        find(plain, 'Deployment', 'syncflow') as unknown as {
          spec: { template: { spec: { containers: Array<{ env: Array<{ name: string }> }> } } };
        }
      ).spec.template.spec.containers[0]?.env ?? [];
    expect(plainEnv.map((e) => e.name).filter((n) => n.startsWith('OTEL_'))).to.deep.equal([]);
  });

  it('ServiceMonitor and PrometheusRule only where the cluster serves monitoring.coreos.com/v1; the rule groups are those promtool checks', async () => {
    const without = await template();
    expect(without.map((o) => o.kind)).not.to.include.members(['ServiceMonitor']);
    expect(without.map((o) => o.kind)).not.to.include('PrometheusRule');
    const withApi = await template(...MONITORING.flatMap((api) => ['--api-versions', api]));
    const rule = find(withApi, 'PrometheusRule', 'syncflow') as unknown as { spec: { groups: unknown } };
    const rulesFile = parseAllDocuments(
      readFileSync(join(chart, 'prometheus/syncflow-rules.yaml'), 'utf8'),
    )[0]?.toJS() as { groups: unknown };
    expect(rule.spec.groups).to.deep.equal(rulesFile.groups);
    const monitor = find(withApi, 'ServiceMonitor', 'syncflow') as unknown as {
      spec: { endpoints: Array<{ port: string; path: string; scheme: string }> };
    };
    expect(monitor.spec.endpoints[0]).to.deep.include({ port: 'https', path: '/metrics', scheme: 'https' });
    const dashboards = await template('--set', 'grafanaDashboard.enabled=true');
    const dashboard = find(dashboards, 'ConfigMap', 'syncflow-dashboard') as unknown as {
      data: Record<string, string>;
    };
    expect(JSON.parse(dashboard.data['syncflow.json'] ?? '')).to.deep.equal(
      JSON.parse(readFileSync(join(chart, 'dashboards/syncflow.json'), 'utf8')),
    );
  });

  // Helm reports schema violations with the value's JSON pointer.
  for (const [set, message] of [
    ['replicas=0', "at '/replicas'"],
    ['certificates.mode=acme', "at '/certificates/mode': value must be one of"],
    ['image.repository=', "at '/image/repository'"],
    ['replica=3', "additional properties 'replica' not allowed"],
    ['egress.allowCIDRs={not-a-cidr}', "at '/egress/allowCIDRs/0'"],
    ['database.embedded=true', "at '/replicas': value must be 1"],
    ['certificates.mode=provided', "at '/certificates/provided"],
  ] as const) {
    it(`refuses --set ${set} with a message naming the value (${message})`, async () => {
      const result = await run(helm, ['template', 'syncflow', chart, '--set', set]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain(message);
    });
  }

  describe('on a fresh control plane', () => {
    let cp: ControlPlane;
    let env: NodeJS.ProcessEnv;
    const kube = (...args: string[]) => cp.kubectl.run(args);

    before(async () => {
      // Like a fresh cluster: without syncflow's CRDs, which the chart's crds/ brings (deleting them
      // instead once left them terminating for minutes: kube-apiserver's CRD finalizer could not
      // list instances while their watch cache initialised, and backed off), and without cp-up.sh's
      // stand-ins for the local server (its APIService, the ExternalName Service and the
      // ServiceAccount of hack/controlplane/dev-rbac.yaml).
      cp = await ControlPlane.start({ withoutCrds: true });
      await cp.kubectl.ok(['delete', 'apiservice', 'v1alpha1.execution.syncflow.io']);
      await cp.kubectl.ok(['-n', 'syncflow-system', 'delete', 'service,serviceaccount', 'syncflow']);
      env = {
        ...process.env,
        KUBECONFIG: cp.settings.kubeconfig,
        PATH: `${dirname(helm)}:${dirname(cp.settings.kubectl)}:${process.env.PATH ?? ''}`,
      };
    });

    after(async () => {
      await cp?.stop();
    });

    it('a real install creates every object (CRDs from crds/), an upgrade changes them and keeps the certificate, an uninstall removes them', async () => {
      // Stand-in CRDs with an open schema: the chart's monitoring objects appear when the API exists.
      const standIn = (kind: string, plural: string) => ({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${plural}.monitoring.coreos.com` },
        spec: {
          group: 'monitoring.coreos.com',
          scope: 'Namespaced',
          names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      });
      await cp.kubectl.ok(['apply', '-f', '-'], {
        stdin: JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [standIn('ServiceMonitor', 'servicemonitors'), standIn('PrometheusRule', 'prometheusrules')],
        }),
      });
      await cp.kubectl.ok([
        'wait',
        '--for',
        'condition=Established',
        'crd/servicemonitors.monitoring.coreos.com',
        'crd/prometheusrules.monitoring.coreos.com',
      ]);
      // The control plane started without the CRDs, so the install must bring them.
      for (const crd of ['workflows.syncflow.io', 'workflowtasks.syncflow.io'])
        expect((await kube('get', 'crd', crd, '-o', 'name')).code, `${crd} before the install`).to.equal(1);
      const install = await run(
        helm,
        ['install', 'sf', chart, '-n', 'helm-e2e', '--create-namespace', '--set', 'replicas=2'],
        env,
      );
      expect(install.code, install.stderr).to.equal(0);
      const manifest = parse((await run(helm, ['get', 'manifest', 'sf', '-n', 'helm-e2e'], env)).stdout);
      expect(manifest.map((o) => o.kind)).to.include.members([
        'Deployment',
        'Service',
        'APIService',
        'ValidatingWebhookConfiguration',
        'ClusterRole',
        'ServiceMonitor',
        'PrometheusRule',
        'Secret',
      ]);
      for (const o of manifest) {
        const args = [
          'get',
          `${o.kind}.${o.apiVersion.split('/').length > 1 ? o.apiVersion.split('/')[0] : ''}`.replace(
            /\.$/,
            '',
          ),
          o.metadata.name,
          '-o',
          'name',
        ];
        if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
        const got = await kube(...args);
        expect(got.code, `${key(o)}: ${got.stderr}`).to.equal(0);
      }
      for (const crd of ['workflows.syncflow.io', 'workflowtasks.syncflow.io'])
        expect((await kube('get', 'crd', crd, '-o', 'name')).code, crd).to.equal(0);
      // The alerts' kube-apiserver metrics are real: with no Pod behind the Service the APIService is
      // unavailable and the fail-closed webhook refuses a Workflow with a calling error.
      const workload = await cp.createNamespace('helm-wl');
      const refused = await kube('-n', workload, 'apply', '-f', join(repoRoot, 'examples/user-profile.yaml'));
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.contain('failed calling webhook "workflow');
      let metrics = '';
      for (
        let i = 0;
        i < 60 &&
        !/^aggregator_unavailable_apiservice\{[^}]*name="v1alpha1\.execution\.syncflow\.io"[^}]*\} 1$/m.test(
          metrics,
        );
        i++
      ) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
        metrics = await cp.kubectl.ok(['get', '--raw', '/metrics'], { timeoutMs: 30_000 });
      }
      expect(metrics).to.match(
        /^aggregator_unavailable_apiservice\{[^}]*name="v1alpha1\.execution\.syncflow\.io"[^}]*\} 1$/m,
      );
      expect(metrics).to.match(
        /^apiserver_admission_webhook_rejection_count\{[^}]*error_type="calling_webhook_error"[^}]*name="workflow[a-z]*\.syncflow\.io"/m,
      );
      const caBefore = await cp.kubectl.ok([
        'get',
        'apiservice',
        'v1alpha1.execution.syncflow.io',
        '-o',
        'jsonpath={.spec.caBundle}',
      ]);
      // Upgrade: new values reach the objects; the self-signed CA is reused, not regenerated.
      const upgrade = await run(
        helm,
        [
          'upgrade',
          'sf',
          chart,
          '-n',
          'helm-e2e',
          '--set',
          'replicas=3',
          '--set',
          'networkPolicy.enabled=false',
        ],
        env,
      );
      expect(upgrade.code, upgrade.stderr).to.equal(0);
      expect(
        await cp.kubectl.ok([
          '-n',
          'helm-e2e',
          'get',
          'deployment',
          'syncflow',
          '-o',
          'jsonpath={.spec.replicas}',
        ]),
      ).to.equal('3');
      expect(
        (await kube('-n', 'helm-e2e', 'get', 'networkpolicy', 'syncflow')).code,
        'the disabled NetworkPolicy is removed',
      ).to.equal(1);
      expect(
        await cp.kubectl.ok([
          'get',
          'apiservice',
          'v1alpha1.execution.syncflow.io',
          '-o',
          'jsonpath={.spec.caBundle}',
        ]),
      ).to.equal(caBefore);
      const uninstall = await run(helm, ['uninstall', 'sf', '-n', 'helm-e2e', '--wait'], env);
      expect(uninstall.code, uninstall.stderr).to.equal(0);
      for (const [kind, name] of [
        ['apiservice', 'v1alpha1.execution.syncflow.io'],
        ['validatingwebhookconfiguration', 'syncflow'],
        ['clusterrole', 'syncflow:server'],
        ['clusterrolebinding', 'syncflow:server'],
      ] as const)
        expect((await kube('get', kind, name)).code, `${kind}/${name} is removed`).to.equal(1);
      expect(
        (
          await kube(
            '-n',
            'helm-e2e',
            'get',
            'deployment,service,secret',
            '-l',
            'app.kubernetes.io/instance=sf',
            '-o',
            'name',
          )
        ).stdout.trim(),
      ).to.equal('');
      // Helm keeps CRDs on uninstall (deleting them would delete every Workflow).
      expect((await kube('get', 'crd', 'workflows.syncflow.io', '-o', 'name')).code).to.equal(0);
    });

    // This test and the next run after the real install: the CRDs (and the stand-in monitoring
    // CRDs) it leaves are there for them, as on a cluster the chart was installed on before.
    it('`helm install --dry-run=server` accepts every object', async () => {
      const result = await run(
        helm,
        [
          'install',
          'syncflow',
          chart,
          '-n',
          'syncflow-system',
          '--dry-run=server',
          '-f',
          join(chart, 'examples', 'production.yaml'),
        ],
        env,
      );
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.contain('STATUS: pending-install');
    });

    it('docs/install.md "Install with Helm" installs, upgrades and uninstalls as written', async () => {
      const script = ['set -euo pipefail', ...['helm', 'helm-upgrade', 'helm-uninstall'].map(doctestBlock)];
      const result = await run('bash', ['-c', script.join('\n')], env, 5 * 60_000);
      expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
      expect(result.stdout).to.match(/STATUS: deployed/);
      expect(result.stdout).to.match(/^2\s.*\bdeployed\b.*Upgrade complete/m);
      expect(result.stdout).to.contain('release "syncflow" uninstalled');
    });
  });
});
