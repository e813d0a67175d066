/** Prometheus metrics of the WebSocket endpoints: open connections, requests received, messages dropped. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamCounters } from './session.ts';

/** What the endpoints report. */
export interface StreamMetrics extends StreamCounters {
  opened(kind: 'stream' | 'watch'): void;
  closed(kind: 'stream' | 'watch'): void;
}

/** Registers the stream metrics on a registry. */
export function createStreamMetrics(registry: Registry): StreamMetrics {
  const connections = new Gauge({
    name: 'syncflow_stream_connections',
    help: 'Open WebSocket connections: the live-events stream and Kubernetes watches.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const messages = new Counter({
    name: 'syncflow_stream_messages_received_total',
    help: 'Stream requests received, by type (invalid: refused with a 400 Status).',
    labelNames: ['type'],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'syncflow_stream_messages_dropped_total',
    help: 'Stream messages dropped because the client read too slowly (reported to it as overflow).',
    registers: [registry],
  });
  return {
    opened: (kind) => connections.inc({ kind }),
    closed: (kind) => connections.dec({ kind }),
    received: (type) => messages.inc({ type }),
    overflow: (count) => dropped.inc(count),
  };
}
