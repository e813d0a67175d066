import { expect } from 'chai';
import { SyncflowError } from '../core/errors.ts';
import { EgressPolicy } from './egress/policy.ts';
import { Cancellation } from '../core/engine/cancellation.ts';
import { UndiciTaskClient } from './http-client.ts';
import type { TaskRequest } from '../core/engine/task-http.ts';
import { MAX_RESPONSE_BYTES_CEILING } from '../core/model/schema.ts';
import { TestUpstream } from '../core/engine/testdata/upstream.ts';

describe('UndiciTaskClient', () => {
  let a: TestUpstream;
  let b: TestUpstream;
  let client: UndiciTaskClient;

  beforeEach(async () => {
    a = await new TestUpstream().start();
    b = await new TestUpstream().start();
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true, maxRedirects: 2 }) });
  });
  afterEach(async () => {
    await client.close();
    await a.stop();
    await b.stop();
  });

  const request = (url: string, extra: Partial<TaskRequest> = {}): TaskRequest => ({
    method: 'GET',
    url,
    headers: {},
    body: undefined,
    signal: new Cancellation(),
    maxResponseBytes: 1_000,
    ...extra,
  });

  const failure = async (promise: Promise<unknown>): Promise<SyncflowError> => {
    try {
      await promise;
    } catch (error) {
      return error as SyncflowError;
    }
    throw new Error('expected a failure');
  };

  it('reads a body of declared length in one go', async () => {
    a.route('GET /x', (_req, res) => res.writeHead(200, { 'content-length': '7' }).end('{"a":1}'));
    const response = await client.send(request(`${a.base}/x`));
    expect(response.status).to.equal(200);
    expect(response.body.toString()).to.equal('{"a":1}');
  });

  it('follows a cross-origin 303 as GET without credentials', async () => {
    a.route('POST /start', (_req, res) => res.writeHead(303, { location: `${b.base}/done` }).end());
    b.route('GET /done', (req, res) =>
      res.writeHead(200).end(JSON.stringify({ auth: req.headers.authorization ?? null })),
    );
    const response = await client.send(
      request(`${a.base}/start`, {
        method: 'POST',
        body: '{}',
        headers: { Authorization: 'Bearer t', 'content-type': 'application/json' },
      }),
    );
    expect(JSON.parse(response.body.toString())).to.deep.equal({ auth: null });
    expect(b.requests[0]?.method).to.equal('GET');
  });

  it('drops credentials and every secret-bearing header on a cross-origin redirect, keeps them on the same origin', async () => {
    const headers = {
      Authorization: 'Bearer t',
      Cookie: 'c=1',
      'Proxy-Authorization': 'Basic x',
      'X-Api-Key': 'secret-key',
      'X-Plain': 'kept',
    };
    const secretHeaders = new Set(['x-api-key']);
    a.route('GET /hop', (_req, res) => res.writeHead(302, { location: '/same' }).end());
    a.route('GET /same', (_req, res) => res.writeHead(307, { location: `${b.base}/other` }).end());
    b.route('GET /other', (_req, res) => res.writeHead(200).end('{}'));
    await client.send(request(`${a.base}/hop`, { headers, secretHeaders }));
    expect(a.requests[1]?.headers).to.include({
      authorization: 'Bearer t',
      'x-api-key': 'secret-key',
      'proxy-authorization': 'Basic x',
    });
    const crossed = b.requests[0]?.headers ?? {};
    expect(crossed['x-plain']).to.equal('kept');
    for (const name of ['authorization', 'cookie', 'proxy-authorization', 'x-api-key'])
      expect(crossed).not.to.have.property(name);
  });

  it('refuses to replay a secret-bearing body to another origin, and replays it on the same origin', async () => {
    a.route('PUT /cross', (_req, res) => res.writeHead(308, { location: `${b.base}/x` }).end());
    a.route('PUT /local', (_req, res) => res.writeHead(307, { location: '/x' }).end());
    a.route('PUT /x', (req, res) => res.writeHead(200).end(req.body));
    const put = (path: string) =>
      request(`${a.base}${path}`, { method: 'PUT', body: '{"k":"s3cret"}', secretBody: true });
    const refused = await failure(client.send(put('/cross')));
    expect(refused.code).to.equal('RedirectRefused');
    expect(refused.message).to.contain('carries a secret');
    expect(b.requests).to.have.length(0);
    expect((await client.send(put('/local'))).body.toString()).to.equal('{"k":"s3cret"}');
  });

  it('never accepts more than the ceiling, whatever the request asks', async () => {
    a.route('GET /big', (_req, res) => {
      res.writeHead(200, { 'content-length': String(MAX_RESPONSE_BYTES_CEILING + 1) });
      res.write('x');
    });
    const error = await failure(client.send(request(`${a.base}/big`, { maxResponseBytes: 2 ** 53 })));
    expect(error.code).to.equal('ResponseTooLarge');
    expect(error.message).to.equal(
      `response too large: the body from ${new URL(a.base).host} exceeds the limit of ${MAX_RESPONSE_BYTES_CEILING} bytes (maxResponseBytes)`,
    );
  });

  it('sends the path and query the URL parser makes of any spelling, and resolves relative redirects against the full path', async () => {
    a.route('GET /dir/start', (_req, res) => res.writeHead(307, { location: 'next?k=1' }).end());
    for (const [sent, seen] of [
      ['/p/./q/../r?x=1#frag', '/p/r?x=1'],
      ['/a b/"c"', '/a%20b/%22c%22'],
      ["/x'y?q='z'", "/x'y?q=%27z%27"],
      ['/%2e%2E/x/%2E', '/x/'],
      ['/t\tu', '/tu'],
      ['/t\\u', '/t/u'],
      ['/plain/seg-1_~.!$&()*+,;=:@%41?a=b&c=%zz', '/plain/seg-1_~.!$&()*+,;=:@%41?a=b&c=%zz'],
    ] as const) {
      await client.send(request(`${a.base}${sent}`));
      expect(a.requests.at(-1)?.url, sent).to.equal(seen);
    }
    await client.send(request(`${a.base.toUpperCase()}/dir/start`));
    expect(a.requests.slice(-2).map((r) => r.url)).to.deep.equal(['/dir/start', '/dir/next?k=1']);
  });

  it('re-checks every redirect hop against the policy', async () => {
    a.route('GET /out', (_req, res) =>
      res.writeHead(307, { location: 'http://169.254.169.254/latest' }).end(),
    );
    expect((await failure(client.send(request(`${a.base}/out`)))).code).to.equal('EgressDenied');
  });

  it('reports unusable URLs and header values as TemplateResolution', async () => {
    expect((await failure(client.send(request('not a url')))).code).to.equal('TemplateResolution');
    const bad = await failure(
      client.send(request(`${a.base}/x`, { headers: { 'x-bad': 'a\r\nInjected: 1' } })),
    );
    expect(bad.code).to.equal('TemplateResolution');
    expect(a.requests).to.have.length(0);
  });

  it('reports a connection dropped mid-body as ConnectError', async () => {
    a.route('GET /drop', (_req, res) => {
      res.writeHead(200);
      res.write('{"partial":');
      setTimeout(() => res.destroy(), 10);
    });
    const error = await failure(client.send(request(`${a.base}/drop`)));
    expect(error.code).to.equal('ConnectError');
  });

  it('caps a body of undeclared length while it streams in, and drops a redirect body whatever its size', async () => {
    a.route('GET /stream', (_req, res) => {
      res.writeHead(200);
      res.write('x'.repeat(600));
      setTimeout(() => res.end('y'.repeat(600)), 5);
    });
    expect((await failure(client.send(request(`${a.base}/stream`)))).code).to.equal('ResponseTooLarge');
    a.route('GET /moved', (_req, res) => {
      res.writeHead(302, { location: '/here' });
      res.end('z'.repeat(300_000));
    });
    a.route('GET /here', (_req, res) => res.writeHead(200).end('{"ok":true}'));
    expect((await client.send(request(`${a.base}/moved`))).body.toString()).to.equal('{"ok":true}');
  });

  it('rejects with the cancellation reason when cancelled before or after the response starts', async () => {
    a.route('GET /headers-only', (_req, res) => {
      res.writeHead(200);
      res.write('{');
    });
    const early = new Cancellation();
    const before = new SyncflowError('Cancelled', 'before');
    early.abort(before);
    expect(await failure(client.send(request(`${a.base}/headers-only`, { signal: early })))).to.equal(before);
    const late = new Cancellation();
    const after = new SyncflowError('Cancelled', 'after');
    setTimeout(() => late.abort(after), 20);
    expect(await failure(client.send(request(`${a.base}/headers-only`, { signal: late })))).to.equal(after);
  });

  it('rejects with the cancellation reason when cancelled', async () => {
    a.route('GET /slow', () => {});
    const signal = new Cancellation();
    const reason = new SyncflowError('Cancelled', 'stop');
    setTimeout(() => signal.abort(reason), 20);
    expect(await failure(client.send(request(`${a.base}/slow`, { signal })))).to.equal(reason);
  });
});

describe('Cancellation', () => {
  it('fires listeners once, in order, and not after removal', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    c.on('abort', () => calls.push('on'));
    c.once('abort', removed);
    c.removeListener('abort', removed);
    c.removeListener('abort', removed);
    c.abort('why');
    c.abort('again');
    c.once('abort', () => calls.push('late'));
    expect(calls).to.deep.equal(['on']);
    expect(c.reason).to.equal('why');
    new Cancellation().removeListener('abort', removed);
  });
});
