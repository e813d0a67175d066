import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { canonicalJson } from '../definitions/compile.ts';
import { TaskSet, validateDocuments, validateTask, validateWorkflow } from './validate.ts';

const examples = join(import.meta.dirname, '..', '..', 'examples');
const load = (file: string) =>
  parseAllDocuments(readFileSync(join(examples, file), 'utf8')).map(
    (d) => d.toJS() as Record<string, unknown>,
  );

function tasksOf(docs: Record<string, unknown>[]): TaskSet {
  const set = new TaskSet();
  for (const doc of docs.filter((d) => d.kind === 'WorkflowTask')) {
    const { task, errors } = validateTask(doc);
    expect(errors).to.deep.equal([]);
    set.set(task?.name as string, task ?? null);
  }
  return set;
}

describe('validateWorkflow', () => {
  it('compiles a valid workflow with its implied dependencies and plan', () => {
    const docs = load('loan-quote.yaml');
    const { errors, workflow } = validateWorkflow(
      docs.find((d) => d.kind === 'Workflow'),
      tasksOf(docs),
    );
    expect(errors).to.deep.equal([]);
    expect(workflow?.graph.parallelGroups).to.deep.equal([['score'], ['quote', 'review']]);
    expect(workflow?.steps.get('quote')?.dependsOn).to.deep.equal(['score']);
    expect(workflow?.steps.get('review')?.when?.taskRefs).to.deep.equal(['score']);
    expect(workflow?.timeoutMs).to.equal(5000);
    expect(workflow?.revision).to.match(/^sha256:[0-9a-f]{64}$/);
  });

  it('gives the same revision for the same definitions and a new one when a task changes', () => {
    const docs = load('user-profile.yaml');
    const wf = docs.find((d) => d.kind === 'Workflow');
    const first = validateWorkflow(wf, tasksOf(docs)).workflow?.revision;
    expect(validateWorkflow(structuredClone(wf), tasksOf(docs)).workflow?.revision).to.equal(first);
    const changed = structuredClone(docs);
    (changed[0] as { spec: { timeout: string } }).spec.timeout = '3s';
    expect(validateWorkflow(wf, tasksOf(changed)).workflow?.revision).not.to.equal(first);
  });

  it('reports a missing task once, and nothing more for a task that exists but is invalid', () => {
    const docs = load('user-profile.yaml');
    const wf = docs.find((d) => d.kind === 'Workflow');
    const set = tasksOf(docs);
    set.set('get-recs', null);
    const result = validateWorkflow(wf, set);
    expect(result.workflow).to.equal(undefined);
    expect(result.errors).to.deep.equal([]);
    const empty = validateWorkflow(wf, new TaskSet());
    expect(empty.errors.filter((e) => e.code === 'TaskNotFound').map((e) => e.field)).to.deep.equal([
      'spec.tasks[0].taskRef.name',
      'spec.tasks[1].taskRef.name',
      'spec.tasks[2].taskRef.name',
    ]);
  });

  it('collects every error of a broken workflow at once', () => {
    const docs = load('user-profile.yaml');
    const wf = structuredClone(docs.find((d) => d.kind === 'Workflow')) as { spec: Record<string, unknown> };
    wf.spec.timeout = 'soon';
    (wf.spec.tasks as Array<Record<string, unknown>>)[1] = {
      id: 'orders',
      taskRef: { name: 'list-orders' },
      input: { email: '{{tasks.user.output.mail}}' },
      when: 'input.withOrders ==',
    };
    const { errors } = validateWorkflow(wf, tasksOf(docs));
    expect(errors.map((e) => e.code).sort()).to.deep.equal([
      'InvalidDuration',
      'InvalidWhen',
      'UnknownOutputPath',
    ]);
    expect(errors.find((e) => e.code === 'UnknownOutputPath')?.suggestion).to.equal('did you mean `email`?');
  });
});

describe('validateDocuments', () => {
  it('resolves tasks regardless of document order and namespace by namespace', () => {
    const docs = load('checkout.yaml').reverse();
    expect(validateDocuments(docs).flatMap((r) => r.errors)).to.deep.equal([]);
  });

  it('reports a document that is not an object', () => {
    const [report] = validateDocuments(['just a string']);
    expect(report?.errors.map((e) => e.code)).to.deep.equal(['ParseError']);
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null, u: undefined })).to.equal(
      '{"a":null,"b":[{"c":2,"d":1}],"u":null}',
    );
  });
});

describe('validateTask', () => {
  const task = (http: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name: 't', namespace: 'shop' },
    spec: { http: { method: 'GET', ...http }, ...extra },
  });
  const codes = (doc: unknown) => validateTask(doc).errors.map((e) => `${e.code} ${e.field}`);

  describe('fixes scheme, userinfo and port at definition time and lets a template pick one host label only', () => {
    for (const [url, where] of [
      ['{{input.base}}', 'scheme'],
      ['{{input.base}}/users/1', 'scheme'],
      ['http{{input.s}}://users.svc/', 'scheme'],
      ['http://{{input.host}}/p', 'host'],
      ['http://{{input.host}}:8080/p', 'host'],
      ['http://users.{{input.tld}}/p', 'host'],
      ['http://{{input.a}}_x.users.svc/p', 'host'],
      ['http://users.svc:{{input.port}}/p', 'port'],
      ['http://{{input.t}}.users.svc:80{{input.port}}/p', 'port'],
      ['http://{{input.user}}@users.svc/p', 'userinfo'],
      ['http://u:{{input.password}}@users.svc/p', 'userinfo'],
      ['http://[::{{input.ip}}]/p', 'host'],
    ] as const) {
      it(`refuses ${url} (${where})`, () => {
        const { errors } = validateTask(task({ url }));
        expect(errors.map((e) => `${e.code} ${e.field}`)).to.deep.equal([
          'UrlTemplatePosition spec.http.url',
        ]);
        expect(errors[0]?.message).to.contain(where);
        expect(errors[0]?.suggestion).to.match(/\{\{input\.tenant\}\}\.users\.svc|literal/);
      });
    }
    for (const url of [
      'http://{{input.tenant}}.users.svc/p',
      'http://api-{{input.tenant}}.users.svc:8080/p/{{input.id}}?q={{input.q}}#{{input.f}}',
      'http://users.svc?name={{input.name}}',
      'https://u:p@users.svc/{{input.id}}',
    ]) {
      it(`accepts ${url}`, () => expect(codes(task({ url }))).to.deep.equal([]));
    }
  });

  describe('checks the input properties its own templates read against its inputSchema', () => {
    const schema = { type: 'object', properties: { userId: { type: 'string' }, tenant: { type: 'string' } } };
    it('refuses a reference to an undeclared property with a suggestion, in url, query, headers and body', () => {
      const { errors } = validateTask(
        task(
          {
            url: 'http://users.svc/u/{{input.userID}}',
            query: { t: '{{input.tenat}}' },
            headers: { 'X-User': 'u-{{input.usrId}}' },
            body: { nested: { id: '{{input.userid}}' } },
          },
          { inputSchema: schema },
        ),
      );
      expect(errors.map((e) => `${e.code} ${e.field}`)).to.deep.equal([
        'UnknownInputField spec.http.url',
        'UnknownInputField spec.http.query.t',
        'UnknownInputField spec.http.headers.X-User',
        'UnknownInputField spec.http.body.nested.id',
      ]);
      expect(errors[0]?.message).to.equal('`input.userID`: `userID` is not in the task inputSchema');
      expect(errors.map((e) => e.suggestion)).to.deep.equal([
        'did you mean `userId`?',
        'did you mean `tenant`?',
        'did you mean `userId`?',
        'did you mean `userId`?',
      ]);
    });

    it('accepts what the schema allows: declared paths, additionalProperties schemas, and schemas that list no properties', () => {
      const url = 'http://users.svc/u/{{input.userId}}/{{input.extra.x}}';
      expect(
        codes(task({ url: 'http://users.svc/u/{{input.userId}}' }, { inputSchema: schema })),
      ).to.deep.equal([]);
      expect(
        codes(task({ url }, { inputSchema: { type: 'object', additionalProperties: { type: 'object' } } })),
      ).to.deep.equal([]);
      expect(codes(task({ url }, { inputSchema: { type: 'object' } }))).to.deep.equal([]);
      expect(codes(task({ url }))).to.deep.equal([]);
    });
  });
});
