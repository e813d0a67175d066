import { expect } from 'chai';
import { parseStreamRequest } from './requests.ts';

/** The error a message gets: its HTTP code and the fields it names. */
function refusal(text: string) {
  const parsed = parseStreamRequest(text);
  if (parsed.kind !== 'invalid') throw new Error(`expected a refusal, got ${parsed.kind}`);
  return {
    id: parsed.id,
    code: parsed.error.status,
    fields: parsed.error.causes.map((c) => c.field),
    message: parsed.error.message,
  };
}

describe('stream requests (client → server messages)', () => {
  it('reads an execute with its input, labels, recorded revision and debug breakpoints', () => {
    const parsed = parseStreamRequest(
      JSON.stringify({
        type: 'execute',
        id: 'a1',
        namespace: 'shop',
        workflow: 'user-profile',
        workflowRevision: 'user-profile-7d9f',
        input: { userId: '42' },
        labels: { team: 'web' },
        debug: { breakpoints: ['*'] },
      }),
    );
    expect(parsed).to.deep.equal({
      kind: 'request',
      request: {
        type: 'execute',
        id: 'a1',
        namespace: 'shop',
        workflow: 'user-profile',
        workflowRevision: 'user-profile-7d9f',
        input: { userId: '42' },
        labels: { team: 'web' },
        debug: { breakpoints: ['*'] },
      },
    });
  });

  it('reads subscribe, unsubscribe, continue, skip and abort; ids may be integers', () => {
    const cases = [
      { type: 'subscribe', id: 1, namespace: 'shop' },
      { type: 'subscribe', id: 2, namespace: 'shop', workflow: 'checkout', labelSelector: 'team=web' },
      { type: 'subscribe', id: 3, namespace: 'shop', batchMs: 50 },
      { type: 'unsubscribe', id: 2 },
      { type: 'continue', id: 'x' },
      { type: 'skip', id: 'x', output: { a: 1 } },
      { type: 'abort', id: 'x' },
    ];
    for (const message of cases)
      expect(parseStreamRequest(JSON.stringify(message))).to.deep.equal({
        kind: 'request',
        request: message,
      });
  });

  it('refuses a message nested deeper than the API allows with a 400 saying the limit', () => {
    const deep = `{"type":"execute","id":1,"namespace":"shop","workflow":"w","input":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const got = refusal(deep);
    expect(got.code).to.equal(400);
    expect(got.message).to.match(/nests more than \d+ levels deep, the limit/);
  });

  it('tells text that is not JSON, or not an object, apart from a bad message', () => {
    expect(parseStreamRequest('{not json').kind).to.equal('notJson');
    expect(parseStreamRequest('[1,2]').kind).to.equal('invalid');
    expect(refusal('"hello"')).to.include({ code: 400, id: null });
  });

  const table: { name: string; message: unknown; id: unknown; fields: string[]; says: string }[] = [
    {
      name: 'an unknown type, listing the known ones',
      message: { type: 'run', id: 'a' },
      id: 'a',
      fields: ['type'],
      says: 'execute, subscribe, unsubscribe, continue, skip, abort',
    },
    { name: 'a missing id', message: { type: 'unsubscribe' }, id: null, fields: ['id'], says: 'id' },
    {
      name: 'an id that is neither a string nor an integer',
      message: { type: 'abort', id: { x: 1 } },
      id: null,
      fields: ['id'],
      says: 'string of 1 to 128 characters or an integer',
    },
    {
      name: 'execute without namespace and workflow',
      message: { type: 'execute', id: 7 },
      id: 7,
      fields: ['namespace', 'workflow'],
      says: 'namespace',
    },
    {
      name: 'a namespace that is not a DNS label',
      message: { type: 'subscribe', id: 7, namespace: 'Shop_1' },
      id: 7,
      fields: ['namespace'],
      says: 'DNS label',
    },
    {
      name: 'a workflow that is not a name',
      message: { type: 'execute', id: 7, namespace: 'shop', workflow: 'A B' },
      id: 7,
      fields: ['workflow'],
      says: 'not a valid Kubernetes name',
    },
    {
      name: 'a workflowRevision that is not a name',
      message: { type: 'execute', id: 7, namespace: 'shop', workflow: 'w', workflowRevision: 42 },
      id: 7,
      fields: ['workflowRevision'],
      says: 'WorkflowRevision',
    },
    {
      name: 'labels that are not a string map',
      message: { type: 'execute', id: 7, namespace: 'shop', workflow: 'w', labels: { team: 3 } },
      id: 7,
      fields: ['labels.team'],
      says: 'string',
    },
    {
      name: 'debug without breakpoints',
      message: { type: 'execute', id: 7, namespace: 'shop', workflow: 'w', debug: {} },
      id: 7,
      fields: ['debug.breakpoints'],
      says: '["*"]',
    },
    {
      name: 'a labelSelector that is not a string',
      message: { type: 'subscribe', id: 7, namespace: 'shop', labelSelector: 5 },
      id: 7,
      fields: ['labelSelector'],
      says: 'string',
    },
    {
      name: 'a batchMs outside 10–1000 or not an integer',
      message: { type: 'subscribe', id: 7, namespace: 'shop', batchMs: 5 },
      id: 7,
      fields: ['batchMs'],
      says: 'an integer from 10 to 1000',
    },
    {
      name: 'a batchMs that is a string',
      message: { type: 'subscribe', id: 7, namespace: 'shop', batchMs: '50' },
      id: 7,
      fields: ['batchMs'],
      says: 'an integer from 10 to 1000',
    },
    {
      name: 'skip without output',
      message: { type: 'skip', id: 7 },
      id: 7,
      fields: ['output'],
      says: 'output',
    },
    {
      name: 'a field the message type does not have',
      message: { type: 'unsubscribe', id: 7, namespace: 'shop' },
      id: 7,
      fields: ['namespace'],
      says: 'unknown field',
    },
  ];
  for (const row of table) {
    it(`refuses ${row.name} with a 400 naming the field`, () => {
      const got = refusal(JSON.stringify(row.message));
      expect(got.code).to.equal(400);
      expect(got.id).to.deep.equal(row.id);
      expect(got.fields).to.deep.equal(row.fields);
      expect(got.message).to.contain(row.says);
    });
  }
});
