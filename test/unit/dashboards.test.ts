/**
 * The Grafana dashboard and the Prometheus alert rules of the chart query only metrics that exist:
 * the names the server registers (built here on one registry, as the server does) or kube-apiserver's
 * few named below. Every alert has a runbook section in docs/operations.md and a promtool unit test
 * (the test command runs `promtool check rules` and `promtool test rules` on them).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { admissionMetrics } from '../../admission/metrics.ts';
import { createAuthnMetrics, createAuthzMetrics } from '../../apiserver/auth/metrics.ts';
import { createServerMetrics } from '../../apiserver/metrics.ts';
import { createStreamMetrics } from '../../apiserver/stream/metrics.ts';
import { createHistoryMetrics, createLiveFanoutMetrics } from '../../history/metrics.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHART = join(ROOT, 'charts/syncflow');

/** kube-apiserver's metrics the alerts read, each with what it says (checked on a real one in test/e2e/helm.e2e.test.ts). */
const KUBE_APISERVER_METRICS: Record<string, string> = {
  aggregator_unavailable_apiservice: 'an APIService the aggregator cannot reach (1) or can (0)',
  apiserver_admission_webhook_rejection_count: 'admission requests rejected by a webhook, by error_type',
};

/** The series names a Prometheus scrape of the server's registry yields. */
async function registeredSeries(): Promise<Set<string>> {
  const registry = new Registry();
  createServerMetrics(registry);
  createHistoryMetrics(registry, () => 0);
  createLiveFanoutMetrics(registry);
  admissionMetrics(registry);
  createAuthnMetrics(registry);
  createAuthzMetrics(registry);
  createStreamMetrics(registry);
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    const suffixes: Record<string, string[]> = {
      histogram: ['_bucket', '_sum', '_count'],
      summary: ['', '_sum', '_count'],
    };
    for (const suffix of suffixes[metric.type] ?? ['']) names.add(metric.name + suffix);
  }
  return names;
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression (or a Grafana `label_values(...)` query) reads. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\$\w+/g, ''); // Grafana variables
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)) {
    const name = match[1] ?? '';
    if (!PROMQL_WORDS.has(name.toLowerCase()) && !/^\d/.test(name)) names.add(name);
  }
  // label_values(metric, label): the metric is the first argument; the label is not a metric.
  const labelValues = /label_values\(\s*([a-zA-Z_:][\w:]*)?[^,)]*,\s*(\w+)\s*\)/.exec(expr);
  if (labelValues?.[2]) names.delete(labelValues[2]);
  return [...names];
}

interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTests {
  rule_files: string[];
  tests: Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
  }>;
}

const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards/syncflow.json'), 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const rules = (
  parse(readFileSync(join(CHART, 'prometheus/syncflow-rules.yaml'), 'utf8')) as {
    groups: Array<{ name: string; rules: Rule[] }>;
  }
).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const ruleTests = parse(
  readFileSync(join(CHART, 'prometheus/syncflow-rules.test.yaml'), 'utf8'),
) as RuleTests;
const operations = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');

describe('metricNames (the metric names of a PromQL expression)', () => {
  const cases: Array<[string, string[]]> = [
    ['sum by (phase) (rate(syncflow_executions_total{phase!="Running"}[5m]))', ['syncflow_executions_total']],
    [
      'histogram_quantile(0.99, sum by (le, workflow) (rate(a_bucket{namespace=~"$namespace"}[$__rate_interval])))',
      ['a_bucket'],
    ],
    ['x / ignoring(phase) group_left sum without (phase) (y) > 0.05 and on() z offset 1h', ['x', 'y', 'z']],
    ['label_values(syncflow_executions_total, namespace)', ['syncflow_executions_total']],
    [
      'max by (name) (aggregator_unavailable_apiservice{name="v1alpha1.execution.syncflow.io"}) > 0',
      ['aggregator_unavailable_apiservice'],
    ],
  ];
  for (const [expr, names] of cases) {
    it(`reads ${names.join(', ')} from ${expr}`, () => {
      expect(metricNames(expr).sort()).to.deep.equal([...names].sort());
    });
  }
});

describe('Grafana dashboard (charts/syncflow/dashboards/syncflow.json)', () => {
  it('queries only metrics the server registers', async () => {
    const known = await registeredSeries();
    const queries = [
      ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
      ...dashboard.templating.list
        .filter((v) => v.type === 'query')
        .map((v) => ({
          where: `$${v.name}`,
          expr: typeof v.query === 'string' ? v.query : (v.query?.query ?? ''),
        })),
    ];
    expect(queries.length).to.be.greaterThan(10);
    const unknown = queries.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !known.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).to.deep.equal([]);
  });

  it('answers the operational questions: throughput, phase mix, latency by workflow, task errors, history, shedding, admission, stream subscribers', () => {
    const titles = panels.map((p) => p.title);
    for (const title of [
      'Executions/s',
      'Phase mix',
      'Execution latency p50 by workflow',
      'Execution latency p95 by workflow',
      'Execution latency p99 by workflow',
      'Task errors/s by reason',
      'History writer queue',
      'History 503s/s (buffer full)',
      'Load shedding (429s/s)',
      'Admission review latency',
      'Event stream subscribers',
    ])
      expect(titles, title).to.include(title);
  });

  it('gives every panel a unique id, a place on the grid and the $datasource variable', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect(p.gridPos, p.title).to.not.equal(undefined);
      expect(p.datasource?.uid, p.title).to.equal('${datasource}');
    }
    expect(dashboard.templating.list.map((v) => v.name)).to.include.members([
      'datasource',
      'namespace',
      'workflow',
    ]);
  });
});

describe('Prometheus alert rules (charts/syncflow/prometheus/syncflow-rules.yaml)', () => {
  it('query only metrics the server registers or kube-apiserver exports', async () => {
    const known = await registeredSeries();
    const unknown = rules.flatMap((r) =>
      metricNames(r.expr)
        .filter((name) => !known.has(name) && !(name in KUBE_APISERVER_METRICS))
        .map((name) => `${r.alert ?? r.record ?? '?'}: ${name}`),
    );
    expect(unknown).to.deep.equal([]);
  });

  it('alert on the error ratio, latency SLO burn, history backlog, an unavailable APIService and webhook errors', () => {
    expect(alerts.map((a) => a.alert)).to.include.members([
      'SyncflowExecutionErrorRatioHigh',
      'SyncflowLatencySLOBurnFast',
      'SyncflowLatencySLOBurnSlow',
      'SyncflowHistoryBacklog',
      'SyncflowHistoryRefusingExecutions',
      'SyncflowAPIServiceUnavailable',
      'SyncflowWebhookErrors',
    ]);
  });

  for (const alert of alerts) {
    it(`${alert.alert}: severity, summary, and a runbook section in docs/operations.md`, () => {
      expect(alert.labels?.severity).to.be.oneOf(['warning', 'critical']);
      expect(alert.annotations?.summary).to.be.a('string').and.not.equal('');
      expect(alert.annotations?.runbook_url).to.match(/docs\/operations\.md#[a-z0-9-]+$/);
      const anchor = alert.annotations?.runbook_url?.split('#')[1];
      expect(anchor).to.equal(alert.alert.toLowerCase());
      expect(operations).to.match(new RegExp(`^### ${alert.alert}$`, 'm'));
    });

    it(`${alert.alert}: a promtool unit test expects it to fire`, () => {
      const fired = ruleTests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.alertname === alert.alert && a.exp_alerts.length > 0),
      );
      expect(fired.length).to.be.greaterThan(0);
    });
  }

  it('the promtool tests load this rule file', () => {
    expect(ruleTests.rule_files).to.deep.equal(['syncflow-rules.yaml']);
  });
});
