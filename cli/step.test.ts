import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { json, TestUpstream } from '../core/engine/testdata/upstream.ts';
import type { WorkflowExecutionStatus } from '../core/model/schema.ts';
import type { CliIO } from './io.ts';
import { main } from './main.ts';

const SECRET = 'tok-SECRET-9931';
const TSX = import.meta.resolve('tsx');
const BIN = new URL('bin.ts', import.meta.url).pathname;

/** Three tasks in a chain; `b` declares an outputSchema, `c` uses `b`'s output in its URL. */
const definitions = (base: string) => `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: with-key}
spec:
  secrets: [{name: key, secretKeyRef: {name: api, key: key}}]
  http: {method: GET, url: "${base}/a", headers: {Authorization: "Bearer {{secrets.key}}"}}
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: named}
spec:
  outputSchema: {type: object, required: [name], properties: {name: {type: string}}}
  http: {method: POST, url: "${base}/b", body: {from: "{{input.from}}"}}
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: greet}
spec:
  inputSchema: {type: object, properties: {who: {type: string}}}
  http: {method: GET, url: "${base}/c/{{input.who}}"}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: chain}
spec:
  tasks:
  - {id: a, taskRef: {name: with-key}}
  - {id: b, taskRef: {name: named}, input: {from: "{{tasks.a.output.name}}"}}
  - {id: c, taskRef: {name: greet}, input: {who: "{{tasks.b.output.name}}"}}
  output: {b: "{{tasks.b.output.name}}", c: "{{tasks.c.output.name}}"}
`;

/** The printed WorkflowExecution, as far as these tests read it. */
interface ExecutionObject {
  metadata: { annotations?: Record<string, string> };
  status: WorkflowExecutionStatus;
}

describe('syncflow run --step (interactive debug runs)', () => {
  let upstream: TestUpstream;
  let dir: string;

  before(async () => {
    upstream = await new TestUpstream()
      .route('GET /a', json(200, { name: 'from-a' }))
      .route('POST /b', json(200, { name: 'from-b' }))
      .route('GET /c/stand-in', json(200, { name: 'c-saw-stand-in' }))
      .route('GET /c/from-b', json(200, { name: 'c-saw-from-b' }))
      .start();
    dir = await mkdtemp(join(tmpdir(), 'syncflow-step-'));
    await writeFile(join(dir, 'chain.yaml'), definitions(upstream.base));
  });
  beforeEach(() => {
    upstream.requests.length = 0;
  });
  after(async () => {
    await upstream.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the CLI in-process with `answers` as the lines typed at its prompts. */
  async function run(answers: string[] | undefined, ...flags: string[]) {
    let out = '';
    let err = '';
    const io: CliIO = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      cwd: dir,
      ...(answers ? { stdin: Readable.from(answers.map((a) => `${a}\n`)) } : {}),
    };
    const code = await main(
      [
        'run',
        '-f',
        'chain.yaml',
        '-w',
        'chain',
        '-i',
        '{"from":"x"}',
        '--secret',
        `api/key=${SECRET}`,
        '-o',
        'json',
        ...flags,
      ],
      io,
    );
    return { code, out, err, object: out ? (JSON.parse(out) as ExecutionObject) : undefined };
  }

  const paths = () => upstream.requests.map((r) => r.url);

  it('pauses at each task with the resolved request; skip substitutes the output, continue calls', async () => {
    const { code, err, object } = await run(['continue', 'skip {"name": "stand-in"}', ''], '--step');
    expect(code, err).to.equal(0);
    expect(err.match(/^paused before task (\w)/gm)).to.deep.equal([
      'paused before task a',
      'paused before task b',
      'paused before task c',
    ]);
    expect(err).to.include(`paused before task a: GET ${upstream.base}/a\n  accept: application/json\n`);
    expect(err).to.include('  Authorization: Bearer ***\n');
    expect(err).to.include(`paused before task b: POST ${upstream.base}/b\n`);
    expect(err).to.include('  body: {"from":"from-a"}\n');
    expect(err).to.include(`paused before task c: GET ${upstream.base}/c/stand-in\n`);
    expect(err).to.include('continue / skip <JSON> / abort > ');
    expect(err).not.to.include(SECRET);
    expect(paths()).to.deep.equal(['/a', '/c/stand-in']);
    expect(object?.status.output).to.deep.equal({ b: 'stand-in', c: 'c-saw-stand-in' });
    expect(object?.status.tasks?.find((t) => t.id === 'b')).to.deep.include({
      phase: 'Succeeded',
      substituted: true,
      output: { name: 'stand-in' },
    });
    expect(object?.metadata.annotations).to.deep.equal({ 'syncflow.io/debug': 'true' });
  });

  it('asks again after skip JSON that does not parse or does not match the outputSchema, naming the field', async () => {
    const { code, err, object } = await run(
      ['c', 'skip {"name": ', 'skip', 'skip {}', 'skip {"name": 7}', 'what', 's {"name": "stand-in"}', 'c'],
      '--step',
    );
    expect(code, err).to.equal(0);
    expect(err).to.match(/skip: not JSON: .+\n/);
    expect(err).to.include('skip needs the substitute output as JSON, e.g. skip {"name": "x"}\n');
    expect(err).to.include('  output.name: is required\n');
    expect(err).to.include('  output.name: must be string\n');
    expect(err).to.include('answer continue (or Enter), skip <JSON> or abort\n');
    expect(err.match(/^paused before task b/gm)).to.have.length(1);
    expect(err.match(/continue \/ skip <JSON> \/ abort > /g)).to.have.length(8);
    expect(object?.status.output).to.deep.equal({ b: 'stand-in', c: 'c-saw-stand-in' });
  });

  it('abort ends the run Failed with DebugAborted, exit 1', async () => {
    const { code, object } = await run(['continue', 'abort'], '--step');
    expect(code).to.equal(1);
    expect(object?.status).to.include({ phase: 'Failed', reason: 'DebugAborted' });
    expect(paths()).to.deep.equal(['/a']);
  });

  it('--break pauses only at the named tasks', async () => {
    const { code, err } = await run(['continue'], '--break', 'b');
    expect(code, err).to.equal(0);
    expect(err.match(/^paused before task (\w)/gm)).to.deep.equal(['paused before task b']);
    expect(paths()).to.deep.equal(['/a', '/b', '/c/from-b']);
  });

  it('--break takes comma-separated tasks and may be repeated', async () => {
    const { code, err } = await run(['', '', ''], '--break', 'a,c', '--break', 'b');
    expect(code, err).to.equal(0);
    expect(err.match(/^paused before task (\w)/gm)).to.have.length(3);
  });

  it('--break naming no task of the workflow exits 2 with the closest id', async () => {
    const { code, err, out } = await run([], '--break', 'a,bb');
    expect(code).to.equal(2);
    expect(out).to.equal('');
    expect(err).to.equal(
      'syncflow run: --break: no task with id `bb` in workflow chain (its tasks: a, b, c) (did you mean `b`?)\n',
    );
  });

  it('the end of the input at a prompt aborts the run', async () => {
    const { code, err, object } = await run(['continue'], '--step');
    expect(code).to.equal(1);
    expect(err).to.include('input ended: aborting the debug run\n');
    expect(object?.status.reason).to.equal('DebugAborted');
  });

  it('plan does not take the step flags', async () => {
    let err = '';
    const code = await main(['plan', '-f', 'chain.yaml', '-w', 'chain', '--step'], {
      stdout: { write: () => true },
      stderr: { write: (s: string) => (err += s) },
      cwd: dir,
    });
    expect(code).to.equal(2);
    expect(err).to.match(/^syncflow plan: unknown flag --step/);
  });

  it('--step without an input to read answers from is a usage error', async () => {
    const { code, err } = await run(undefined, '--step');
    expect(code).to.equal(2);
    expect(err).to.match(/^syncflow run: --step needs answers on standard input/);
  });

  it('escapes control characters of the request, so its data cannot drive the terminal', async () => {
    await writeFile(
      join(dir, 'echo.yaml'),
      `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: echo}
spec:
  http: {method: POST, url: "${upstream.base}/b", headers: {X-Note: "{{input.note}}"}, body: {note: "{{input.note}}"}}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: echo}
spec:
  tasks: [{id: e, taskRef: {name: echo}, input: {note: "{{input.note}}"}}]
`,
    );
    let err = '';
    const code = await main(
      ['run', '-f', 'echo.yaml', '-w', 'echo', '-i', '{"note":"red\\u001b[31m\\u009b2J"}', '--step'],
      {
        stdout: { write: () => true },
        stderr: { write: (s: string) => (err += s) },
        cwd: dir,
        stdin: Readable.from(['abort\n']),
      },
    );
    expect(code).to.equal(1);
    // No raw ESC or CSI reached the terminal (the escaped spellings below did).
    expect([...err].some((c) => c === '\u001b' || c === '\u009b')).to.equal(false);
    expect(err).to.include('  X-Note: red\\u001b[31m\\u009b2J\n');
  });

  it('runs as a child process answering prompts over a pipe', async function () {
    this.timeout(30_000);
    const child = spawn(
      process.execPath,
      [
        '--import',
        TSX,
        BIN,
        'run',
        '-f',
        'chain.yaml',
        '-w',
        'chain',
        '-i',
        '{"from":"x"}',
        '--secret',
        `api/key=${SECRET}`,
        '-o',
        'json',
        '--step',
      ],
      { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const answers = ['continue', 'skip {"name":"stand-in"}', 'continue'];
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      // Answer each prompt as it appears, as a person at the terminal would.
      const prompts = err.split('abort > ').length - 1;
      while (answers.length > 3 - prompts) child.stdin.write(`${answers.shift()}\n`);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, err).to.equal(0);
    const object = JSON.parse(out) as ExecutionObject;
    expect(object.status.output).to.deep.equal({ b: 'stand-in', c: 'c-saw-stand-in' });
    expect(object.metadata.annotations).to.deep.equal({ 'syncflow.io/debug': 'true' });
    expect(paths()).to.deep.equal(['/a', '/c/stand-in']);
  });
});
