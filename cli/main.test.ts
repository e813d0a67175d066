import { expect } from 'chai';
import { main } from './main.ts';

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    cwd: process.cwd(),
  });
  return { code, stdout, stderr };
}

/** The flags `run` and `plan` share, as their docs name them. */
const RUN_FLAGS = [
  '-f, --filename',
  '-w, --workflow',
  '-n, --namespace',
  '-i, --input',
  '-o, --output',
  '--secret',
  '--secrets-file',
  '--host-alias',
  '-h, --help',
];

/** Every flag of each command, as the commands' docs name them. */
const FLAGS: Record<string, string[]> = {
  validate: ['-o, --output', '-h, --help'],
  run: [...RUN_FLAGS, '--step', '--break'],
  plan: RUN_FLAGS,
};

describe('syncflow command line', () => {
  for (const [command, flags] of Object.entries(FLAGS)) {
    for (const help of ['--help', '-h']) {
      it(`${command} ${help} prints its usage listing every flag, exit 0`, async () => {
        const result = await cli(command, help);
        expect(result.code, result.stderr).to.equal(0);
        expect(result.stdout).to.match(new RegExp(`^usage: syncflow ${command} `));
        for (const flag of flags) expect(result.stdout, flag).to.match(new RegExp(`^  ${flag}\\b`, 'm'));
      });
    }
    it(`${command} names an unknown flag and prints its usage, exit 2`, async () => {
      const result = await cli(command, '--bogus', 'x');
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(
        new RegExp(`^syncflow ${command}: unknown flag --bogus\\nusage: syncflow ${command} `),
      );
    });
    it(`help ${command} prints the same usage as ${command} --help`, async () => {
      expect((await cli('help', command)).stdout).to.equal((await cli(command, '--help')).stdout);
    });
  }

  it('the top-level usage names every command', async () => {
    const result = await cli('--help');
    expect(result.code).to.equal(0);
    for (const command of ['validate', 'run', 'plan', 'server'])
      expect(result.stdout).to.match(new RegExp(`^  syncflow ${command} `, 'm'));
  });

  it('refuses an unknown top-level flag with exit 2', async () => {
    const result = await cli('--bogus');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/^syncflow: unknown flag --bogus\n/);
  });

  it('a flag given a value it does not take is named', async () => {
    const result = await cli('validate', '--help=yes');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/--help takes no value/);
  });

  it('help of an unknown command names it, exit 2', async () => {
    const result = await cli('help', 'nope');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/^syncflow: unknown command `nope`/);
  });

  it("a value outside a flag's choices is named with the choices", async () => {
    const result = await cli('run', '-f', 'x.yaml', '-w', 'w', '--output=table');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/^syncflow run: --output takes yaml or json, got table\n/);
  });

  it('reads -o=json as -o json', async () => {
    const result = await cli('validate', '-o=json', 'missing.yaml');
    expect(result.code).to.equal(2);
    expect(JSON.parse(result.stdout)).to.have.length(1);
  });

  it('a flag without its value is named', async () => {
    const result = await cli('run', '-f', 'x.yaml', '--workflow');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/^syncflow run: --workflow needs a value/);
  });
});
