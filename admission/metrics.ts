/** Prometheus metrics of the admission webhooks. */
import { Histogram, type Registry } from 'prom-client';

/** A decision observer (for `admissionRoutes({onDecision})`) recording `syncflow_admission_review_duration_seconds`. */
export function admissionMetrics(
  registry: Registry,
): (event: { kind: string; operation: string; allowed: boolean; durationMs: number }) => void {
  const duration = new Histogram({
    name: 'syncflow_admission_review_duration_seconds',
    help: 'Time from receiving an AdmissionReview to answering it, by kind, operation and outcome.',
    labelNames: ['kind', 'operation', 'allowed'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  return (event) =>
    duration.observe(
      { kind: event.kind, operation: event.operation, allowed: String(event.allowed) },
      event.durationMs / 1000,
    );
}
