import { expect } from 'chai';
import { Registry } from 'prom-client';
import { admissionMetrics } from './metrics.ts';

describe('admissionMetrics', () => {
  it('records each decision in a histogram labelled by kind, operation and outcome', async () => {
    const registry = new Registry();
    const observe = admissionMetrics(registry);
    observe({ kind: 'Workflow', operation: 'CREATE', allowed: false, durationMs: 3 });
    const text = await registry.metrics();
    expect(text).to.contain(
      'syncflow_admission_review_duration_seconds_bucket{le="0.005",kind="Workflow",operation="CREATE",allowed="false"} 1',
    );
    expect(text).to.contain(
      'syncflow_admission_review_duration_seconds_bucket{le="0.0025",kind="Workflow",operation="CREATE",allowed="false"} 0',
    );
  });
});
