/**
 * Writes the Helm chart's generated files (charts/syncflow: Chart.yaml, values.yaml, crds/ and the
 * templates of every object manifests/ ships) from manifests/, so the chart and the kustomize overlays
 * have one source. The object definitions come from manifests/base; what an overlay changes (the dev
 * overlay's embedded database, the cert-manager overlay's certificates and CA injection, the dev
 * overlay's Secret reader binding) becomes a value. Each value replaces one field of the parsed
 * manifest, so any other change to manifests/ reaches the chart. With --check, exits 1 when the
 * committed files differ (the test command runs this). The chart's hand-written files are
 * templates/_helpers.tpl, templates/NOTES.txt, the monitoring and self-signed certificate templates,
 * values.schema.json and examples/.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, parseAllDocuments, stringify, visit } from 'yaml';
import type { Document, YAMLMap, YAMLSeq } from 'yaml';

const ROOT = join(import.meta.dirname, '..');
const CHART = 'charts/syncflow';
const NAMESPACE = 'syncflow-system';

/** Where a block placeholder sits: the line's indentation and whether it is a sequence item. */
interface BlockContext {
  indent: string;
  item: boolean;
}

/**
 * Placeholders put into the parsed manifests and replaced by template text after printing: a scalar
 * becomes `{{ expr }}` where it stands; a block replaces its whole line with template lines.
 */
class Placeholders {
  private readonly scalars: string[] = [];
  private readonly blocks: Array<(at: BlockContext) => string> = [];

  scalar(expr: string): string {
    this.scalars.push(expr);
    return `HELMS${this.scalars.length - 1}S`;
  }

  block(render: (at: BlockContext) => string): string {
    this.blocks.push(render);
    return `HELMB${this.blocks.length - 1}B`;
  }

  render(text: string): string {
    const withBlocks = text.replace(
      /^( *)(- )?(?:[^\n]*?: )?HELMB(\d+)B *$/gm,
      (_m, indent: string, dash, n) => {
        const render = this.blocks[Number(n)];
        if (!render) throw new Error(`unknown block placeholder ${String(n)}`);
        return render({ indent, item: dash !== undefined });
      },
    );
    return withBlocks.replace(/HELMS(\d+)S/g, (_m, n) => `{{ ${this.scalars[Number(n)] ?? ''} }}`);
  }
}

/** One template file: documents, each optionally under a condition. */
interface TemplateDoc {
  doc: Document;
  when?: string;
}

const read = (path: string) => readFile(join(ROOT, path), 'utf8');
const docs = async (path: string): Promise<Document[]> =>
  // YAML 1.1, as Kubernetes reads manifests: `defaultMode: 0440` is octal and stays written so.
  parseAllDocuments(await read(path), { version: '1.1' }).filter((d) => d.contents !== null) as Document[];
const kindName = (doc: Document) => `${String(doc.get('kind'))}/${String(doc.getIn(['metadata', 'name']))}`;
const yamlLines = (value: unknown, indent: string) =>
  stringify(value, { lineWidth: 0 })
    .trimEnd()
    .split('\n')
    .map((line) => indent + line)
    .join('\n');

const p = new Placeholders();
const LABELS = '$.Values';

/** Every scalar naming the manifests' namespace names the release's instead. */
function releaseNamespace(doc: Document): void {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && node.value.includes(NAMESPACE))
        node.value = node.value.replaceAll(NAMESPACE, p.scalar('$.Release.Namespace'));
    },
  });
}

/** metadata.labels: the chart's labels (helpers), then the object's own. */
function labels(doc: Document, guardedOwn?: { when: string }): void {
  const own = doc.getIn(['metadata', 'labels']) as YAMLMap | undefined;
  const ownJs = own ? (own.toJSON() as Record<string, string>) : {};
  doc.setIn(
    ['metadata', 'labels'],
    p.block(({ indent }) => {
      const child = `${indent}  `;
      const lines = [`${indent}labels:`, `{{- include "syncflow.labels" $ | nindent ${child.length} }}`];
      if (Object.keys(ownJs).length > 0) {
        if (guardedOwn) lines.push(`{{- if ${guardedOwn.when} }}`);
        lines.push(yamlLines(ownJs, child));
        if (guardedOwn) lines.push('{{- end }}');
      }
      return lines.join('\n');
    }),
  );
}

/** Replaces the item at `index` of a sequence by the same item under a condition. */
function guardItem(seq: YAMLSeq, index: number, when: string): void {
  const node = seq.items[index] as YAMLMap;
  const comment = node.commentBefore;
  const js: unknown = node.toJSON();
  seq.items[index] = p.block(({ indent }) => {
    const lines = [`{{- if ${when} }}`];
    if (comment) lines.push(...comment.split('\n').map((l) => `${indent}#${l}`));
    lines.push(yamlLines([js], indent), '{{- end }}');
    return lines.join('\n');
  }) as unknown as YAMLMap;
}

/** `{{` in the manifests' text (comments naming `{{secrets.*}}`) is text for Helm, not an action. */
const escapeActions = (text: string) => text.replaceAll('{{', '{{ "{{" }}');

/** The text of one template file. */
function templateText(source: string, items: TemplateDoc[]): string {
  const parts = items.map(({ doc, when }) => {
    const body = p.render(
      escapeActions(doc.toString({ lineWidth: 0, flowCollectionPadding: false }).trimEnd()),
    );
    return when ? `{{- if ${when} }}\n---\n${body}\n{{- end }}` : `---\n${body}`;
  });
  return `# Generated by hack/generate-chart.ts from ${source}. Do not edit.\n${parts.join('\n')}\n`;
}

function findDoc(list: Document[], kind: string): Document {
  const found = list.find((d) => d.get('kind') === kind);
  if (!found) throw new Error(`no ${kind} in ${list.map(kindName).join(', ')}`);
  return found;
}

/** The value of `--flag=` in an args list. */
function flagValue(args: string[], flag: string): string {
  const arg = args.find((a) => a.startsWith(`--${flag}=`));
  if (!arg) throw new Error(`no --${flag} in ${args.join(' ')}`);
  return arg.slice(flag.length + 3);
}

const files = new Map<string, string>();
const base = async (name: string) => docs(`manifests/base/${name}`);

// --- The overlays: what they change becomes a value (defaults are the base's).
const devDeployment = findDoc(await docs('manifests/overlays/dev/deployment.yaml'), 'Deployment').toJS() as {
  spec: {
    template: {
      spec: {
        containers: Array<{ args: string[]; volumeMounts: Array<{ name: string; mountPath: string }> }>;
        volumes: Array<{ name: string }>;
      };
    };
  };
};
const devPod = devDeployment.spec.template.spec;
const embeddedDir = flagValue(devPod.containers[0]?.args ?? [], 'embedded-data-dir');
const dataMount = devPod.containers[0]?.volumeMounts.find((m) => m.mountPath === embeddedDir);
const dataVolume = devPod.volumes.find((v) => v.name === dataMount?.name);
if (!dataMount || !dataVolume) throw new Error('the dev overlay mounts no volume at --embedded-data-dir');
const certManagerKustomization = (
  await docs('manifests/overlays/cert-manager/kustomization.yaml')
)[0]?.toJS() as {
  patches: Array<{ target: { kind: string }; patch: string }>;
};
const injectAnnotations = (kind: string): Record<string, string> => {
  const patch = certManagerKustomization.patches.find((x) => x.target.kind === kind);
  const op = (
    parseAllDocuments(patch?.patch ?? '')[0]?.toJS() as Array<{ path: string; value: Record<string, string> }>
  )[0];
  if (op?.path !== '/metadata/annotations')
    throw new Error(`the cert-manager overlay does not annotate the ${kind}`);
  return Object.fromEntries(
    Object.entries(op.value).map(([k, v]) => [k, v.replaceAll(NAMESPACE, '{{ $.Release.Namespace }}')]),
  );
};

/** metadata.annotations of the cert-manager mode (CA injection), as the overlay patches them. */
function caInjection(doc: Document): void {
  const annotations = injectAnnotations(String(doc.get('kind')));
  doc.setIn(
    ['metadata', 'HELMK'],
    p.block(({ indent }) =>
      [
        '{{- if eq $.Values.certificates.mode "certManager" }}',
        `${indent}annotations:`,
        ...Object.entries(annotations).map(([k, v]) => `${indent}  ${k}: ${v}`),
        '{{- end }}',
      ].join('\n'),
    ),
  );
}

/** caBundle of an APIService spec or a webhook clientConfig, unless cert-manager injects it. */
function caBundle(map: YAMLMap): void {
  map.set(
    'caBundle',
    p.block(({ indent }) =>
      [
        '{{- if ne $.Values.certificates.mode "certManager" }}',
        `${indent}caBundle: {{ include "syncflow.caBundle" $ }}`,
        '{{- end }}',
      ].join('\n'),
    ),
  );
}

// --- manifests/base, one template per file (the Namespace is Helm's: --create-namespace).
const defaults: Record<string, unknown> = {};
for (const name of (await readdir(join(ROOT, 'manifests/base')))
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort()) {
  const items: TemplateDoc[] = [];
  for (const doc of await base(name)) {
    const kind = String(doc.get('kind'));
    if (kind === 'Namespace') continue;
    const item: TemplateDoc = { doc };
    releaseNamespace(doc);
    const own = doc.getIn(['metadata', 'labels']) as YAMLMap | undefined;
    const aggregates = own?.items.some((pair) =>
      String((pair.key as { value: unknown }).value).includes('aggregate-to'),
    );
    if (name === 'rbac-users.yaml') {
      item.when = `${LABELS}.userRoles.create`;
      labels(doc, aggregates ? { when: `${LABELS}.userRoles.aggregateToDefaultRoles` } : undefined);
    } else labels(doc);
    switch (kind) {
      case 'Deployment':
        templateDeployment(doc);
        break;
      case 'APIService':
        caInjection(doc);
        caBundle(doc.get('spec') as YAMLMap);
        break;
      case 'ValidatingWebhookConfiguration':
        caInjection(doc);
        for (const w of (doc.get('webhooks') as YAMLSeq).items as YAMLMap[])
          caBundle(w.get('clientConfig') as YAMLMap);
        break;
      case 'PodDisruptionBudget':
        defaults.minAvailable = doc.getIn(['spec', 'minAvailable']);
        doc.setIn(['spec', 'minAvailable'], p.scalar(`${LABELS}.podDisruptionBudget.minAvailable`));
        item.when = `and ${LABELS}.podDisruptionBudget.enabled (gt (int ${LABELS}.replicas) 1)`;
        break;
      case 'NetworkPolicy':
        templateNetworkPolicy(doc);
        item.when = `${LABELS}.networkPolicy.enabled`;
        break;
    }
    items.push(item);
  }
  if (items.length > 0)
    files.set(`${CHART}/templates/${name}`, templateText(`manifests/base/${name}`, items));
}

function templateDeployment(doc: Document): void {
  defaults.replicas = doc.getIn(['spec', 'replicas']);
  doc.setIn(['spec', 'replicas'], p.scalar(`${LABELS}.replicas`));
  const pod = ['spec', 'template', 'spec'];
  const containers = doc.getIn([...pod, 'containers']) as YAMLSeq;
  const c = containers.items.find((x) => isMap(x) && x.get('name') === 'server') as YAMLMap;
  const image = String(c.get('image'));
  const colon = image.lastIndexOf(':');
  defaults.imageRepository = image.slice(0, colon);
  defaults.imageTag = image.slice(colon + 1);
  defaults.pullPolicy = c.get('imagePullPolicy');
  c.set(
    'image',
    p.scalar(
      `printf "%s:%s" ${LABELS}.image.repository (${LABELS}.image.tag | default $.Chart.AppVersion | toString) | quote`,
    ),
  );
  c.set('imagePullPolicy', p.scalar(`${LABELS}.image.pullPolicy`));
  // Flags: the base's, then those the values add.
  (c.get('args') as YAMLSeq).add(
    p.block(({ indent }) =>
      [
        `{{- if ${LABELS}.database.embedded }}`,
        `${indent}- --embedded-data-dir=${embeddedDir}`,
        '{{- end }}',
        ...(
          [
            ['allowCIDRs', 'egress-allow-cidr'],
            ['denyCIDRs', 'egress-deny-cidr'],
            ['allowHosts', 'egress-allow-host'],
            ['denyHosts', 'egress-deny-host'],
          ] as const
        ).flatMap(([value, flag]) => [
          `{{- range ${LABELS}.egress.${value} }}`,
          `${indent}- {{ printf "--${flag}=%s" . | quote }}`,
          '{{- end }}',
        ]),
        `{{- with ${LABELS}.egress.maxRedirects }}`,
        `${indent}- --egress-max-redirects={{ . }}`,
        '{{- end }}',
        `{{- with ${LABELS}.logLevel }}`,
        `${indent}- --log-level={{ . }}`,
        '{{- end }}',
        `{{- range ${LABELS}.extraArgs }}`,
        `${indent}- {{ . | quote }}`,
        '{{- end }}',
      ].join('\n'),
    ),
  );
  // Environment: DATABASE_URL from the values' Secret unless embedded; Node's heap; OTel.
  const env = c.get('env') as YAMLSeq;
  const dbIndex = env.items.findIndex((e) => isMap(e) && e.get('name') === 'DATABASE_URL');
  const db = env.items[dbIndex] as YAMLMap;
  const ref = db.getIn(['valueFrom', 'secretKeyRef']) as YAMLMap;
  defaults.databaseSecret = ref.get('name');
  defaults.databaseKey = ref.get('key');
  ref.set('name', p.scalar(`${LABELS}.database.urlSecret.name | quote`));
  ref.set('key', p.scalar(`${LABELS}.database.urlSecret.key | quote`));
  guardItem(env, dbIndex, `not ${LABELS}.database.embedded`);
  const nodeOptions = env.items.find((e) => isMap(e) && e.get('name') === 'NODE_OPTIONS') as YAMLMap;
  defaults.nodeOptions = nodeOptions.get('value');
  nodeOptions.set('value', p.scalar(`${LABELS}.nodeOptions | quote`));
  env.add(
    p.block(({ indent }) =>
      [
        `{{- with ${LABELS}.otel.endpoint }}`,
        `${indent}- name: OTEL_EXPORTER_OTLP_ENDPOINT`,
        `${indent}  value: {{ . | quote }}`,
        '{{- end }}',
        `{{- with ${LABELS}.extraEnv }}`,
        `{{- toYaml . | nindent ${indent.length} }}`,
        '{{- end }}',
      ].join('\n'),
    ),
  );
  defaults.resources = (c.get('resources') as YAMLMap).toJSON();
  c.set(
    'resources',
    p.block(
      ({ indent }) => `${indent}resources:\n{{- toYaml ${LABELS}.resources | nindent ${indent.length + 2} }}`,
    ),
  );
  // The embedded database's volume (the dev overlay's), and the serving certificate's Secret.
  (c.get('volumeMounts') as YAMLSeq).add(
    p.block(({ indent }) =>
      [`{{- if ${LABELS}.database.embedded }}`, yamlLines([dataMount], indent), '{{- end }}'].join('\n'),
    ),
  );
  const volumes = doc.getIn([...pod, 'volumes']) as YAMLSeq;
  for (const v of volumes.items as YAMLMap[]) {
    if (isMap(v.get('secret')))
      (v.get('secret') as YAMLMap).set('secretName', p.scalar('include "syncflow.servingSecretName" $'));
  }
  volumes.add(
    p.block(({ indent }) =>
      [`{{- if ${LABELS}.database.embedded }}`, yamlLines([dataVolume], indent), '{{- end }}'].join('\n'),
    ),
  );
  // Scheduling values, when given.
  const podSpec = doc.getIn(pod) as YAMLMap;
  podSpec.set(
    'HELMK',
    p.block(({ indent }) =>
      ['nodeSelector', 'tolerations', 'affinity', 'priorityClassName']
        .flatMap((field) => [
          `{{- with ${LABELS}.${field} }}`,
          field === 'priorityClassName'
            ? `${indent}${field}: {{ . | quote }}`
            : `${indent}${field}:\n{{- toYaml . | nindent ${indent.length + 2} }}`,
          '{{- end }}',
        ])
        .join('\n'),
    ),
  );
  const template = doc.getIn(['spec', 'template', 'metadata']) as YAMLMap;
  template.set(
    'HELMK',
    p.block(({ indent }) =>
      [
        `{{- with ${LABELS}.podAnnotations }}`,
        `${indent}annotations:`,
        `{{- toYaml . | nindent ${indent.length + 2} }}`,
        '{{- end }}',
      ].join('\n'),
    ),
  );
}

function templateNetworkPolicy(doc: Document): void {
  const ingress = doc.getIn(['spec', 'ingress']) as YAMLSeq;
  const [fromApiServer, fromCallers] = ingress.items as YAMLMap[];
  if (!fromApiServer || !fromCallers) throw new Error('the NetworkPolicy has fewer than two ingress rules');
  const blocks = (fromApiServer.get('from') as YAMLSeq).items as YAMLMap[];
  defaults.apiServerCIDRs = blocks.map((b) => (b.get('ipBlock') as YAMLMap).get('cidr'));
  fromApiServer.set(
    'from',
    p.block(({ indent }) =>
      [
        `${indent}from:`,
        `{{- range ${LABELS}.networkPolicy.apiServerCIDRs }}`,
        `${indent}  - ipBlock: {cidr: {{ . | quote }}}`,
        '{{- end }}',
      ].join('\n'),
    ),
  );
  const selector = ((fromCallers.get('from') as YAMLSeq).items[0] as YAMLMap).get(
    'namespaceSelector',
  ) as YAMLMap;
  defaults.runGatewayLabels = (selector.get('matchLabels') as YAMLMap).toJSON();
  selector.set(
    'matchLabels',
    p.block(
      ({ indent }) =>
        `${indent}matchLabels:\n{{- toYaml ${LABELS}.networkPolicy.runGatewayNamespaceLabels | nindent ${indent.length + 2} }}`,
    ),
  );
}

// --- The cert-manager overlay's certificates, in certManager mode.
{
  const items: TemplateDoc[] = [];
  for (const doc of await docs('manifests/overlays/cert-manager/certificates.yaml')) {
    releaseNamespace(doc);
    labels(doc);
    items.push({ doc, when: `eq ${LABELS}.certificates.mode "certManager"` });
  }
  files.set(
    `${CHART}/templates/certificates-cert-manager.yaml`,
    templateText('manifests/overlays/cert-manager/certificates.yaml', items),
  );
}

// --- The dev overlay's cluster-wide Secret reader binding, and the same per namespace.
{
  const [binding] = await docs('manifests/overlays/dev/secret-reader-binding.yaml');
  if (!binding) throw new Error('manifests/overlays/dev/secret-reader-binding.yaml is empty');
  const perNamespace = binding.clone();
  releaseNamespace(binding);
  labels(binding);
  releaseNamespace(perNamespace);
  labels(perNamespace);
  perNamespace.set('kind', 'RoleBinding');
  (perNamespace.get('metadata') as YAMLMap).set('namespace', p.scalar('.'));
  const text = templateText('manifests/overlays/dev/secret-reader-binding.yaml', [
    { doc: binding, when: `${LABELS}.secretReader.clusterWide` },
  ]);
  perNamespace.commentBefore = ' The same binding in each namespace of secretReader.namespaces.';
  if (isMap(perNamespace.contents)) perNamespace.contents.commentBefore = undefined;
  const body = p.render(
    escapeActions(perNamespace.toString({ lineWidth: 0, flowCollectionPadding: false }).trimEnd()),
  );
  files.set(
    `${CHART}/templates/secret-reader-binding.yaml`,
    `${text}{{- range ${LABELS}.secretReader.namespaces }}\n---\n${body}\n{{- end }}\n`,
  );
}

// --- The CRDs, as generated into manifests/crds.
for (const name of (await readdir(join(ROOT, 'manifests/crds'))).filter((f) => f.endsWith('.yaml')).sort())
  files.set(`${CHART}/crds/${name}`, await read(`manifests/crds/${name}`));

// --- Chart.yaml and values.yaml: versions from package.json, defaults from the base.
const pkg = JSON.parse(await read('package.json')) as { version: string; description: string };
files.set(
  `${CHART}/Chart.yaml`,
  `# Generated by hack/generate-chart.ts (versions from package.json). Do not edit.
${stringify(
  {
    apiVersion: 'v2',
    name: 'syncflow',
    description: pkg.description,
    type: 'application',
    version: pkg.version,
    appVersion: pkg.version,
    kubeVersion: '>=1.30.0-0',
    home: 'https://gitlab.com/syncflow/syncflow',
    keywords: ['workflow', 'aggregated-api', 'admission-webhook'],
  },
  { lineWidth: 0 },
)}`,
);

const v = (value: unknown) => stringify(value, { lineWidth: 0, flowCollectionPadding: false }).trimEnd();
const block = (value: unknown, indent: string) =>
  v(value)
    .split('\n')
    .map((l) => `${indent}${l}`)
    .join('\n');
files.set(
  `${CHART}/values.yaml`,
  `# Generated by hack/generate-chart.ts: the defaults are those of manifests/base. Do not edit; set
# values with -f or --set (charts/syncflow/examples has one file per documented installation, and
# values.schema.json refuses unknown or malformed values).

# Server replicas. More than one needs PostgreSQL (database.embedded is per process).
replicas: ${v(defaults.replicas)}

image:
  repository: ${v(defaults.imageRepository)}
  # Defaults to the chart's appVersion.
  tag: ${v(defaults.imageTag)}
  pullPolicy: ${v(defaults.pullPolicy)}

resources:
${block(defaults.resources, '  ')}

# Node's heap limit: keep it below the memory limit (the rest is Node's own and buffers).
nodeOptions: ${v(defaults.nodeOptions)}

database:
  # The PostgreSQL 15+ URL comes from this Secret of the release namespace (created by you).
  urlSecret:
    name: ${v(defaults.databaseSecret)}
    key: ${v(defaults.databaseKey)}
  # The embedded database (PGlite) on an emptyDir instead: one replica only, history lost with the Pod.
  embedded: false

certificates:
  # selfSigned: the chart makes a CA and the serving certificate (kept across upgrades);
  # certManager: cert-manager issues them and injects the CA; provided: your Secret and CA bundle.
  mode: selfSigned
  provided:
    # A kubernetes.io/tls Secret for syncflow.<namespace>.svc in the release namespace.
    secretName: ""
    # Base64 of the PEM CA that signed it (the APIService's and the webhooks' caBundle).
    caBundle: ""

# Which upstreams task URLs may call (the server's --egress-* flags; docs/operations.md, "Egress").
egress:
  allowCIDRs: []
  denyCIDRs: []
  allowHosts: []
  denyHosts: []
  maxRedirects: 0

# The ClusterRoles for users (syncflow-author, -runner, -viewer, -history-editor), aggregated into
# the built-in admin, edit and view roles.
userRoles:
  create: true
  aggregateToDefaultRoles: true

# Where the server may read Secrets named by {{secrets.*}} templates: per namespace, or everywhere.
secretReader:
  namespaces: []
  clusterWide: false

networkPolicy:
  enabled: true
  # Where kube-apiserver connects from (aggregated API, webhooks): narrow to your control plane.
  apiServerCIDRs:
${block(defaults.apiServerCIDRs, '    ')}
  # Namespaces whose Pods may call the run gateway.
  runGatewayNamespaceLabels:
${block(defaults.runGatewayLabels, '    ')}

podDisruptionBudget:
  enabled: true
  minAvailable: ${v(defaults.minAvailable)}

# Prometheus Operator objects, rendered only where the cluster serves monitoring.coreos.com/v1.
metrics:
  serviceMonitor:
    enabled: true
    interval: 30s
  prometheusRule:
    enabled: true

# A ConfigMap with the Grafana dashboard, for Grafana's dashboard sidecar.
grafanaDashboard:
  enabled: false
  labels:
    grafana_dashboard: "1"

# OTLP over HTTP endpoint for traces (OTEL_EXPORTER_OTLP_ENDPOINT); empty: tracing off.
otel:
  endpoint: ""

logLevel: ""
extraArgs: []
extraEnv: []
podAnnotations: {}
nodeSelector: {}
tolerations: []
affinity: {}
priorityClassName: ""
`,
);

// --- Write or check.
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, text] of files) {
  if (check) {
    const current = await readFile(join(ROOT, path), 'utf8').catch(() => '');
    if (current !== text) {
      console.error(`${path} is stale: run \`npx tsx hack/generate-chart.ts\` and commit the result`);
      stale++;
    }
  } else {
    await writeFile(join(ROOT, path), text);
  }
}
if (check) {
  const generated = new Set(files.keys());
  for (const dir of ['templates', 'crds']) {
    for (const name of await readdir(join(ROOT, CHART, dir)).catch(() => [] as string[])) {
      const path = `${CHART}/${dir}/${name}`;
      const text = await read(path);
      if (text.startsWith('# Generated by hack/generate-chart.ts') && !generated.has(path)) {
        console.error(`${path} is no longer generated: delete it`);
        stale++;
      }
    }
  }
}
if (stale > 0) process.exitCode = 1;
else console.log(check ? 'chart is up to date' : `wrote ${files.size} files of ${CHART}`);
