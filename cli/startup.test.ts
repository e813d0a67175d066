import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { json, TestUpstream } from '../core/engine/testdata/upstream.ts';

const exec = promisify(execFile);
const PROBE = new URL('testdata/startup-probe.ts', import.meta.url).pathname;
/** The loader is resolved here: the probe runs in a scratch directory without node_modules. */
const TSX = import.meta.resolve('tsx');

/** What one command line loaded, as reported by cli/testdata/startup-probe.ts. */
interface Startup {
  code: number;
  output: string;
  packages: string[];
  /** Loaded files under node_modules, e.g. `undici/lib/dispatcher/agent.js`. */
  files: string[];
  nodeUndici: boolean;
  ajvInstances: number;
  compiles: number;
}

async function startup(cwd: string, ...args: string[]): Promise<Startup> {
  const { stdout } = await exec(process.execPath, ['--import', TSX, PROBE, ...args], { cwd });
  return JSON.parse(stdout) as Startup;
}

/** The same, counting Ajv instances and compilations (which loads ajv first). */
async function startupCountingAjv(cwd: string, ...args: string[]): Promise<Startup> {
  const { stdout } = await exec(process.execPath, ['--import', TSX, PROBE, ...args], {
    cwd,
    env: { ...process.env, PROBE_COUNT_AJV: '1' },
  });
  return JSON.parse(stdout) as Startup;
}

/** Packages that only the server needs: the local commands must not pay for them. */
const SERVER_ONLY = [
  '@sinclair/typebox',
  '@kubernetes/client-node',
  'pino',
  'prom-client',
  'express',
  'pg',
  '@electric-sql/pglite',
];

const TASK = `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: hello}
spec:
  http: {method: GET, url: "http://127.0.0.1:PORT/hello"}
`;
const WORKFLOW = `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: greet}
spec:
  tasks:
  - {id: hello, taskRef: {name: hello}}
  output: {greeting: "{{tasks.hello.output.text}}"}
`;

describe('CLI start-up cost', function () {
  this.timeout(30_000);
  let dir: string;
  const upstream = new TestUpstream().route('GET /hello', json(200, { text: 'hi' }));
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncflow-startup-'));
    await upstream.start();
    const port = new URL(upstream.base).port;
    await writeFile(join(dir, 'task.yaml'), TASK.replace('PORT', port));
    await writeFile(join(dir, 'one-task.yaml'), `${TASK.replace('PORT', port)}---\n${WORKFLOW}`);
    await writeFile(
      join(dir, 'with-schema.yaml'),
      TASK.replace('PORT', port).replace(
        'spec:\n',
        'spec:\n  inputSchema: {type: object, properties: {a: {type: string}}}\n',
      ),
    );
  });
  after(async () => {
    await upstream.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('validate loads no server-only package and no HTTP client', async () => {
    const result = await startup(dir, 'validate', 'task.yaml');
    expect(result.output).to.equal('1 documents valid\n');
    expect(result.packages).to.include('yaml');
    for (const name of [...SERVER_ONLY, 'undici']) expect(result.packages, name).not.to.include(name);
  });

  it('validate compiles no shape schema at start-up: the shape validators are generated at build time', async () => {
    const result = await startupCountingAjv(dir, 'validate', 'task.yaml');
    expect(result.code).to.equal(0);
    expect(result.compiles, 'schemas compiled').to.equal(0);
    expect(result.ajvInstances, 'Ajv instances created').to.equal(0);
  });

  it('validate creates the Ajv for user JSON Schemas on first use only', async () => {
    const result = await startupCountingAjv(dir, 'validate', 'with-schema.yaml');
    expect(result.code, result.output).to.equal(0);
    expect(result.ajvInstances).to.equal(1);
    expect(result.compiles).to.equal(1);
  });

  it('run of a one-task workflow loads no server-only package', async () => {
    const result = await startup(dir, 'run', '-f', 'one-task.yaml', '-w', 'greet', '-o', 'json');
    expect(result.code, result.output).to.equal(0);
    expect(JSON.parse(result.output)).to.deep.nested.include({ 'status.output': { greeting: 'hi' } });
    for (const name of SERVER_ONLY) expect(result.packages, name).not.to.include(name);
  });

  it("run loads undici's Agent, not its web APIs (fetch, WebSocket, cookies) nor Node's bundled undici", async () => {
    const result = await startup(dir, 'run', '-f', 'one-task.yaml', '-w', 'greet', '-o', 'json');
    expect(result.code, result.output).to.equal(0);
    expect(result.files).to.include('undici/lib/dispatcher/agent.js');
    expect(result.files.filter((file) => file.startsWith('undici/lib/web/'))).to.deep.equal([]);
    expect(result.nodeUndici).to.equal(false);
  });

  it('plan calls nothing and loads no HTTP client', async () => {
    const result = await startup(dir, 'plan', '-f', 'one-task.yaml', '-w', 'greet', '-o', 'json');
    expect(result.code, result.output).to.equal(0);
    for (const name of [...SERVER_ONLY, 'undici']) expect(result.packages, name).not.to.include(name);
  });

  for (const command of ['validate', 'run', 'plan']) {
    it(`${command} --help loads neither the validator nor the HTTP client`, async () => {
      const result = await startup(dir, command, '--help');
      expect(result.code).to.equal(0);
      for (const name of ['ajv', 'undici', 'yaml', ...SERVER_ONLY])
        expect(result.packages, name).not.to.include(name);
    });
  }
});
