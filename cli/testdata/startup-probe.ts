/**
 * Runs one `syncflow` command line in this process and prints, as JSON on stdout, what starting it
 * cost: the packages it loaded, and (with PROBE_COUNT_AJV=1) how many Ajv instances and schema
 * compilations it made.
 * Spawned by cli/startup.test.ts as `node --import tsx cli/testdata/startup-probe.ts ARGS...`.
 */
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import type * as AjvModule from 'ajv';

const loaded = new Set<string>();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url: string) => loaded.add(url));
port1.unref();
// ESM loads are seen by a loader hook (they run off-thread); CommonJS ones by the require cache.
const hook = `
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, next) { port.postMessage(url); return next(url, context); }
`;
register(`data:text/javascript,${encodeURIComponent(hook)}`, {
  data: { port: port2 },
  transferList: [port2],
});

const require = createRequire(import.meta.url);
let ajvInstances = 0;
let compiles = 0;
// Counting Ajv work means loading ajv first: only when asked (PROBE_COUNT_AJV=1).
if (process.env.PROBE_COUNT_AJV) {
  const { Ajv } = require('ajv') as typeof AjvModule;
  const { addKeyword, compile } = Ajv.prototype;
  // Every Ajv constructor registers its vocabulary's keywords before anything else.
  Ajv.prototype.addKeyword = function (
    this: InstanceType<typeof Ajv>,
    ...args: Parameters<typeof addKeyword>
  ) {
    if (!(this as unknown as { counted?: boolean }).counted) {
      (this as unknown as { counted?: boolean }).counted = true;
      ajvInstances++;
    }
    return addKeyword.apply(this, args);
  } as typeof addKeyword;
  Ajv.prototype.compile = function (this: InstanceType<typeof Ajv>, ...args: Parameters<typeof compile>) {
    compiles++;
    return compile.apply(this, args);
  } as typeof compile;
}

const { main } = await import('../main.ts');
let output = '';
const code = await main(process.argv.slice(2), {
  stdout: { write: (text: string) => (output += text) },
  stderr: { write: (text: string) => (output += text) },
  cwd: process.cwd(),
});
await new Promise((resolve) => setTimeout(resolve, 50)); // let the last hook messages arrive
const packages = new Set<string>();
const files = new Set<string>();
for (const file of [...loaded, ...Object.keys(require.cache)]) {
  const match = /node_modules\/(((?:@[^/]+\/)?[^/]+)\/.*)$/.exec(decodeURIComponent(file));
  if (!match) continue;
  packages.add(match[2] as string);
  files.add(match[1] as string);
}
// Node's own bundled undici loads when a web global (fetch, Headers, ...) is first touched.
const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
const nodeUndici = moduleLoadList.some((name) => name.includes('internal/deps/undici'));
process.stdout.write(
  JSON.stringify({
    code,
    output,
    packages: [...packages].sort(),
    files: [...files].sort(),
    nodeUndici,
    ajvInstances,
    compiles,
  }),
);
