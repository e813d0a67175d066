import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));

/** A loader hook that reports every module URL the process loads, one `loaded: URL` line on stderr. */
const REPORTER = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  "export async function load(url, context, next) { process.stderr.write('loaded: ' + url + '\\\\n'); return next(url, context); }"
));`;

/** Every module URL loaded by importing `modules` (TypeScript sources, through tsx). */
async function loadedBy(modules: string[]): Promise<string[]> {
  const script = modules.map((m) => `await import(${JSON.stringify(`./${m}`)});`).join('\n');
  const { stderr } = await run(
    process.execPath,
    [
      '--import',
      'tsx/esm',
      '--import',
      `data:text/javascript,${encodeURIComponent(REPORTER)}`,
      '--input-type=module',
      '-e',
      script,
    ],
    { cwd: repo, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('loaded: '))
    .map((line) => line.slice('loaded: '.length));
}

const CLIENT_NODE = '/node_modules/@kubernetes/client-node/';

describe("the server's module graph", function () {
  this.timeout(120_000);

  it('does not load @kubernetes/client-node (its generated models cost ~75 MB of memory)', async () => {
    // The modules `syncflow server` loads before it serves: the command, the server and what the
    // server imports on its own (workers, logging, options).
    const loaded = await loadedBy([
      'cli/server.ts',
      'apiserver/server.ts',
      'apiserver/options.ts',
      'apiserver/logging.ts',
      'apiserver/workers.ts',
    ]);
    expect(loaded.some((url) => url.includes('/apiserver/server.ts'))).to.equal(true);
    expect(loaded.filter((url) => url.includes(CLIENT_NODE))).to.deep.equal([]);
  });

  it('sees client-node where it is still used (the local console command), so the check can fail', async () => {
    const loaded = await loadedBy(['cli/console.ts']);
    expect(loaded.some((url) => url.includes(CLIENT_NODE))).to.equal(true);
  });
});
