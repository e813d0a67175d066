import { expect } from 'chai';
import { SyncflowError } from '../errors.ts';
import { metadataMapErrors } from './names.ts';
import {
  checkPatchedObject,
  executionObject,
  generateName,
  validateCreate,
  wholeSeconds,
} from './execution.ts';

function causesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof SyncflowError) return error.causes.map((c) => `${c.field}: ${c.message}`);
    throw error;
  }
  return [];
}

describe('workflowexecutions strategy', () => {
  it('accepts a create body and keeps labels, annotations and input', () => {
    const request = validateCreate(
      {
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata: { generateName: 'up-', labels: { team: 'web' }, annotations: { a: 'b' } },
        spec: { workflowRef: { name: 'user-profile' }, input: { userId: '1' } },
      },
      'shop',
    );
    expect(request).to.deep.equal({
      namespace: 'shop',
      name: undefined,
      generateName: 'up-',
      labels: { team: 'web' },
      annotations: { a: 'b' },
      workflowName: 'user-profile',
      input: { userId: '1' },
    });
  });

  it('reports every problem of a create body with its field', () => {
    const causes = causesOf(() =>
      validateCreate(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { namespace: 'other', labels: { 'bad key!': 'x', ok: 'not ok!' }, annotations: 'nope' },
          spec: { workflowRef: {} },
        },
        'shop',
      ),
    );
    expect(causes).to.include.members([
      'apiVersion: must be execution.syncflow.io/v1alpha1',
      'kind: must be WorkflowExecution',
      'metadata.name: name or generateName is required',
      'metadata.namespace: the namespace of the provided object (other) does not match the namespace sent on the request (shop)',
      'metadata.labels["bad key!"]: `bad key!` is not a valid label key',
      'metadata.labels["ok"]: `not ok!` is not a valid label value',
      'metadata.annotations: must be a map of string keys to string values',
      'spec.workflowRef.name: is required',
    ]);
    expect(causesOf(() => validateCreate({ metadata: { name: 'UPPER' } }, 'shop'))).to.include.members([
      'metadata.name: `UPPER` is not a valid Kubernetes name (a lower-case DNS subdomain of at most 253 characters)',
      'spec: is required',
    ]);
    expect(() => validateCreate([], 'shop')).to.throw(/must be a WorkflowExecution object/);
  });

  it('carries spec.workflowRevision (re-running a recorded revision) into the request and the stored object', () => {
    const request = validateCreate(
      {
        metadata: { generateName: 'up-' },
        spec: { workflowRef: { name: 'user-profile' }, workflowRevision: 'user-profile-0123456789' },
      },
      'shop',
    );
    expect(request.workflowRevision).to.equal('user-profile-0123456789');
    expect(
      executionObject(request, 'up-x', { phase: 'Succeeded' }, '2026-01-02T03:04:05Z').spec,
    ).to.deep.equal({
      workflowRef: { name: 'user-profile' },
      workflowRevision: 'user-profile-0123456789',
      input: {},
    });
    expect(
      causesOf(() =>
        validateCreate(
          { metadata: { name: 'a' }, spec: { workflowRef: { name: 'w' }, workflowRevision: 7 } },
          'shop',
        ),
      ),
    ).to.deep.equal([
      'spec.workflowRevision: must be the name of a WorkflowRevision of the workflow (a non-empty string)',
    ]);
    const current = validateCreate({ metadata: { name: 'a' }, spec: { workflowRef: { name: 'w' } } }, 'shop');
    expect('workflowRevision' in current).to.equal(false);
    expect(
      'workflowRevision' in
        executionObject(current, 'a', { phase: 'Succeeded' }, '2026-01-02T03:04:05Z').spec,
    ).to.equal(false);
  });

  it('generates Kubernetes-style names and whole-second creation times', () => {
    let i = 0;
    const fixed = () => [0, 0.2, 0.5, 0.8, 0.99][i++ % 5] as number;
    expect(generateName('user-profile-', fixed)).to.equal('user-profile-bhr49');
    const object = executionObject(
      {
        namespace: 'shop',
        name: undefined,
        generateName: 'x-',
        labels: {},
        annotations: {},
        workflowName: 'wf',
        input: {},
      },
      'x-abcde',
      { phase: 'Succeeded' },
      '2026-01-02T03:04:05.678Z',
    );
    expect(object.metadata.creationTimestamp).to.equal('2026-01-02T03:04:05Z');
    expect(object.metadata.labels).to.deep.equal({ 'syncflow.io/workflow': 'wf' });
    expect(object.metadata.uid).to.match(/^[0-9a-f-]{36}$/);
  });

  it('cuts any RFC 3339 time to whole seconds in UTC', () => {
    expect(wholeSeconds('2026-01-02T03:04:05.678Z')).to.equal('2026-01-02T03:04:05Z');
    expect(wholeSeconds('2026-01-02T03:04:05Z')).to.equal('2026-01-02T03:04:05Z');
    expect(wholeSeconds('2026-01-02T05:04:05.1+02:00')).to.equal('2026-01-02T03:04:05Z');
  });

  it('lets a patch change labels and annotations only', () => {
    const stored = executionObject(
      {
        namespace: 'shop',
        name: 'a',
        generateName: undefined,
        labels: { team: 'web' },
        annotations: {},
        workflowName: 'wf',
        input: { x: 1 },
      },
      'a',
      { phase: 'Failed' },
      '2026-01-02T03:04:05Z',
    );
    const ok = checkPatchedObject(stored, {
      ...stored,
      metadata: { ...stored.metadata, labels: { ...stored.metadata.labels, reviewed: 'yes' } },
    });
    expect(ok.labels).to.deep.equal({ team: 'web', 'syncflow.io/workflow': 'wf', reviewed: 'yes' });
    const causes = causesOf(() =>
      checkPatchedObject(stored, {
        ...stored,
        spec: { workflowRef: { name: 'other' } },
        status: { phase: 'Succeeded' },
        metadata: { ...stored.metadata, name: 'b', labels: {} },
      }),
    );
    expect(causes).to.include.members([
      'spec: is immutable: executions cannot be changed after they ran',
      'status: is immutable: executions cannot be changed after they ran',
      'metadata.name: is immutable',
      'metadata.labels["syncflow.io/workflow"]: is set by syncflow and cannot be changed or removed',
    ]);
    expect(() => checkPatchedObject(stored, null)).to.throw(/must produce an object/);
  });

  it('limits annotation size', () => {
    expect(
      metadataMapErrors({ big: 'x'.repeat(300 * 1024) }, 'metadata.annotations', 'annotation')[0]?.message,
    ).to.contain('256 KiB');
    expect(metadataMapErrors({ n: 3 }, 'metadata.labels', 'label')[0]?.message).to.equal('must be a string');
  });
});
