/**
 * Every invalid fixture states its expected errors (`# expect: <Code> <field.path>`); the CLI must
 * report each of them and exit 1. Every valid fixture and example must pass with exit 0.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../cli/main.ts';
import type { ReportLine } from '../../cli/load.ts';

const root = join(import.meta.dirname, '..', '..');
const invalidDir = join(root, 'test/fixtures/invalid');

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    cwd: root,
  });
  return { code, stdout, stderr };
}

describe('definition fixtures', () => {
  const invalid = readdirSync(invalidDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('has at least 40 invalid fixtures, each stating what it expects', () => {
    expect(invalid.length).to.be.at.least(40);
    for (const file of invalid)
      expect(readFileSync(join(invalidDir, file), 'utf8')).to.match(/^# expect: /m, file);
  });

  for (const file of invalid) {
    it(`rejects invalid/${file} with the stated code and path`, async () => {
      const expected = [
        ...readFileSync(join(invalidDir, file), 'utf8').matchAll(/^# expect: (\S+) (.+)$/gm),
      ].map((m) => ({ code: m[1], field: m[2] }));
      const { code, stdout } = await run(['validate', '-o', 'json', `test/fixtures/invalid/${file}`]);
      expect(code).to.equal(1);
      const lines = JSON.parse(stdout) as ReportLine[];
      for (const e of expected) {
        expect(lines.map((l) => ({ code: l.code, field: l.field }))).to.deep.include(e);
      }
      for (const line of lines) {
        expect(line.file).to.equal(`test/fixtures/invalid/${file}`);
        expect(line.message.length).to.be.greaterThan(0);
      }
    });
  }

  it('accepts every valid fixture and every example', async () => {
    expect((await run(['validate', 'test/fixtures/valid'])).code).to.equal(0);
    const examples = await run(['validate', 'examples/']);
    expect(examples.stdout).to.match(/documents valid/);
    expect(examples.code).to.equal(0);
  });

  it('works through the `syncflow` binary with the documented text format', async function () {
    // Two fresh processes that compile TypeScript on start: slow on a loaded 2-core machine.
    this.timeout(120_000);
    const exec = promisify(execFile);
    const ok = await exec(process.execPath, ['bin/syncflow.js', 'validate', 'examples/'], { cwd: root });
    expect(ok.stdout).to.match(/16 documents valid/);
    const failed = await exec(
      process.execPath,
      ['bin/syncflow.js', 'validate', 'test/fixtures/invalid/cycle-two-steps.yaml'],
      { cwd: root },
    ).catch((e: { code: number; stdout: string }) => e);
    expect(failed).to.have.property('code', 1);
    expect((failed as { stdout: string }).stdout).to.equal(
      'test/fixtures/invalid/cycle-two-steps.yaml: Workflow/profile: spec.tasks[0]: dependency cycle: a -> b -> a (remove one of the references or dependsOn edges in the cycle)\n',
    );
  });
});
