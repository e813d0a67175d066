/**
 * A `when` regular expression with polynomial backtracking (`a*a*a*a*b`, which passes the static
 * checks) over a 3,000-character input held the CLI's and the server's event loop for minutes. The
 * `syncflow` process turns on V8's linear-time fallback for excessive backtracking, so such a match
 * ends quickly; this suite runs the real binary to prove the process is started that way.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/syncflow.js', import.meta.url).pathname;

const DEFINITIONS = `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: t}
spec:
  http: {method: GET, url: "http://127.0.0.1:9/never"}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  inputSchema: {type: object, properties: {s: {type: string, maxLength: 3000}}}
  tasks: [{id: t, taskRef: {name: t}, when: 'input.s.matches("^a*a*a*a*b$")'}]
`;

/** Runs the CLI; kills it after `limitMs` and reports whether it had to. */
function runCli(
  args: string[],
  limitMs: number,
): Promise<{ code: number | null; killed: boolean; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, killed, stdout });
    });
  });
}

describe('a backtracking `when` regular expression in the syncflow process', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncflow-regexp-'));
    await writeFile(join(dir, 'w.yaml'), DEFINITIONS);
    await writeFile(join(dir, 'in.json'), JSON.stringify({ s: 'a'.repeat(3000) }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is evaluated in linear time: the run ends (skipping the task) instead of holding the process', async function () {
    this.timeout(30_000);
    const result = await runCli(
      ['run', '-f', join(dir, 'w.yaml'), '-w', 'w', '--input', `@${join(dir, 'in.json')}`, '-o', 'json'],
      15_000,
    );
    expect(result.killed, 'still matching after 15 s').to.equal(false);
    const status = (
      JSON.parse(result.stdout) as { status: { phase: string; tasks: Array<{ phase: string }> } }
    ).status;
    expect(status.tasks[0]?.phase).to.equal('Skipped');
    expect(result.code).to.equal(0);
  });
});
