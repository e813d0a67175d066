import { expect } from 'chai';
import { execution } from '../test/integration/history/fixtures.ts';
import { executionFromRecord, executionRecord } from './record.ts';

describe('execution records', () => {
  it('carry the row, the task rows and nothing that points back at the object', () => {
    const x = execution({ taskDurations: [4.5, 6], annotations: { note: 'n' } });
    const tasks = x.status.tasks ?? [];
    delete (tasks[1] as { durationMs?: number }).durationMs;
    const record = executionRecord(x);
    expect([record.namespace, record.name, record.uid]).to.deep.equal([
      x.metadata.namespace,
      x.metadata.name,
      x.metadata.uid,
    ]);
    expect(record.tasks).to.deep.equal([
      [tasks[0]?.id, 'Succeeded', 4.5],
      [tasks[1]?.id, 'Succeeded', null],
    ]);
    // Only strings and numbers: the object graph can be collected as soon as it is recorded.
    expect(record.row.every((value) => typeof value === 'string' || typeof value === 'number')).to.equal(
      true,
    );
    (x.status as { phase: string }).phase = 'Failed';
    expect(executionFromRecord(record).status.phase).to.equal('Succeeded');
  });

  it('give back the execution as recorded, with the workflow label the store adds', () => {
    const x = execution({ labels: { team: 'web' }, annotations: { note: 'n' } });
    expect(executionFromRecord(executionRecord(x))).to.deep.equal(x);
    const bare = execution();
    delete (bare.metadata as { labels?: unknown }).labels;
    const back = executionFromRecord(executionRecord(bare));
    expect(back.metadata.labels).to.deep.equal({ 'syncflow.io/workflow': bare.spec.workflowRef.name });
    expect(back.metadata).to.not.have.property('annotations');
  });
});
