import { expect } from 'chai';
import { SyncflowError } from '../errors.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import type { TaskExecutionStatus, WorkflowExecutionStatus } from '../model/schema.ts';
import { SYSTEM_CLOCK, type Clock, type ExecutionObserver, type SecretResolver } from './collaborators.ts';
import { DagExecutor } from './executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import type { TaskHttpClient } from './task-http.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { delay, json, sequence, TestUpstream } from './testdata/upstream.ts';

/** A GET task named `name` calling `${BASE}/<path>`, with extra spec YAML lines. */
function task(name: string, path: string, extra = ''): string {
  return `kind: WorkflowTask
metadata: {name: ${name}}
spec:
  http: {method: GET, url: "\${BASE}${path}"}
${extra}
---
`;
}

function byId(status: WorkflowExecutionStatus, id: string): TaskExecutionStatus {
  const found = status.tasks?.find((t) => t.id === id);
  if (!found) throw new Error(`no task ${id}`);
  return found;
}

describe('WorkflowExecutor', () => {
  let upstream: TestUpstream;
  let client: UndiciTaskClient;
  let executor: DagExecutor;

  beforeEach(async () => {
    upstream = await new TestUpstream().start();
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
    executor = new DagExecutor({ http: client, random: () => 0.5 });
  });

  afterEach(async () => {
    await client.close();
    await upstream.stop();
  });

  const compile = (yaml: string) => compileFixture(yaml, upstream.base);

  it('runs a diamond and maps the output with nested paths and JSON types', async () => {
    upstream
      .route(
        'GET /users/42',
        json(200, { id: '42', email: 'a@b.c', tags: ['x', 'y'], vip: true, score: 7.5 }),
      )
      .route('GET /orders', (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ query: req.url, orders: [{ id: 'o1', total: 12 }] }));
      })
      .route('GET /recs', json(200, { items: [{ sku: 's1' }] }))
      .route('POST /summary', (req, res) => res.writeHead(200).end(req.body));
    const workflow = compile(`${task('get-user', '/users/{{input.userId}}')}${task(
      'list-orders',
      '/orders',
      '  inputSchema: {type: object, properties: {email: {type: string}}}',
    ).replace(
      'url: "${BASE}/orders"}',
      'url: "${BASE}/orders", query: {email: "{{input.email}}"}}',
    )}${task('get-recs', '/recs')}kind: WorkflowTask
metadata: {name: summarize}
spec:
  http: {method: POST, url: "\${BASE}/summary", body: {user: "{{input.user}}", count: "{{input.count}}", label: "n={{input.count}}"}}
---
kind: Workflow
spec:
  inputSchema: {type: object, required: [userId], properties: {userId: {type: string}}}
  tasks:
  - {id: user, taskRef: {name: get-user}, input: {userId: "{{input.userId}}"}}
  - {id: orders, taskRef: {name: list-orders}, input: {email: "{{tasks.user.output.email}}"}}
  - {id: recs, taskRef: {name: get-recs}, dependsOn: [user]}
  - id: summary
    taskRef: {name: summarize}
    input: {user: "{{tasks.user.output}}", count: "{{tasks.orders.output.orders[0].total}}"}
    dependsOn: [recs]
  output:
    email: "{{tasks.user.output.email}}"
    firstTag: "{{tasks.user.output.tags[0]}}"
    vip: "{{tasks.user.output.vip}}"
    score: "{{tasks.user.output.score}}"
    total: "{{tasks.orders.output.orders[0].total}}"
    sku: "{{tasks.recs.output.items[0].sku}}"
    echoed: "{{tasks.summary.output}}"
    line: "{{tasks.user.output.email}} has {{tasks.user.output.tags}}"
`);
    const status = await executor.execute(workflow, { userId: '42' });
    expect(status.phase, status.message).to.equal('Succeeded');
    expect(status.output).to.deep.equal({
      email: 'a@b.c',
      firstTag: 'x',
      vip: true,
      score: 7.5,
      total: 12,
      sku: 's1',
      echoed: {
        user: { id: '42', email: 'a@b.c', tags: ['x', 'y'], vip: true, score: 7.5 },
        count: 12,
        label: 'n=12',
      },
      line: 'a@b.c has ["x","y"]',
    });
    expect(status.workflowRevision).to.match(/^sha256:/);
    expect(status.tasks?.map((t) => [t.id, t.phase, t.attempts, t.httpStatus])).to.deep.equal([
      ['user', 'Succeeded', 1, 200],
      ['orders', 'Succeeded', 1, 200],
      ['recs', 'Succeeded', 1, 200],
      ['summary', 'Succeeded', 1, 200],
    ]);
    expect(byId(status, 'orders').output).to.deep.include({ query: '/orders?email=a%40b.c' });
    const summary = upstream.requests.find((r) => r.url === '/summary');
    expect(summary?.headers['content-type']).to.equal('application/json');
    for (const t of status.tasks ?? []) {
      expect(t.startTime).to.be.a('string');
      expect(t.waitMs).to.be.at.least(0);
      expect(t.attemptLog?.[0]?.httpStatus).to.equal(200);
    }
  });

  it('runs parallel branches concurrently and the trace shows the overlap', async () => {
    upstream.route('GET /slow', json(200, {}, { delayMs: 150 }));
    const workflow = compile(`${task('slow', '/slow')}kind: Workflow
spec:
  tasks:
  - {id: a, taskRef: {name: slow}}
  - {id: b, taskRef: {name: slow}}
  - {id: c, taskRef: {name: slow}, dependsOn: [a, b]}
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    expect(byId(status, 'a').overlappedWith).to.deep.equal(['b']);
    expect(byId(status, 'b').overlappedWith).to.deep.equal(['a']);
    expect(byId(status, 'c').overlappedWith).to.equal(undefined);
  });

  it('starts a step as soon as its own dependencies finish, not level by level', async () => {
    upstream.route('GET /fast', json(200, {})).route('GET /slow', json(200, {}, { delayMs: 300 }));
    const workflow = compile(`${task('fast', '/fast')}${task('slow', '/slow')}kind: Workflow
spec:
  tasks:
  - {id: a, taskRef: {name: fast}}
  - {id: b, taskRef: {name: slow}}
  - {id: c, taskRef: {name: fast}, dependsOn: [a]}
  - {id: d, taskRef: {name: fast}, dependsOn: [b]}
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    expect(Date.parse(byId(status, 'c').completionTime as string)).to.be.at.most(
      Date.parse(byId(status, 'b').completionTime as string),
    );
    expect(byId(status, 'c').overlappedWith).to.include('b');
  });

  it('keeps at most maxConcurrency steps in flight', async () => {
    upstream.route('GET /slow', json(200, {}, { delayMs: 20 }));
    const workflow = compile(`${task('slow', '/slow')}kind: Workflow
spec:
  maxConcurrency: 1
  tasks:
  - {id: a, taskRef: {name: slow}}
  - {id: b, taskRef: {name: slow}}
  - {id: c, taskRef: {name: slow}}
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    for (const t of status.tasks ?? []) expect(t.overlappedWith).to.equal(undefined);
    expect(byId(status, 'c').waitMs).to.be.greaterThan(0);
  });

  it('cancels in-flight tasks when one fails', async () => {
    upstream
      .route('GET /fail', json(500, { error: 'boom' }, { delayMs: 30 }))
      .route('GET /slow', json(200, {}, { delayMs: 5_000 }));
    const workflow = compile(`${task('fail', '/fail')}${task('slow', '/slow')}kind: Workflow
spec:
  tasks:
  - {id: bad, taskRef: {name: fail}}
  - {id: slow, taskRef: {name: slow}}
  - {id: after, taskRef: {name: slow}, dependsOn: [slow]}
`);
    const started = Date.now();
    const status = await executor.execute(workflow, {});
    expect(Date.now() - started).to.be.below(4_000);
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('TaskFailed');
    expect(status.message).to.contain('task bad failed: upstream answered HTTP 500');
    expect(byId(status, 'bad')).to.deep.include({ phase: 'Failed', httpStatus: 500 });
    expect(byId(status, 'bad').error?.reason).to.equal('HTTPError');
    expect(byId(status, 'slow').phase).to.equal('Cancelled');
    expect(byId(status, 'slow').error?.reason).to.equal('Cancelled');
    expect(byId(status, 'after').phase).to.equal('Cancelled');
    expect(status.output).to.equal(undefined);
    await delay(50);
    expect(upstream.aborted).to.include('/slow');
  });

  it('records a failure and goes on when the step says onError: continue', async () => {
    upstream.route('GET /fail', json(404, {})).route('GET /ok', json(200, { v: 1 }));
    const workflow = compile(`${task('fail', '/fail')}${task('ok', '/ok')}kind: Workflow
spec:
  tasks:
  - {id: bad, taskRef: {name: fail}, onError: continue}
  - {id: reader, taskRef: {name: ok}, input: {x: "{{tasks.bad.output.v}}"}}
  - {id: after, taskRef: {name: ok}, dependsOn: [bad]}
  output: {bad: "{{tasks.bad.output}}", after: "{{tasks.after.output.v}}"}
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    expect(byId(status, 'bad').phase).to.equal('Failed');
    expect(byId(status, 'reader').phase).to.equal('Skipped');
    expect(byId(status, 'after').phase).to.equal('Succeeded');
    expect(status.output).to.deep.equal({ bad: null, after: 1 });
  });

  it('retries 503 with backoff and then succeeds', async () => {
    upstream.route('GET /flaky', sequence(json(503, {}), json(503, {}), json(200, { ok: true })));
    const workflow =
      compile(`${task('flaky', '/flaky', '  retry: {maxAttempts: 4, backoff: {initial: 20ms, max: 100ms}}')}kind: Workflow
spec:
  tasks: [{id: f, taskRef: {name: flaky}}]
  output: "{{tasks.f.output.ok}}"
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    expect(status.output).to.equal(true);
    const f = byId(status, 'f');
    expect(f.attempts).to.equal(3);
    expect(f.attemptLog?.map((a) => a.httpStatus)).to.deep.equal([503, 503, 200]);
    expect(f.attemptLog?.[0]?.error).to.match(/^HTTPError: upstream answered HTTP 503/);
    // The reason is a field of its own, so nobody has to parse it out of the text.
    expect(f.attemptLog?.map((a) => a.reason)).to.deep.equal(['HTTPError', 'HTTPError', undefined]);
    // Jitter is 0.5 here: 10 ms then 20 ms between attempts, at least.
    const starts = upstream.requests.map((r) => r.at);
    expect((starts[1] as number) - (starts[0] as number)).to.be.at.least(9);
    expect((starts[2] as number) - (starts[1] as number)).to.be.at.least(19);
  });

  it('honours Retry-After on 429 within the deadline budget', async () => {
    upstream.route(
      'GET /limited',
      sequence(json(429, {}, { headers: { 'retry-after': '1' } }), json(200, { ok: 1 })),
    );
    const workflow =
      compile(`${task('limited', '/limited', '  retry: {maxAttempts: 2, backoff: {initial: 1ms}}')}kind: Workflow
spec:
  tasks: [{id: l, taskRef: {name: limited}}]
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    expect(byId(status, 'l').attemptLog?.map((a) => a.httpStatus)).to.deep.equal([429, 200]);
    const [first, second] = upstream.requests.map((r) => r.at) as [number, number];
    expect(second - first).to.be.at.least(950);
  });

  it('does not start a retry whose Retry-After would pass the deadline', async () => {
    upstream.route('GET /limited', json(429, {}, { headers: { 'retry-after': '60' } }));
    const workflow =
      compile(`${task('limited', '/limited', '  retry: {maxAttempts: 3}\n  timeout: 1s')}kind: Workflow
spec:
  timeout: 2s
  tasks: [{id: l, taskRef: {name: limited}}]
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Failed');
    expect(byId(status, 'l').attempts).to.equal(1);
    expect(byId(status, 'l').error?.message).to.contain('retry not started');
    expect(upstream.requests).to.have.length(1);
  });

  it('retries POST only with an Idempotency-Key or when the task opts in', async () => {
    upstream.route('POST /create', json(503, {}));
    const post = (name: string, extra: string) => `kind: WorkflowTask
metadata: {name: ${name}}
spec:
  http: {method: POST, url: "\${BASE}/create", body: {a: 1}${extra}}
  retry: {maxAttempts: 2, backoff: {initial: 1ms}}
---
`;
    const workflow =
      compile(`${post('plain', '')}${post('keyed', ', headers: {Idempotency-Key: "k-1"}')}kind: Workflow
spec:
  tasks:
  - {id: plain, taskRef: {name: plain}, onError: continue}
  - {id: keyed, taskRef: {name: keyed}, onError: continue}
`);
    const status = await executor.execute(workflow, {});
    expect(byId(status, 'plain').attempts).to.equal(1);
    expect(byId(status, 'keyed').attempts).to.equal(2);
  });

  it('times out each attempt and retries timeouts', async () => {
    upstream.route('GET /hang', json(200, {}, { delayMs: 3_000 }));
    const workflow =
      compile(`${task('hang', '/hang', '  timeout: 100ms\n  retry: {maxAttempts: 2, backoff: {initial: 1ms}}')}kind: Workflow
spec:
  tasks: [{id: h, taskRef: {name: hang}}]
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Failed');
    const h = byId(status, 'h');
    expect(h.attempts).to.equal(2);
    expect(h.error?.reason).to.equal('Timeout');
    expect(h.attemptLog?.map((a) => a.error)).to.deep.equal([
      'Timeout: attempt 1 timed out after 100 ms',
      'Timeout: attempt 2 timed out after 100 ms',
    ]);
  });

  it('cuts everything off at the workflow deadline', async () => {
    upstream
      .route('GET /hang', json(200, {}, { delayMs: 5_000 }))
      .route('GET /quick', json(200, {}, { delayMs: 200 }));
    const workflow =
      compile(`${task('hang', '/hang', '  timeout: 250ms\n  retry: {maxAttempts: 10, backoff: {initial: 1ms}}')}${task(
        'quick',
        '/quick',
        '  timeout: 300ms',
      )}kind: Workflow
spec:
  timeout: 400ms
  tasks:
  - {id: first, taskRef: {name: quick}}
  - {id: h, taskRef: {name: hang}, dependsOn: [first]}
  - {id: next, taskRef: {name: hang}, dependsOn: [h]}
`);
    const started = Date.now();
    const status = await executor.execute(workflow, {});
    expect(Date.now() - started).to.be.below(2_000);
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('DeadlineExceeded');
    const h = byId(status, 'h');
    expect(h.phase).to.equal('Failed');
    expect(h.error?.reason).to.equal('DeadlineExceeded');
    expect(h.attempts).to.equal(1);
    expect(byId(status, 'next').phase).to.equal('Cancelled');
  });

  it('skips on a false when and propagates the skip to consumers of the output', async () => {
    upstream.route('GET /ok', json(200, { v: 1 }));
    const workflow = compile(`${task('ok', '/ok')}kind: Workflow
spec:
  tasks:
  - {id: a, taskRef: {name: ok}}
  - {id: gated, taskRef: {name: ok}, when: "input.go == true"}
  - {id: absent, taskRef: {name: ok}, when: "input.missing.deep == 1"}
  - {id: from-a, taskRef: {name: ok}, when: "tasks.a.output.v == 1"}
  - {id: consumer, taskRef: {name: ok}, input: {x: "{{tasks.gated.output.v}}"}}
  - {id: transitive, taskRef: {name: ok}, input: {x: "{{tasks.consumer.output}}"}}
  - {id: ordered, taskRef: {name: ok}, dependsOn: [gated]}
  output: {gated: "{{tasks.gated.output}}", nested: "{{tasks.gated.output.v}}", a: "{{tasks.a.output.v}}"}
`);
    const status = await executor.execute(workflow, { go: false });
    expect(status.phase).to.equal('Succeeded');
    expect(status.tasks?.map((t) => [t.id, t.phase])).to.deep.equal([
      ['a', 'Succeeded'],
      ['gated', 'Skipped'],
      ['absent', 'Skipped'],
      ['from-a', 'Succeeded'],
      ['consumer', 'Skipped'],
      ['transitive', 'Skipped'],
      ['ordered', 'Succeeded'],
    ]);
    expect(status.output).to.deep.equal({ gated: null, nested: null, a: 1 });
    expect(upstream.requests).to.have.length(3);
  });

  it('fails the step when its when expression errors for another reason than an absent field', async () => {
    const workflow = compile(`${task('ok', '/ok')}kind: Workflow
spec:
  tasks: [{id: a, taskRef: {name: ok}, when: "input.n + 'x' == 'y'"}]
`);
    const status = await executor.execute(workflow, { n: 1 });
    expect(status.phase).to.equal('Failed');
    expect(byId(status, 'a').error?.reason).to.equal('InvalidWhen');
  });

  it('fails with InvalidOutput naming the path when the response breaks the outputSchema', async () => {
    upstream.route('GET /user', json(200, { id: 1 }));
    const workflow = compile(`${task(
      'user',
      '/user',
      '  outputSchema: {type: object, required: [id, email], properties: {id: {type: string}, email: {type: string}}}',
    )}kind: Workflow
spec:
  tasks: [{id: u, taskRef: {name: user}}]
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('InvalidOutput');
    const u = byId(status, 'u');
    expect(u.error?.reason).to.equal('InvalidOutput');
    expect(u.error?.message).to.contain('tasks.u.output.id must be string');
    expect(u.error?.message).to.contain('tasks.u.output.email is required');
  });

  it('fails with InvalidResponse when the body is not JSON', async () => {
    upstream.route('GET /html', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    );
    const workflow = compile(`${task('html', '/html')}kind: Workflow
spec:
  tasks: [{id: h, taskRef: {name: html}}]
`);
    const status = await executor.execute(workflow, {});
    expect(byId(status, 'h').error?.reason).to.equal('InvalidResponse');
    expect(byId(status, 'h').error?.message).to.contain('response is not JSON (content-type text/html)');
  });

  it('refuses the shortest answer nested one level deeper than the JSON depth limit, accepts one at the limit', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    upstream
      .route('GET /at-limit', (_req, res) => res.writeHead(200).end(nested(64)))
      .route('GET /over', (_req, res) => res.writeHead(200).end(nested(65)));
    const workflow = compile(`${task('at-limit', '/at-limit')}${task('over', '/over')}kind: Workflow
spec:
  tasks: [{id: fits, taskRef: {name: at-limit}}, {id: deep, taskRef: {name: over}}]
`);
    const status = await executor.execute(workflow, {});
    expect(byId(status, 'fits').phase).to.equal('Succeeded');
    expect(byId(status, 'deep').error).to.deep.equal({
      reason: 'InvalidResponse',
      message: 'response nests more than 64 levels deep, the limit for JSON',
    });
  });

  it('treats an empty 2xx body as a null output', async () => {
    upstream.route('DELETE /thing', (_req, res) => res.writeHead(204).end());
    const workflow = compile(`kind: WorkflowTask
metadata: {name: del}
spec:
  http: {method: DELETE, url: "\${BASE}/thing"}
---
kind: Workflow
spec:
  tasks: [{id: d, taskRef: {name: del}}]
  output: {d: "{{tasks.d.output}}"}
`);
    const status = await executor.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    expect(status.output).to.deep.equal({ d: null });
  });

  it('refuses oversized responses, declared or streamed', async () => {
    const big = JSON.stringify({ data: 'x'.repeat(5_000) });
    upstream
      .route('GET /declared', (_req, res) =>
        res.writeHead(200, { 'content-length': String(big.length) }).end(big),
      )
      .route('GET /chunked', (_req, res) => {
        res.writeHead(200);
        res.write(big.slice(0, 2_000));
        setTimeout(() => res.end(big.slice(2_000)), 5);
      });
    const workflow = compile(`${task('declared', '/declared', '  maxResponseBytes: 1000')}${task(
      'chunked',
      '/chunked',
      '  maxResponseBytes: 1000',
    )}kind: Workflow
spec:
  tasks:
  - {id: d, taskRef: {name: declared}, onError: continue}
  - {id: c, taskRef: {name: chunked}, onError: continue}
`);
    const status = await executor.execute(workflow, {});
    expect(byId(status, 'd').error?.reason).to.equal('ResponseTooLarge');
    expect(byId(status, 'c').error?.reason).to.equal('ResponseTooLarge');
  });

  it('refuses redirects by default and follows checked hops when allowed', async () => {
    upstream
      .route('GET /moved', (_req, res) => res.writeHead(302, { location: '/here' }).end())
      .route('GET /here', json(200, { here: true }));
    const workflow = compile(`${task('moved', '/moved')}kind: Workflow
spec:
  tasks: [{id: m, taskRef: {name: moved}}]
`);
    const refused = await executor.execute(workflow, {});
    expect(byId(refused, 'm').error?.reason).to.equal('RedirectRefused');
    expect(upstream.requests.map((r) => r.url)).to.deep.equal(['/moved']);

    const following = new UndiciTaskClient({
      policy: new EgressPolicy({ allowLoopback: true, maxRedirects: 1 }),
    });
    try {
      const status = await new DagExecutor({ http: following }).execute(workflow, {});
      expect(status.phase).to.equal('Succeeded');
      expect(byId(status, 'm').output).to.deep.equal({ here: true });
    } finally {
      await following.close();
    }
  });

  it('refuses every spelling of a denied address before any connection', async () => {
    const strict = new UndiciTaskClient({
      policy: new EgressPolicy({}, { resolve: async () => [{ address: '127.0.0.1', family: 4 }] }),
    });
    const port = new URL(upstream.base).port;
    const hosts = [
      '127.0.0.1',
      '127.1',
      '2130706433',
      '0x7f000001',
      '0x7f.0.0.1',
      '0177.0.0.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
      '[0:0:0:0:0:ffff:7f00:1]',
      'localhost',
      'rebind.example.test',
      '169.254.169.254',
      '[fd00:ec2::254]',
      '0.0.0.0',
    ];
    try {
      for (const host of hosts) {
        const workflow = compileFixture(
          `${task('t', '/x')}kind: Workflow
spec:
  tasks: [{id: t, taskRef: {name: t}}]
`,
          `http://${host}:${port}`,
        );
        const status = await new DagExecutor({ http: strict }).execute(workflow, {});
        expect(byId(status, 't').error?.reason, host).to.equal('EgressDenied');
      }
    } finally {
      await strict.close();
    }
    expect(upstream.connections).to.equal(0);
  });

  it('redacts secret values from status, outputs, errors and observer events', async () => {
    const secret = 's3cr3t-T0KEN';
    upstream
      .route('GET /echo', (req, res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ auth: req.headers.authorization, url: req.url })),
      )
      .route('GET /fail', (req, res) =>
        res.writeHead(500).end(`denied for ${req.headers['x-key'] as string}`),
      );
    const secrets: SecretResolver = {
      resolve: async (ref) => (ref.secretName === 'api' && ref.key === 'token' ? secret : undefined),
    };
    const withSecret = (name: string, path: string, header: string) => `kind: WorkflowTask
metadata: {name: ${name}}
spec:
  http: {method: GET, url: "\${BASE}${path}?k={{secrets.token}}", headers: {${header}: "Bearer {{secrets.token}}"}}
  secrets: [{name: token, secretKeyRef: {name: api, key: token}}]
---
`;
    const workflow =
      compile(`${withSecret('echo', '/echo', 'Authorization')}${withSecret('fail', '/fail', 'X-Key')}kind: Workflow
spec:
  tasks:
  - {id: echo, taskRef: {name: echo}}
  - {id: fail, taskRef: {name: fail}, onError: continue}
  output: {leak: "{{tasks.echo.output}}", again: "{{tasks.echo.output.auth}}"}
`);
    const events: unknown[] = [];
    const observer: ExecutionObserver = {
      executionStarted: (e) => events.push(e.input),
      taskFinished: (e) => events.push(e.task),
      executionFinished: (e) => events.push(e.status),
    };
    const status = await executor.execute(workflow, {}, { secrets, observer });
    expect(upstream.requests[0]?.headers.authorization).to.equal(`Bearer ${secret}`);
    expect(status.phase).to.equal('Succeeded');
    const text = JSON.stringify(status) + JSON.stringify(events);
    expect(text).not.to.contain(secret);
    expect(status.output).to.deep.equal({
      leak: { auth: 'Bearer ***', url: '/echo?k=***' },
      again: 'Bearer ***',
    });
    expect(byId(status, 'fail').error?.message).to.contain('denied for Bearer ***');
  });

  /** One task sending secret `api/token` in a header. */
  const ONE_SECRET_HEADER = `kind: WorkflowTask
metadata: {name: s}
spec:
  http: {method: GET, url: "\${BASE}/x", headers: {A: "{{secrets.token}}"}}
  secrets: [{name: token, secretKeyRef: {name: api, key: token}}]
---
kind: Workflow
spec:
  tasks: [{id: s, taskRef: {name: s}}]
`;

  it('fails the step with SecretNotFound when a secret has no value', async () => {
    const workflow = compile(ONE_SECRET_HEADER);
    const status = await executor.execute(workflow, {});
    expect(byId(status, 's').error?.reason).to.equal('SecretNotFound');
    expect(upstream.requests).to.have.length(0);
  });

  it('refuses a secret too short to redact safely instead of corrupting outputs', async () => {
    const workflow = compile(ONE_SECRET_HEADER);
    const status = await executor.execute(workflow, {}, { secrets: { resolve: () => 'x' } });
    expect(byId(status, 's').error?.reason).to.equal('SecretTooShort');
    expect(byId(status, 's').error?.message).to.contain('shorter than 6');
    expect(upstream.requests).to.have.length(0);
  });

  it('rejects invalid input with spec.input field paths before anything runs', async () => {
    const workflow = compile(`${task('ok', '/ok')}kind: Workflow
spec:
  inputSchema: {type: object, required: [userId], properties: {userId: {type: string}, n: {type: integer}}}
  tasks: [{id: a, taskRef: {name: ok}}]
`);
    let caught: unknown;
    try {
      await executor.execute(workflow, { n: 'x' });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(SyncflowError);
    const error = caught as SyncflowError;
    expect(error.code).to.equal('InvalidInput');
    expect(error.status).to.equal(422);
    expect(error.causes.map((c) => c.field).sort()).to.deep.equal(['spec.input.n', 'spec.input.userId']);
    expect(upstream.requests).to.have.length(0);
  });

  it('fails a step whose resolved input breaks the task inputSchema', async () => {
    const workflow =
      compile(`${task('typed', '/t', '  inputSchema: {type: object, required: [id], properties: {id: {type: string}}}')}kind: Workflow
spec:
  tasks: [{id: t, taskRef: {name: typed}, input: {id: "{{input.n}}"}}]
`);
    const status = await executor.execute(workflow, { n: 5 });
    expect(byId(status, 't').error?.reason).to.equal('InvalidInput');
    expect(byId(status, 't').error?.message).to.contain('tasks.t.input.id must be string');
  });

  it('propagates the W3C traceparent with a new span per attempt', async () => {
    upstream.route('GET /flaky', sequence(json(503, {}), json(200, {})));
    const workflow =
      compile(`${task('flaky', '/flaky', '  retry: {maxAttempts: 2, backoff: {initial: 1ms}}')}kind: Workflow
spec:
  tasks: [{id: f, taskRef: {name: flaky}}]
`);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await executor.execute(workflow, {}, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const parents = upstream.requests.map((r) => r.headers.traceparent as string);
    expect(parents).to.have.length(2);
    for (const p of parents) expect(p).to.match(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(parents[0]).not.to.equal(parents[1]);
  });

  it('cancels the execution when the caller aborts', async () => {
    upstream.route('GET /slow', json(200, {}, { delayMs: 5_000 }));
    const workflow = compile(`${task('slow', '/slow')}kind: Workflow
spec:
  tasks: [{id: s, taskRef: {name: slow}}]
`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const status = await executor.execute(workflow, {}, { signal: controller.signal });
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('Cancelled');
    expect(byId(status, 's').phase).to.equal('Cancelled');
  });

  it('reports a refused connection as ConnectError and retries it', async () => {
    const closed = await new TestUpstream().start();
    const base = closed.base;
    await closed.stop();
    const workflow = compileFixture(
      `${task('gone', '/x', '  retry: {maxAttempts: 2, backoff: {initial: 1ms}}')}kind: Workflow
spec:
  tasks: [{id: g, taskRef: {name: gone}}]
`,
      base,
    );
    const status = await executor.execute(workflow, {});
    expect(byId(status, 'g').error?.reason).to.equal('ConnectError');
    expect(byId(status, 'g').attempts).to.equal(2);
  });

  it('logs and ignores an observer that throws', async () => {
    upstream.route('GET /ok', json(200, {}));
    const warnings: string[] = [];
    const noisy = new DagExecutor({
      http: client,
      logger: { warn: (_f, m) => warnings.push(m), debug: () => {} },
      observer: {
        taskFinished: () => {
          throw new Error('disk full');
        },
      },
    });
    const workflow = compile(`${task('ok', '/ok')}kind: Workflow
spec:
  tasks: [{id: a, taskRef: {name: ok}}]
`);
    const status = await noisy.execute(workflow, {});
    expect(status.phase).to.equal('Succeeded');
    expect(warnings).to.deep.equal(['execution observer failed']);
  });

  describe('failures of the engine itself', () => {
    /** A clock that starts throwing once `broken.now` is set: a collaborator failing mid-execution. */
    const broken = { now: false };
    const brittleClock: Clock = {
      now: () => {
        if (broken.now) throw new Error('clock failed');
        return SYSTEM_CLOCK.now();
      },
      setTimer: SYSTEM_CLOCK.setTimer,
      clearTimer: SYSTEM_CLOCK.clearTimer,
    };
    beforeEach(() => (broken.now = false));

    it('end the execution Failed with reason InternalError, returned, logged and observed', async () => {
      upstream.route('GET /ok', (_req, res) => {
        broken.now = true;
        res.writeHead(200).end('{}');
      });
      const warnings: unknown[] = [];
      const finished: unknown[] = [];
      const brittle = new DagExecutor({
        http: client,
        clock: brittleClock,
        logger: { warn: (f, m) => warnings.push([m, f.error]), debug: () => {} },
        observer: { executionFinished: (e) => finished.push(e.status) },
      });
      const workflow = compile(`${task('ok', '/ok')}kind: Workflow
spec:
  tasks: [{id: a, taskRef: {name: ok}}]
`);
      const status = await brittle.execute(workflow, {});
      expect(status).to.deep.include({
        phase: 'Failed',
        reason: 'InternalError',
        message: 'internal error: clock failed',
      });
      expect(byId(status, 'a')).to.deep.include({ phase: 'Cancelled' });
      expect(finished).to.deep.equal([status]);
      expect(warnings).to.deep.equal([['execution failed internally', 'clock failed']]);
    });

    for (const trigger of ['the caller cancelling', 'the workflow deadline'] as const) {
      it(`end the execution as InternalError when it breaks on ${trigger}, without escaping to the process`, async () => {
        upstream.route('GET /slow', json(200, {}, { delayMs: 3_000 })).route('GET /ok', json(200, {}));
        const workflow = compile(
          `${task('slow', '/slow')}${task('ok', '/ok')}kind: Workflow
spec:
  timeout: 200ms
  maxConcurrency: 1
  tasks: [{id: s, taskRef: {name: slow}}, {id: q, taskRef: {name: ok}}]
`
            .replace('/slow"}', '/slow"}\n  timeout: 200ms')
            .replace('/ok"}', '/ok"}\n  timeout: 200ms'),
        );
        const controller = new AbortController();
        setTimeout(() => {
          broken.now = true;
          if (trigger === 'the caller cancelling') controller.abort();
        }, 50);
        const status = await new DagExecutor({ http: client, clock: brittleClock }).execute(
          workflow,
          {},
          { signal: controller.signal },
        );
        expect(status).to.deep.include({ phase: 'Failed', reason: 'InternalError' });
      });
    }

    it('fail the execution even when the step says onError: continue', async () => {
      upstream.route('GET /ok', json(200, {}));
      const contractBreaking: TaskHttpClient = {
        send: async (request) => ({ ...(await client.send(request)), body: undefined as never }),
        close: async () => {},
      };
      const workflow = compile(`${task('ok', '/ok')}kind: Workflow
spec:
  tasks: [{id: a, taskRef: {name: ok}, onError: continue}]
`);
      const status = await new DagExecutor({ http: contractBreaking }).execute(workflow, {});
      expect(status.reason).to.equal('InternalError');
      expect(byId(status, 'a').error?.reason).to.equal('InternalError');
    });
  });

  it('refuses input nested deeper than the JSON depth limit before anything runs', async () => {
    const workflow = compile(`${task('ok', '/ok')}kind: Workflow
spec:
  tasks: [{id: a, taskRef: {name: ok}}]
`);
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    let caught: unknown;
    try {
      await executor.execute(workflow, { deep });
    } catch (error) {
      caught = error;
    }
    expect((caught as SyncflowError).code).to.equal('InvalidInput');
    expect((caught as SyncflowError).causes).to.deep.equal([
      {
        code: 'InvalidInput',
        field: 'spec.input',
        message: 'nests more than 64 levels deep, the limit for JSON',
        suggestion: 'flatten the input',
      },
    ]);
    expect(upstream.requests).to.have.length(0);
  });

  it('redacts an upstream error body before cutting it to 200 characters', async () => {
    const secret = 'cut-HERE-0123456789';
    upstream.route('GET /x', (req, res) =>
      res.writeHead(500).end(`${'e'.repeat(190)}${String(req.headers.a)} rest`),
    );
    const workflow = compile(ONE_SECRET_HEADER);
    const status = await executor.execute(workflow, {}, { secrets: { resolve: () => secret } });
    const message = byId(status, 's').error?.message as string;
    expect(message).to.contain(`${'e'.repeat(190)}***`);
    expect(message).not.to.contain('cut-HE');
  });

  it('fails the step naming the secret when the secret resolver fails', async () => {
    const workflow = compile(ONE_SECRET_HEADER);
    const status = await executor.execute(
      workflow,
      {},
      { secrets: { resolve: () => Promise.reject(new Error('forbidden')) } },
    );
    expect(byId(status, 's').error).to.deep.equal({
      reason: 'TaskFailed',
      message: 'secret test/api could not be read: forbidden',
    });
  });
});
