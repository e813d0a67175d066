import { expect } from 'chai';
import { RevisionRecorder, type NewRevision } from './revision-recorder.ts';

const workflow = (revision: string) => ({
  name: 'profile',
  namespace: 'shop',
  revision,
  revisionSnapshot: { workflow: { tasks: [] }, tasks: {} } as unknown as NewRevision['definition'],
});

describe('RevisionRecorder', () => {
  it('stores each revision of a workflow once, with its snapshot as the definition', async () => {
    const stored: NewRevision[] = [];
    const recorder = new RevisionRecorder({ recordRevision: async (r) => void stored.push(r) });
    await recorder.record(workflow('sha256:a'));
    await recorder.record(workflow('sha256:a'));
    await recorder.record(workflow('sha256:b'));
    expect(stored.map((r) => [r.namespace, r.workflowName, r.hash])).to.deep.equal([
      ['shop', 'profile', 'sha256:a'],
      ['shop', 'profile', 'sha256:b'],
    ]);
    expect(stored[0]?.definition).to.deep.equal({ workflow: { tasks: [] }, tasks: {} });
  });

  it('tries again after a failed write', async () => {
    let calls = 0;
    const recorder = new RevisionRecorder({
      recordRevision: async () => {
        calls += 1;
        if (calls === 1) throw new Error('database down');
      },
    });
    await recorder.record(workflow('sha256:a')).then(
      () => expect.fail('the first write fails'),
      (error: Error) => expect(error.message).to.equal('database down'),
    );
    await recorder.record(workflow('sha256:a'));
    expect(calls).to.equal(2);
  });
});
