import { expect } from 'chai';
import { createAjv } from '../schema/json-schema.ts';
import { REVISION_HASH_PATTERN, REVISION_NAMES, WorkflowRevision } from './revision.ts';

// The project's strict ajv (formats, Kubernetes keywords): the validator the model is meant for.
const validate = createAjv().compile(WorkflowRevision);

const revision = {
  apiVersion: 'execution.syncflow.io/v1alpha1',
  kind: 'WorkflowRevision',
  metadata: {
    name: 'user-profile-0123456789',
    namespace: 'shop',
    labels: { 'syncflow.io/workflow': 'user-profile' },
    creationTimestamp: '2026-03-01T12:00:00Z',
    resourceVersion: '7',
  },
  workflow: 'user-profile',
  hash: `sha256:${'ab'.repeat(32)}`,
  definition: {
    workflow: { tasks: [{ id: 'user', taskRef: { name: 'get-user' } }] },
    tasks: { 'get-user': { http: { method: 'GET', url: 'http://users/{{input.userId}}' } } },
  },
};

describe('WorkflowRevision schema', () => {
  it('accepts a revision as the server serves it', () => {
    expect(validate(revision), JSON.stringify(validate.errors)).to.equal(true);
  });

  const rejects: Array<[string, unknown]> = [
    [
      'a malformed creationTimestamp',
      { ...revision, metadata: { ...revision.metadata, creationTimestamp: 'today' } },
    ],
    ['a hash without the sha256: prefix', { ...revision, hash: 'ab'.repeat(32) }],
    ['a short hash', { ...revision, hash: 'sha256:abc' }],
    ['another kind', { ...revision, kind: 'WorkflowExecution' }],
    ['an unknown top-level field', { ...revision, extra: true }],
    ['a task spec without http', { ...revision, definition: { ...revision.definition, tasks: { t: {} } } }],
    [
      'a workflow without steps',
      { ...revision, definition: { ...revision.definition, workflow: { tasks: [] } } },
    ],
    ['an unknown definition field', { ...revision, definition: { ...revision.definition, secrets: {} } }],
  ];
  for (const [name, body] of rejects) {
    it(`rejects ${name}`, () => expect(validate(body)).to.equal(false));
  }

  it('names the resource as discovery and Table printing do', () => {
    expect(REVISION_NAMES).to.deep.include({
      kind: 'WorkflowRevision',
      plural: 'workflowrevisions',
      listKind: 'WorkflowRevisionList',
    });
    expect(new RegExp(REVISION_HASH_PATTERN).test(revision.hash)).to.equal(true);
  });
});
