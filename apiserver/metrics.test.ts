import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { ExecutionObserver } from '../core/engine/collaborators.ts';
import { createServerMetrics } from './metrics.ts';

type Finished = Parameters<NonNullable<ExecutionObserver['executionFinished']>>[0];
type TaskFinished = Parameters<NonNullable<ExecutionObserver['taskFinished']>>[0];

const workflow = (name: string) => ({ namespace: 'shop', name }) as Finished['workflow'];

async function values(registry: Registry, name: string) {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values;
}

describe('server metrics', () => {
  it('counts executions and tasks per label set, each observation in its own series', async () => {
    const registry = new Registry();
    const { observer, inFlight } = createServerMetrics(registry, { defaults: false });
    const task = (
      wf: string,
      id: string,
      phase: 'Succeeded' | 'Failed',
      errors: Array<[string, string]>,
    ): TaskFinished => ({
      workflow: workflow(wf),
      task: {
        id,
        taskRef: id,
        phase,
        durationMs: 20,
        attemptLog: errors.map(([reason, error], i) => ({
          attempt: i + 1,
          startTime: '2026-11-26T00:00:00.000Z',
          durationMs: 5,
          reason,
          error,
        })),
      },
    });
    for (const wf of ['a', 'a', 'b']) {
      observer.executionStarted?.({ workflow: workflow(wf), input: {}, startTime: '' });
      observer.taskFinished?.(task(wf, 'get-user', 'Succeeded', []));
      observer.taskFinished?.(
        task(wf, 'recs', 'Failed', [
          ['HTTPError', 'HTTPError: upstream answered HTTP 503'],
          ['Timeout', 'Timeout: attempt 2 timed out'],
        ]),
      );
      observer.executionFinished?.({
        workflow: workflow(wf),
        status: {
          phase: wf === 'a' ? 'Succeeded' : 'Failed',
          ...(wf === 'b' ? { reason: 'TaskFailed' } : {}),
          durationMs: 40,
        },
      });
    }

    const executions = await values(registry, 'syncflow_executions_total');
    expect(
      executions.map((v) => [v.labels.workflow, v.labels.phase, v.labels.reason, v.value]),
    ).to.have.deep.members([
      ['a', 'Succeeded', '', 2],
      ['b', 'Failed', 'TaskFailed', 1],
    ]);
    const counts = (await values(registry, 'syncflow_execution_duration_seconds')).filter((v) =>
      (v as { metricName?: string }).metricName?.endsWith('_count'),
    );
    expect(counts.map((v) => [v.labels.workflow, v.labels.phase, v.value])).to.have.deep.members([
      ['a', 'Succeeded', 2],
      ['b', 'Failed', 1],
    ]);
    const sums = (await values(registry, 'syncflow_task_duration_seconds')).filter((v) =>
      (v as { metricName?: string }).metricName?.endsWith('_sum'),
    );
    expect(sums.map((v) => [v.labels.workflow, v.labels.task, v.labels.phase, v.value])).to.have.deep.members(
      [
        ['a', 'get-user', 'Succeeded', 0.04],
        ['a', 'recs', 'Failed', 0.04],
        ['b', 'get-user', 'Succeeded', 0.02],
        ['b', 'recs', 'Failed', 0.02],
      ],
    );
    const upstream = await values(registry, 'syncflow_upstream_errors_total');
    expect(
      upstream.map((v) => [v.labels.workflow, v.labels.task, v.labels.reason, v.value]),
    ).to.have.deep.members([
      ['a', 'recs', 'HTTPError', 2],
      ['a', 'recs', 'Timeout', 2],
      ['b', 'recs', 'HTTPError', 1],
      ['b', 'recs', 'Timeout', 1],
    ]);
    expect((await inFlight.get()).values[0]?.value).to.equal(0);
  });

  it("labels upstream errors with the attempt's reason field, whatever its message says", async () => {
    const registry = new Registry();
    const { observer } = createServerMetrics(registry, { defaults: false });
    const attempt = { attempt: 1, startTime: '2026-11-26T00:00:00.000Z', durationMs: 5 };
    observer.taskFinished?.({
      workflow: workflow('c'),
      task: {
        id: 'recs',
        phase: 'Failed',
        attemptLog: [{ ...attempt, reason: 'ConnectError', error: 'connect ECONNREFUSED 10.0.0.1:443' }],
      },
    });
    const upstream = await values(registry, 'syncflow_upstream_errors_total');
    expect(upstream.map((v) => [v.labels.task, v.labels.reason, v.value])).to.deep.equal([
      ['recs', 'ConnectError', 1],
    ]);
  });

  it('counts circuit breakers per origin and state at each scrape', async () => {
    const registry = new Registry();
    const metrics = createServerMetrics(registry, { defaults: false });
    const states: Array<{ origin: string; state: 'closed' | 'open' | 'half-open' }> = [
      { origin: 'http://a.svc', state: 'open' },
      { origin: 'http://b.svc', state: 'closed' },
    ];
    metrics.watchBreakers({ states: () => states });
    const scrape = async () =>
      (await values(registry, 'syncflow_circuit_breakers'))
        .filter((v) => v.value > 0)
        .map((v) => `${v.labels.origin} ${v.labels.state} ${v.value}`)
        .sort();
    expect(await scrape()).to.deep.equal(['http://a.svc open 1', 'http://b.svc closed 1']);
    states[0] = { origin: 'http://a.svc', state: 'half-open' };
    expect(await scrape()).to.deep.equal(['http://a.svc half-open 1', 'http://b.svc closed 1']);
  });

  it('counts each failed map element in syncflow_upstream_errors_total by its reason', async () => {
    const registry = new Registry();
    const { observer } = createServerMetrics(registry, { defaults: false });
    const element = (index: number, reason?: string) => ({
      index,
      phase: reason ? ('Failed' as const) : ('Succeeded' as const),
      durationMs: 1,
      ...(reason ? { error: { reason, message: `${reason}: no` } } : {}),
    });
    observer.taskFinished?.({
      workflow: workflow('fan'),
      task: {
        id: 'each',
        phase: 'Succeeded',
        itemCount: 4,
        failedItems: 3,
        items: [element(0), element(1, 'HTTPError'), element(2, 'Timeout'), element(3, 'HTTPError')],
      },
    });
    const upstream = await values(registry, 'syncflow_upstream_errors_total');
    expect(upstream.map((v) => `${v.labels.task} ${v.labels.reason} ${v.value}`).sort()).to.deep.equal([
      'each HTTPError 2',
      'each Timeout 1',
    ]);
  });

  it('reports hedges sent and won and response cache hits and misses as counters at each scrape', async () => {
    const registry = new Registry();
    const metrics = createServerMetrics(registry, { defaults: false });
    const counts = { hedgesSent: 5, hedgesWon: 2, cacheHits: 7, cacheMisses: 3 };
    metrics.watchResilience(counts);
    const scrape = async () =>
      Promise.all(
        [
          'syncflow_hedges_sent_total',
          'syncflow_hedges_won_total',
          'syncflow_response_cache_hits_total',
          'syncflow_response_cache_misses_total',
        ].map(async (name) => (await values(registry, name))[0]?.value),
      );
    expect(await scrape()).to.deep.equal([5, 2, 7, 3]);
    counts.cacheHits = 9;
    expect(await scrape()).to.deep.equal([5, 2, 9, 3]);
  });
});
