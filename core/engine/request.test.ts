import { expect } from 'chai';
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

describe('resolveRequest', () => {
  it('percent-encodes values substituted into the path so data cannot change the URL', () => {
    const task = taskOf('{method: GET, url: "http://users.svc/users/{{input.id}}/x?y={{input.q}}"}');
    expect(resolveRequest(task, scope({ id: '../admin?x=1#', q: 'a&b' })).url).to.equal(
      'http://users.svc/users/..%2Fadmin%3Fx%3D1%23/x?y=a%26b',
    );
  });

  it('uses a template that supplies the scheme and host as written', () => {
    expect(resolveRequest(taskOf('{method: GET, url: "{{input.base}}"}'), scope({ base: 'http://h:1/p' })).url).to.equal('http://h:1/p');
    expect(resolveRequest(taskOf('{method: GET, url: "http://{{input.host}}/p/{{input.n}}"}'), scope({ host: 'h:8080', n: 7 })).url).to.equal(
      'http://h:8080/p/7',
    );
  });

  it('appends query parameters and sends JSON bodies', () => {
    const task = taskOf('{method: POST, url: "http://h/p?a=1", query: {b: "{{input.b}}", c: "x"}, body: {n: "{{input.n}}"}}');
    const request = resolveRequest(task, scope({ b: 'two words', n: 3 }));
    expect(request.url).to.equal('http://h/p?a=1&b=two+words&c=x');
    expect(request.body).to.equal('{"n":3}');
    expect(request.headers).to.deep.equal({ accept: 'application/json', 'content-type': 'application/json' });
    expect(request.retryable).to.equal(false);
  });

  it('lets POST and PATCH retry with an Idempotency-Key or the opt-in', () => {
    expect(resolveRequest(taskOf('{method: PATCH, url: "http://h/", headers: {idempotency-key: "k"}}'), scope({})).retryable).to.equal(true);
    expect(resolveRequest(taskOf('{method: POST, url: "http://h/"}', '  retry: {retryNonIdempotent: true}'), scope({})).retryable).to.equal(true);
    expect(resolveRequest(taskOf('{method: PUT, url: "http://h/"}'), scope({})).retryable).to.equal(true);
  });
});
