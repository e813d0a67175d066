import { expect } from 'chai';
import { WorkflowDocument, WorkflowTaskDocument } from '../model/schema.ts';
import { createAjv } from '../schema/json-schema.ts';
import { shapeErrors } from './shape.ts';
import * as generated from './shape-validators.generated.ts';

const task = (spec: Record<string, unknown>) => ({
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'WorkflowTask',
  metadata: { name: 't' },
  spec,
});
const workflow = (spec: Record<string, unknown>) => ({
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'Workflow',
  metadata: { name: 'w' },
  spec,
});
const http = { method: 'GET', url: 'http://x/' };

describe('shapeErrors', () => {
  const cases: Array<{
    name: string;
    kind: 'Workflow' | 'WorkflowTask';
    doc: unknown;
    field: string;
    message: RegExp;
  }> = [
    {
      name: 'an HTTP method',
      kind: 'WorkflowTask',
      doc: task({ http: { ...http, method: 'FETCH' } }),
      field: 'spec.http.method',
      message: /^`FETCH` is not allowed: use one of GET, POST, PUT, PATCH, DELETE$/,
    },
    {
      name: 'a retry class',
      kind: 'WorkflowTask',
      doc: task({ http, retry: { retryOn: ['4xx'] } }),
      field: 'spec.retry.retryOn[0]',
      message: /^`4xx` is not allowed: use one of 5xx, 429, connect-error, timeout, circuit-open, 429$/,
    },
    {
      name: 'an onError policy',
      kind: 'Workflow',
      doc: workflow({ tasks: [{ id: 'a', taskRef: { name: 't' }, onError: 'ignore' }] }),
      field: 'spec.tasks[0].onError',
      message: /^`ignore` is not allowed: use one of fail, continue$/,
    },
  ];
  for (const c of cases) {
    it(`names the allowed values of ${c.name}`, () => {
      const errors = shapeErrors(c.kind, c.doc);
      expect(errors.map((e) => [e.field, e.code])).to.deep.equal([[c.field, 'FieldInvalid']]);
      expect(errors[0]?.message).to.match(c.message);
    });
  }

  it('reports a bad duration as InvalidDuration with the fix', () => {
    expect(shapeErrors('WorkflowTask', task({ http, timeout: '2 seconds' }))).to.deep.equal([
      {
        code: 'InvalidDuration',
        field: 'spec.timeout',
        message: '`2 seconds` is not a duration',
        suggestion: 'write a whole number with a unit: ms, s, m or h (e.g. `2s`)',
      },
    ]);
  });
});

describe('generated shape validators', () => {
  // The same documents through the schema compiled now: the generated code must say the same.
  const runtime = {
    Workflow: createAjv().compile(WorkflowDocument),
    WorkflowTask: createAjv().compile(WorkflowTaskDocument),
  };
  const documents: Array<['Workflow' | 'WorkflowTask', unknown]> = [
    ['WorkflowTask', task({ http })],
    [
      'WorkflowTask',
      task({
        http: { ...http, method: 'FETCH', extra: 1 },
        timeout: 'x',
        maxResponseBytes: 0,
        secrets: [{ name: '' }],
      }),
    ],
    [
      'WorkflowTask',
      {
        kind: 'WorkflowTask',
        metadata: { labels: { a: 1 } },
        spec: null,
        status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: 'yesterday' }] },
      },
    ],
    ['Workflow', workflow({ tasks: [] })],
    [
      'Workflow',
      workflow({
        tasks: [{ id: 'x'.repeat(64), taskRef: {}, dependsOn: 'a' }],
        maxConcurrency: 2000,
        timeout: '1d',
      }),
    ],
    ['Workflow', 'not an object'],
  ];
  for (const [index, [kind, doc]] of documents.entries()) {
    it(`agree with the TypeBox model compiled at run time (document ${index + 1}, ${kind})`, () => {
      const validate = generated[kind] as unknown as ((doc: unknown) => boolean) & { errors?: unknown };
      expect(validate(doc)).to.equal(runtime[kind](doc));
      expect(validate.errors ?? null).to.deep.equal(runtime[kind].errors ?? null);
    });
  }
});
