/**
 * Prometheus metrics of the server: executions by namespace/workflow/phase, durations, per-task
 * durations and upstream errors, in-flight executions and shed requests. The executor reports
 * through `ExecutionObserver`, so the engine stays free of metrics code.
 */
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { SeriesCounter, SeriesHistogram } from './series.ts';
import type { BreakerStatus } from '../core/engine/breaker.ts';
import type { ExecutionObserver } from '../core/engine/collaborators.ts';
import type { ResilienceCounts } from '../core/engine/resilience.ts';

const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/** The server's execution metrics. */
export interface ServerMetrics {
  observer: ExecutionObserver;
  inFlight: Gauge;
  shed: Counter;
  /** Reports the executor's circuit breakers (counted per origin and state at each scrape). */
  watchBreakers(source: BreakerStates): void;
  /** Reports the executor's hedges and response cache hits (running totals, read at each scrape). */
  watchResilience(counts: Readonly<ResilienceCounts>): void;
}

/** Where the breakers' states are read: the executor's circuit breakers. */
interface BreakerStates {
  states(): readonly Pick<BreakerStatus, 'origin' | 'state'>[];
}

/** Registers the execution metrics (and the process defaults) on a registry. */
export function createServerMetrics(registry: Registry, options: { defaults?: boolean } = {}): ServerMetrics {
  if (options.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'syncflow_' });
  // The per-execution metrics are updated five times per execution: SeriesCounter/SeriesHistogram
  // keep prom-client's output at a fraction of its cost per observation.
  const executions = new SeriesCounter({
    name: 'syncflow_executions_total',
    help: 'Finished executions by namespace, workflow, phase and failure reason.',
    labelNames: ['namespace', 'workflow', 'phase', 'reason'],
    registry,
  });
  const duration = new SeriesHistogram({
    name: 'syncflow_execution_duration_seconds',
    help: 'Wall-clock duration of executions.',
    labelNames: ['namespace', 'workflow', 'phase'],
    buckets: DURATION_BUCKETS,
    registry,
  });
  const taskDuration = new SeriesHistogram({
    name: 'syncflow_task_duration_seconds',
    help: 'Duration of each task of an execution, all attempts included.',
    labelNames: ['namespace', 'workflow', 'task', 'phase'],
    buckets: DURATION_BUCKETS,
    registry,
  });
  const upstreamErrors = new SeriesCounter({
    name: 'syncflow_upstream_errors_total',
    help: 'Failed task attempts by reason (HTTPError, ConnectError, Timeout, ...).',
    labelNames: ['namespace', 'workflow', 'task', 'reason'],
    registry,
  });
  const inFlight = new Gauge({
    name: 'syncflow_executions_in_flight',
    help: 'Executions running now.',
    registers: [registry],
  });
  const shed = new Counter({
    name: 'syncflow_requests_shed_total',
    help: 'Requests refused with 429 because the in-flight limit was reached.',
    registers: [registry],
  });
  const observer: ExecutionObserver = {
    executionStarted: () => inFlight.inc(),
    taskFinished: ({ workflow, task }) => {
      if (task.durationMs !== undefined) {
        taskDuration
          .series(workflow.namespace, workflow.name, task.id, task.phase)
          .observe(task.durationMs / 1000);
      }
      for (const attempt of task.attemptLog ?? []) {
        if (attempt.error)
          upstreamErrors.series(workflow.namespace, workflow.name, task.id, attempt.reason ?? 'Error').inc();
      }
      // A map step: one per failed element, by its final reason (the record keeps the first 100 failed).
      if (task.failedItems) {
        for (const item of task.items ?? []) {
          if (item.phase === 'Failed')
            upstreamErrors
              .series(workflow.namespace, workflow.name, task.id, item.error?.reason ?? 'Error')
              .inc();
        }
      }
    },
    executionFinished: ({ workflow, status }) => {
      inFlight.dec();
      executions.series(workflow.namespace, workflow.name, status.phase, status.reason ?? '').inc();
      if (status.durationMs !== undefined)
        duration.series(workflow.namespace, workflow.name, status.phase).observe(status.durationMs / 1000);
    },
  };
  let breakers: BreakerStates | undefined;
  new Gauge({
    name: 'syncflow_circuit_breakers',
    help: 'Circuit breakers by upstream origin and state (closed, open, half-open); summed over workers.',
    labelNames: ['origin', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { origin, state } of breakers?.states() ?? []) this.inc({ origin, state });
    },
  });
  let resilience: Readonly<ResilienceCounts> | undefined;
  const total = (name: string, help: string, read: (c: Readonly<ResilienceCounts>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        // Running totals of the executor: the counter shows them as they are at the scrape.
        this.reset();
        if (resilience) this.inc(read(resilience));
      },
    });
  total(
    'syncflow_hedges_sent_total',
    'Hedged requests sent (second identical requests).',
    (c) => c.hedgesSent,
  );
  total(
    'syncflow_hedges_won_total',
    'Hedged requests that answered before the first request.',
    (c) => c.hedgesWon,
  );
  total(
    'syncflow_response_cache_hits_total',
    'Calls of tasks that declare cache answered from the response cache.',
    (c) => c.cacheHits,
  );
  total(
    'syncflow_response_cache_misses_total',
    'Calls of tasks that declare cache that went upstream.',
    (c) => c.cacheMisses,
  );
  return {
    observer,
    inFlight,
    shed,
    watchBreakers: (source) => {
      breakers = source;
    },
    watchResilience: (counts) => {
      resilience = counts;
    },
  };
}
