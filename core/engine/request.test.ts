import { expect } from 'chai';
import { SyncflowError } from '../errors.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { resolveRequest } from './request.ts';

function taskOf(http: string, extra = '') {
  const workflow = compileFixture(`kind: WorkflowTask
metadata: {name: t}
spec:
  http: ${http}
${extra}
---
kind: Workflow
spec:
  tasks: [{id: t, taskRef: {name: t}}]
`);
  return [...workflow.steps.values()][0]!.task;
}

const scope = (input: unknown) => ({ input, taskOutput: () => undefined, secret: () => undefined });

/** The error `resolveRequest` throws, or undefined when it resolves. */
function refusal(http: string, input: unknown): SyncflowError | undefined {
  try {
    resolveRequest(taskOf(http), scope(input));
    return undefined;
  } catch (error) {
    if (error instanceof SyncflowError) return error;
    throw error;
  }
}

describe('resolveRequest', () => {
  it('percent-encodes values substituted into the path so data cannot change the URL', () => {
    const task = taskOf('{method: GET, url: "http://users.svc/users/{{input.id}}/x?y={{input.q}}"}');
    expect(resolveRequest(task, scope({ id: '../admin?x=1#', q: 'a&b' })).url).to.equal(
      'http://users.svc/users/..%2Fadmin%3Fx%3D1%23/x?y=a%26b',
    );
  });

  describe('encodes a value for the URL component it lands in, for every URL shape', () => {
    const value = 'bob&admin=true#frag /x?';
    const encoded = 'bob%26admin%3Dtrue%23frag%20%2Fx%3F';
    for (const [url, expected] of [
      ['http://users.svc?name={{input.v}}', `http://users.svc?name=${encoded}`],
      ['http://users.svc:8080?name={{input.v}}', `http://users.svc:8080?name=${encoded}`],
      ['http://users.svc?{{input.v}}=1', `http://users.svc?${encoded}=1`],
      ['http://users.svc/p?a=1&name={{input.v}}', `http://users.svc/p?a=1&name=${encoded}`],
      ['http://users.svc/{{input.v}}', `http://users.svc/${encoded}`],
      ['http://users.svc/p#{{input.v}}', `http://users.svc/p#${encoded}`],
      ['http://users.svc#x={{input.v}}', `http://users.svc#x=${encoded}`],
    ] as const) {
      it(`${url}`, () => {
        expect(resolveRequest(taskOf(`{method: GET, url: "${url}"}`), scope({ v: value })).url).to.equal(
          expected,
        );
      });
    }
  });

  it('keeps the host fixed: a templated host label takes exactly one DNS label', () => {
    const http = '{method: GET, url: "http://{{input.tenant}}.users.internal/u/{{input.id}}"}';
    expect(resolveRequest(taskOf(http), scope({ tenant: 'acme-2', id: '7' })).url).to.equal(
      'http://acme-2.users.internal/u/7',
    );
    for (const tenant of [
      '127.0.0.172:18999/x?',
      'evil.com#',
      'a@b',
      'a/b',
      'a.b',
      'Acme',
      'ac me',
      '-a',
      'a\u3002b',
      '',
      'x'.repeat(64),
      '[::1]',
      'a%2Fb',
      'a\\b',
    ]) {
      const error = refusal(http, { tenant, id: '7' });
      expect(error?.code, JSON.stringify(tenant)).to.equal('UnsafeRequestValue');
      expect(error?.message).to.contain('input.tenant').and.to.contain('DNS label');
    }
  });

  it('refuses a value that would make a whole path segment `.` or `..`', () => {
    const http = '{method: GET, url: "http://users.svc/api/{{input.id}}/x"}';
    expect(refusal(http, { id: '..' })?.code).to.equal('UnsafeRequestValue');
    expect(refusal(http, { id: '.' })?.code).to.equal('UnsafeRequestValue');
    expect(resolveRequest(taskOf(http), scope({ id: '...' })).url).to.equal('http://users.svc/api/.../x');
  });

  it('refuses a header value with a line break or NUL instead of sending it', () => {
    const http = '{method: GET, url: "http://users.svc/", headers: {X-User: "u-{{input.u}}"}}';
    for (const u of ['a\r\nX-Admin: true', 'a\nb', 'a\0b']) {
      const error = refusal(http, { u });
      expect(error?.code).to.equal('UnsafeRequestValue');
      expect(error?.message).to.contain('X-User').and.not.to.contain('X-Admin');
    }
  });

  it('appends query parameters before a fragment', () => {
    const task = taskOf('{method: GET, url: "http://h.svc/p#top", query: {b: "{{input.b}}"}}');
    expect(resolveRequest(task, scope({ b: 'x&y' })).url).to.equal('http://h.svc/p?b=x%26y#top');
  });

  it('appends query parameters and sends JSON bodies', () => {
    const task = taskOf(
      '{method: POST, url: "http://h/p?a=1", query: {b: "{{input.b}}", c: "x"}, body: {n: "{{input.n}}"}}',
    );
    const request = resolveRequest(task, scope({ b: 'two words', n: 3 }));
    expect(request.url).to.equal('http://h/p?a=1&b=two+words&c=x');
    expect(request.body).to.equal('{"n":3}');
    expect(request.headers).to.deep.equal({ accept: 'application/json', 'content-type': 'application/json' });
    expect(request.retryable).to.equal(false);
  });

  it('lets POST and PATCH retry with an Idempotency-Key or the opt-in', () => {
    expect(
      resolveRequest(taskOf('{method: PATCH, url: "http://h/", headers: {idempotency-key: "k"}}'), scope({}))
        .retryable,
    ).to.equal(true);
    expect(
      resolveRequest(
        taskOf('{method: POST, url: "http://h/"}', '  retry: {retryNonIdempotent: true}'),
        scope({}),
      ).retryable,
    ).to.equal(true);
    expect(resolveRequest(taskOf('{method: PUT, url: "http://h/"}'), scope({})).retryable).to.equal(true);
  });
});
