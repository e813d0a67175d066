import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const repo = new URL('../../', import.meta.url).pathname;

/**
 * bin/syncflow.js in a scratch tree whose sources print `sources` and whose build prints
 * `compiled`, so each case shows which one ran.
 */
describe('bin/syncflow.js', function () {
  this.timeout(30_000);
  let root: string;
  // Coverage (c8) sets NODE_V8_COVERAGE, which makes the launcher pick the sources. Node copies it
  // into a child's environment unless the environment given has the key, so it is given, empty.
  const env = { ...process.env, NODE_V8_COVERAGE: '' };

  async function launch(
    extraEnv: Record<string, string> = {},
  ): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await exec(process.execPath, [join(root, 'bin/syncflow.js')], {
        env: { ...env, ...extraEnv },
      });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const failed = error as { stdout: string; stderr: string; code: number };
      return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
    }
  }
  const stamp = async () =>
    writeFileSync(
      join(root, 'dist/build-stamp.json'),
      (await exec(process.execPath, [join(root, 'bin/build-stamp.js'), 'print'], { env })).stdout,
    );

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'syncflow-bin-'));
    cpSync(join(repo, 'bin'), join(root, 'bin'), { recursive: true });
    symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
    writeFileSync(join(root, 'package.json'), '{"type": "module"}\n');
    writeFileSync(
      join(root, 'tsconfig.build.json'),
      '{"include": ["cli"], "exclude": ["node_modules", "**/*.test.ts", "**/testdata"]}\n',
    );
    mkdirSync(join(root, 'cli/testdata'), { recursive: true });
    writeFileSync(join(root, 'cli/bin.ts'), "const from: string = 'sources';\nprocess.stdout.write(from);\n");
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    writeFileSync(join(root, 'dist/cli/bin.js'), "process.stdout.write('compiled');\n");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('runs the sources through tsx when there is no build', async () => {
    rmSync(join(root, 'dist'), { recursive: true });
    expect(await launch()).to.deep.equal({ stdout: 'sources', stderr: '', code: 0 });
  });

  it('runs the compiled build when it was made from the sources as they are', async () => {
    await stamp();
    expect(await launch()).to.deep.equal({ stdout: 'compiled', stderr: '', code: 0 });
  });

  it('never runs a stale build silently: an edited source runs from the sources, with a warning', async () => {
    await stamp();
    writeFileSync(
      join(root, 'cli/bin.ts'),
      "const from: string = 'sources';\nprocess.stdout.write(from); // edited\n",
    );
    const result = await launch();
    expect(result.stdout).to.equal('sources');
    expect(result.stderr).to.match(/dist\/ was built from other sources.*npm run build/);
  });

  it('a build without a stamp is stale', async () => {
    const result = await launch();
    expect(result.stdout).to.equal('sources');
    expect(result.stderr).to.match(/built from other sources/);
  });

  it('an added or deleted source makes the build stale', async () => {
    await stamp();
    writeFileSync(join(root, 'cli/extra.ts'), 'export {};\n');
    expect((await launch()).stdout).to.equal('sources');
    await stamp();
    rmSync(join(root, 'cli/extra.ts'));
    expect((await launch()).stdout).to.equal('sources');
  });

  it('tests, test data and docs do not make the build stale', async () => {
    await stamp();
    writeFileSync(join(root, 'cli/bin.test.ts'), 'export {};\n');
    writeFileSync(join(root, 'cli/testdata/x.yaml'), 'a: 1\n');
    writeFileSync(join(root, 'cli/README.md'), '# cli\n');
    expect((await launch()).stdout).to.equal('compiled');
  });

  it('runs the sources under coverage, which measures them, and when SYNCFLOW_SOURCES=1 asks for them', async () => {
    await stamp();
    expect(await launch({ NODE_V8_COVERAGE: join(root, 'coverage') })).to.deep.equal({
      stdout: 'sources',
      stderr: '',
      code: 0,
    });
    expect(await launch({ SYNCFLOW_SOURCES: '1' })).to.deep.equal({ stdout: 'sources', stderr: '', code: 0 });
  });

  it('without a fresh build and without tsx, says what to do and exits 2', async () => {
    rmSync(join(root, 'node_modules'));
    const result = await launch();
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(
      /tsx \(a development dependency\) is not installed: run `npm install` and `npm run build`/,
    );
  });
});
