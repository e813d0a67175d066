/** Prometheus metrics of the history writer and retention, registered on an injected registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The metric handles the writer and the retention sweeper update. */
export interface HistoryMetrics {
  queueDepth: Gauge;
  flushDuration: Histogram;
  flushFailures: Counter;
  written: Counter;
  refused: Counter;
  conflicts: Counter;
  retentionDeleted: Counter;
}

/**
 * Creates the history metrics on `registry`. `queueDepth` reads the current depth when scraped,
 * so the writer does not have to update a gauge per execution.
 */
export function createHistoryMetrics(registry: Registry, queueDepth: () => number): HistoryMetrics {
  const registers = [registry];
  return {
    queueDepth: new Gauge({
      name: 'syncflow_history_queue_depth',
      help: 'Executions waiting to be written to the history database (including reserved slots).',
      registers,
      collect() {
        this.set(queueDepth());
      },
    }),
    flushDuration: new Histogram({
      name: 'syncflow_history_flush_duration_seconds',
      help: 'Time to write one batch of executions (one transaction), successful or not.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      labelNames: ['result'],
      registers,
    }),
    flushFailures: new Counter({
      name: 'syncflow_history_flush_failures_total',
      help: 'Batches that failed to be written and will be retried.',
      registers,
    }),
    written: new Counter({
      name: 'syncflow_history_executions_written_total',
      help: 'Executions durably written to the history database.',
      registers,
    }),
    refused: new Counter({
      name: 'syncflow_history_admissions_refused_total',
      help: 'Executions refused (503) because the history buffer was full or closing.',
      registers,
    }),
    conflicts: new Counter({
      name: 'syncflow_history_name_conflicts_total',
      help: 'Executions not stored because another execution already had their namespace/name.',
      registers,
    }),
    retentionDeleted: new Counter({
      name: 'syncflow_history_retention_deleted_total',
      help: 'Executions deleted by retention.',
      registers,
    }),
  };
}

/** The metric handles of the cross-replica fan-out of live execution messages. */
export interface LiveFanoutMetrics {
  messages: Counter;
  notifications: Counter;
  dropped: Counter;
}

/** Creates the live fan-out metrics on `registry`. */
export function createLiveFanoutMetrics(registry: Registry): LiveFanoutMetrics {
  const registers = [registry];
  return {
    messages: new Counter({
      name: 'syncflow_live_fanout_messages_total',
      help: 'Live execution messages sent to or received from other replicas through the database.',
      labelNames: ['direction'],
      registers,
    }),
    notifications: new Counter({
      name: 'syncflow_live_fanout_notifications_total',
      help: 'Database notifications sent carrying live execution messages (a batch takes one or more).',
      registers,
    }),
    dropped: new Counter({
      name: 'syncflow_live_fanout_dropped_total',
      help: 'Live execution messages not delivered to other replicas (overflow, unserialisable, connection lost, closed).',
      labelNames: ['reason'],
      registers,
    }),
  };
}
