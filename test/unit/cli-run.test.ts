import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { json, TestUpstream } from '../../core/engine/testdata/upstream.ts';
import { planCommand } from '../../cli/plan.ts';
import { generateName } from '../../core/model/execution.ts';
import { parseRunArguments, runCommand } from '../../cli/run.ts';
import { UsageError, type CliIO } from '../../cli/io.ts';
import type { WorkflowExecutionStatus } from '../../core/model/schema.ts';

/** The printed WorkflowExecution, as far as these tests read it. */
interface ExecutionObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: unknown;
  status: WorkflowExecutionStatus & { plan: NonNullable<WorkflowExecutionStatus['plan']> };
}

const EXAMPLES = new URL('../../examples/', import.meta.url);

function capture(cwd: string): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    cwd,
    out: () => out,
    err: () => err,
  };
}

/** The demo service the examples call, answering as the real one would. */
function demoUpstream(): TestUpstream {
  const upstream = new TestUpstream();
  upstream
    .route('GET /users/42', (req, res) =>
      res
        .writeHead(req.headers.authorization === 'Bearer demo-token' ? 200 : 401, {
          'content-type': 'application/json',
        })
        .end(JSON.stringify({ id: '42', email: 'ada@example.com', name: 'Ada' })),
    )
    .route('GET /orders', json(200, { orders: [{ id: 'o-1', total: 99.5 }] }))
    .route('GET /recommendations/42', json(200, { items: ['book', 'lamp'] }))
    .route('GET /scores/good', json(200, { score: 720 }))
    .route('GET /scores/poor', json(200, { score: 580 }))
    .route('POST /quotes', (req, res) => {
      const body = JSON.parse(req.body) as { amount: number; score: number };
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ rate: 0.05, monthly: body.amount / 10 }));
    })
    .route('POST /reviews', json(200, { caseId: 'case-7' }))
    .route('POST /reservations', json(200, { reservationId: 'r-1', amount: 42.5, currency: 'EUR' }))
    .route('POST /payments', json(200, { paymentId: 'p-1', status: 'captured' }))
    .route('POST /notifications/email', json(200, { messageId: 'm-email' }))
    .route('POST /notifications/sms', json(503, { error: 'sms gateway down' }));
  return upstream;
}

describe('syncflow run / plan', () => {
  let upstream: TestUpstream;
  let dir: string;

  before(async () => {
    upstream = await demoUpstream().start();
    dir = await mkdtemp(join(tmpdir(), 'syncflow-run-'));
    // The examples call the in-cluster demo service; point them at the local mock.
    await mkdir(join(dir, 'defs'));
    for (const name of (await readdir(EXAMPLES)).filter((n) => n.endsWith('.yaml'))) {
      const text = await readFile(new URL(name, EXAMPLES), 'utf8');
      await writeFile(
        join(dir, 'defs', name),
        text.replaceAll('http://demo.syncflow-system.svc:8080', upstream.base),
      );
    }
    await writeFile(join(dir, 'input.json'), JSON.stringify({ userId: '42', withOrders: true }));
    await writeFile(
      join(dir, 'secrets.yaml'),
      'apiVersion: v1\nkind: Secret\nmetadata: {name: demo-api}\nstringData: {token: demo-token}\n',
    );
  });

  after(async () => {
    await upstream.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (args: string[]) => {
    const io = capture(dir);
    const code = await runCommand(args, io);
    return { code, io };
  };

  it('runs user-profile from the examples and prints the WorkflowExecution', async () => {
    const { code, io } = await run([
      '-f',
      'defs',
      '--workflow',
      'user-profile',
      '--input',
      '@input.json',
      '--secret',
      'demo-api/token=demo-token',
      '-o',
      'json',
    ]);
    expect(code, io.err()).to.equal(0);
    const object = JSON.parse(io.out()) as ExecutionObject;
    expect(object).to.deep.include({
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
    });
    expect(object.metadata.name).to.match(/^user-profile-[a-z0-9]{5}$/);
    expect(object.metadata.labels).to.deep.equal({ 'syncflow.io/workflow': 'user-profile' });
    expect(object.spec).to.deep.equal({
      workflowRef: { name: 'user-profile' },
      input: { userId: '42', withOrders: true },
    });
    expect(object.status.phase).to.equal('Succeeded');
    expect(object.status.output).to.deep.equal({
      email: 'ada@example.com',
      name: 'Ada',
      orders: [{ id: 'o-1', total: 99.5 }],
      recommendations: ['book', 'lamp'],
    });
    expect(io.out()).not.to.contain('demo-token');
  });

  it('reads secrets from a Secret document and prints YAML by default', async () => {
    const { code, io } = await run([
      '-f',
      'defs/user-profile.yaml',
      '--workflow',
      'user-profile',
      '--input',
      '{"userId":"42"}',
      '--secrets-file',
      'secrets.yaml',
    ]);
    expect(code, io.err()).to.equal(0);
    const object = parseYaml(io.out()) as ExecutionObject;
    expect(object.status.output).to.deep.equal({
      email: 'ada@example.com',
      name: 'Ada',
      orders: null,
      recommendations: ['book', 'lamp'],
    });
    expect(object.status.tasks?.find((t) => t.id === 'orders')?.phase).to.equal('Skipped');
  });

  it('runs loan-quote down either branch', async () => {
    const good = await run([
      '-f',
      'defs/loan-quote.yaml',
      '-w',
      'loan-quote',
      '--input',
      '{"applicantId":"good","amount":1000}',
      '-o',
      'json',
    ]);
    expect(good.code, good.io.err()).to.equal(0);
    expect((JSON.parse(good.io.out()) as ExecutionObject).status.output).to.deep.equal({
      score: 720,
      quote: { rate: 0.05, monthly: 100 },
      reviewCase: null,
    });
    const poor = await run([
      '-f',
      'defs/loan-quote.yaml',
      '-w',
      'loan-quote',
      '--input',
      '{"applicantId":"poor","amount":1000}',
      '-o',
      'json',
    ]);
    expect(poor.code, poor.io.err()).to.equal(0);
    expect((JSON.parse(poor.io.out()) as ExecutionObject).status.output).to.deep.equal({
      score: 580,
      quote: null,
      reviewCase: 'case-7',
    });
  });

  it('runs checkout and tolerates the failing SMS step (onError: continue)', async () => {
    const { code, io } = await run([
      '-f',
      'defs/checkout.yaml',
      '-w',
      'checkout',
      '--input',
      '{"cartId":"c-1","customerId":"cu-1"}',
      '-o',
      'json',
    ]);
    expect(code, io.err()).to.equal(0);
    const status = (JSON.parse(io.out()) as ExecutionObject).status;
    expect(status.output).to.deep.equal({
      paymentId: 'p-1',
      status: 'captured',
      notified: { email: 'm-email', sms: null },
    });
    expect(status.tasks?.find((t) => t.id === 'sms')).to.deep.include({ phase: 'Failed', httpStatus: 503 });
  });

  it('exits 1 with the execution printed when the workflow fails', async () => {
    const { code, io } = await run([
      '-f',
      'defs/user-profile.yaml',
      '-w',
      'user-profile',
      '--input',
      '{"userId":"42"}',
      '-o',
      'json',
    ]);
    expect(code).to.equal(1);
    const status = (JSON.parse(io.out()) as ExecutionObject).status;
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('TaskFailed');
    expect(status.tasks?.[0]?.error?.reason).to.equal('SecretNotFound');
  });

  it('exits 2 with field paths for invalid input', async () => {
    const { code, io } = await run(['-f', 'defs', '-w', 'loan-quote', '--input', '{"amount":5}']);
    expect(code).to.equal(2);
    expect(io.err()).to.contain('Workflow/loan-quote: spec.input.applicantId: is required');
    expect(io.err()).to.contain('spec.input.amount: must be >= 100');
    expect(upstream.requests.filter((r) => r.url.startsWith('/scores'))).to.have.length(2);
  });

  it('exits 2 for an unknown workflow, bad JSON, unreadable input files and invalid definitions', async () => {
    const unknown = await run(['-f', 'defs', '-w', 'user-profil']);
    expect(unknown.code).to.equal(2);
    expect(unknown.io.err()).to.contain('did you mean `user-profile`?');
    const badJson = await run(['-f', 'defs', '-w', 'user-profile', '--input', '{nope']);
    expect(badJson.code).to.equal(2);
    expect(badJson.io.err()).to.contain('input is not valid JSON');
    const missing = await run(['-f', 'defs', '-w', 'user-profile', '--input', '@missing.json']);
    expect(missing.code).to.equal(2);
    expect(missing.io.err()).to.contain('cannot read input file missing.json');
    const invalidDir = await mkdtemp(join(tmpdir(), 'syncflow-invalid-'));
    await writeFile(
      join(invalidDir, 'bad.yaml'),
      'apiVersion: syncflow.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec: {tasks: []}\n',
    );
    const invalid = await runCommand(['-f', invalidDir, '-w', 'w'], capture(dir));
    expect(invalid).to.equal(2);
    await rm(invalidDir, { recursive: true, force: true });
  });

  it('refuses an input file over the server body limit before reading it, naming the file and the limit', async () => {
    await writeFile(join(dir, 'huge.json'), `{"userId":"${'4'.repeat(4 * 1024 * 1024)}"}`);
    const { code, io } = await run(['-f', 'defs', '-w', 'user-profile', '--input', '@huge.json']);
    expect(code).to.equal(2);
    expect(io.err()).to.contain('input file huge.json is 4.0 MiB; the limit is 3 MiB');
  });

  it('refuses an inline input over the server body limit', async () => {
    const { code, io } = await run([
      '-f',
      'defs',
      '-w',
      'user-profile',
      '--input',
      `{"userId":"${'4'.repeat(3 * 1024 * 1024)}"}`,
    ]);
    expect(code).to.equal(2);
    expect(io.err()).to.contain('--input is 3.0 MiB; the limit is 3 MiB');
  });

  it('refuses input nested deeper than the server allows, and a YAML alias bomb, with a clear message', async () => {
    const deep = await run([
      '-f',
      'defs',
      '-w',
      'user-profile',
      '--input',
      `${'['.repeat(100)}${']'.repeat(100)}`,
    ]);
    expect(deep.code).to.equal(2);
    expect(deep.io.err()).to.contain('nests 100 levels deep; the limit is 64');
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++)
      bomb.push(
        `${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(10)
          .fill(`*${'abcdefghij'[i - 1]}`)
          .join(',')}]`,
      );
    await writeFile(join(dir, 'bomb.yaml'), bomb.join('\n') + '\n');
    const aliases = await run(['-f', 'defs', '-w', 'user-profile', '--input', '@bomb.yaml']);
    expect(aliases.code).to.equal(2);
    expect(aliases.io.err()).to.match(/cannot read input file bomb.yaml: .*alias/i);
  });

  it('rejects misuse with a UsageError', () => {
    const cases: string[][] = [
      [],
      ['-f', 'x.yaml'],
      ['-w', 'w'],
      ['-f', 'x', '-w', 'w', '-o', 'table'],
      ['-f', 'x', '-w', 'w', '--bogus'],
      ['stray', '-f', 'x', '-w', 'w'],
      ['-f', 'x', '-w'],
    ];
    for (const args of cases) expect(() => parseRunArguments(args), args.join(' ')).to.throw(UsageError);
    expect(parseRunArguments(['-f', 'a.yaml', 'b.yaml', '--workflow=w', '-n', 'shop'])).to.deep.include({
      files: ['a.yaml', 'b.yaml'],
      workflow: 'w',
      namespace: 'shop',
    });
  });

  it('rejects a malformed --secret and an unreadable secrets file', async () => {
    let caught: unknown;
    try {
      await runCommand(['-f', 'defs', '-w', 'user-profile', '--secret', 'token=x'], capture(dir));
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(UsageError);
    caught = undefined;
    try {
      await runCommand(['-f', 'defs', '-w', 'user-profile', '--secrets-file', 'nope.yaml'], capture(dir));
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(UsageError);
  });

  it('plans without calling anything', async () => {
    const before = upstream.requests.length;
    const io = capture(dir);
    const code = await planCommand(
      ['-f', 'defs', '-w', 'loan-quote', '--input', '{"applicantId":"a","amount":500}', '-o', 'json'],
      io,
    );
    expect(code, io.err()).to.equal(0);
    const object = JSON.parse(io.out()) as ExecutionObject;
    expect(object.status.phase).to.equal(undefined);
    expect(object.status.plan.order).to.deep.equal(['score', 'quote', 'review']);
    expect(object.status.plan.parallelGroups).to.deep.equal([['score'], ['quote', 'review']]);
    expect(object.status.plan.tasks?.[1]).to.deep.include({
      when: 'unknown',
      input: { amount: 500, score: '{{tasks.score.output.score}}' },
    });
    expect(upstream.requests.length).to.equal(before);
    const invalid = capture(dir);
    expect(await planCommand(['-f', 'defs', '-w', 'loan-quote', '--input', '{}'], invalid)).to.equal(2);
    expect(invalid.err()).to.contain('spec.input.applicantId: is required');
    expect(await planCommand(['-f', 'defs', '-w', 'nope'], capture(dir))).to.equal(2);
  });

  it('generates Kubernetes-style names', () => {
    expect(generateName('wf-')).to.match(/^wf-[b-z2-9]{5}$/);
  });
});
