import { expect } from 'chai';
import type { TaskStatus } from '../src/api/types.ts';
import { taskExchange } from '../src/components/exchange.ts';

describe('taskExchange (a task’s request and response as the execution page shows them)', () => {
  it('shows the recorded request line, headers in order, the JSON body and the resolved input', () => {
    const view = taskExchange({
      id: 'user',
      phase: 'Succeeded',
      input: { userId: '42' },
      request: {
        method: 'GET',
        url: 'http://demo/users/42',
        headers: { authorization: '[redacted]', accept: 'application/json' },
        body: { a: 1 },
      },
      httpStatus: 200,
      attempts: 1,
      output: { email: 'a@b.c' },
    } as TaskStatus);
    expect(view.request).to.deep.equal({
      line: 'GET http://demo/users/42',
      headers: [
        ['accept', 'application/json'],
        ['authorization', '[redacted]'],
      ],
      body: '{\n  "a": 1\n}',
    });
    expect(view.input).to.equal('{\n  "userId": "42"\n}');
    expect(view.response).to.deep.equal({
      status: 'HTTP 200',
      attempts: 1,
      output: '{\n  "email": "a@b.c"\n}',
    });
  });

  it('says when the request was too large to keep, and shows a truncated body as its size and preview', () => {
    const view = taskExchange({
      id: 'big',
      phase: 'Succeeded',
      request: { method: 'POST', url: 'http://x', truncated: true, bytes: 9000 },
    } as TaskStatus);
    expect(view.request?.note).to.equal('headers and body left out: the request was 9000 bytes (over 4 KiB)');
    const preview = taskExchange({
      id: 'p',
      phase: 'Succeeded',
      request: { method: 'POST', url: 'http://x', body: { truncated: true, bytes: 5000, preview: '{"a"' } },
    } as TaskStatus);
    expect(preview.request?.body).to.equal('{"a"… (5000 bytes, truncated)');
  });

  it('has no request for a task that sent none (skipped), and shows the error of a failed one', () => {
    const view = taskExchange({
      id: 'score',
      phase: 'Failed',
      httpStatus: 503,
      attempts: 2,
      error: { reason: 'HTTPError', message: 'upstream answered 503' },
    } as TaskStatus);
    expect(view.request).to.equal(undefined);
    expect(view.input).to.equal(undefined);
    expect(view.response).to.deep.equal({
      status: 'HTTP 503',
      attempts: 2,
      error: 'HTTPError: upstream answered 503',
    });
    expect(taskExchange({ id: 's', phase: 'Skipped' } as TaskStatus).response).to.deep.equal({});
  });

  it('marks an output given by a debugger or the cache, where no request was sent', () => {
    expect(
      taskExchange({ id: 'a', phase: 'Succeeded', substituted: true, output: 1 } as TaskStatus).response
        .source,
    ).to.equal('given by a debugger (skip): no request was sent');
    expect(
      taskExchange({ id: 'a', phase: 'Succeeded', cached: true, output: 1 } as TaskStatus).response.source,
    ).to.equal('from the response cache: no request was sent');
  });
});
