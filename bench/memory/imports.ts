/**
 * What each package on the server's module graph costs in memory at import: the packages a compiled
 * build loads for `syncflow server` (found with a loader hook), and for each the RSS of a fresh
 * Node that imports only that package, minus a bare Node's (medians of 3). Packages share Node's
 * built-ins (http, tls, streams), so the figures overlap and do not add up; they rank the costs.
 *
 *   npx tsx bench/memory/imports.ts --dist dist [--extra @kubernetes/client-node] [--out bench/results/memory.json]
 *
 * With --out the figures become the `imports` section of that file (other sections kept).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const args = process.argv.slice(2);
const all = (name: string): string[] =>
  args.flatMap((a, i) => (a === name && args[i + 1] ? [args[i + 1]!] : []));
const dist = resolve(all('--dist')[0] ?? 'dist');
const out = all('--out')[0];
const extra = all('--extra');

const REPORTER = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  "export async function load(url, context, next) { process.stderr.write('loaded: ' + url + '\\\\n'); return next(url, context); }"
));`;

/** The graph of the server command: the compiled server command and server module with what they import. */
const SERVER_GRAPH = `await import(${JSON.stringify(`file://${join(dist, 'cli/server.js')}`)}); await import(${JSON.stringify(`file://${join(dist, 'apiserver/server.js')}`)});`;

/** RSS in MB of a fresh Node after `script` and a full collection. */
async function rssAfter(script: string): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    [
      '--expose-gc',
      '--input-type=module',
      '-e',
      `${script}; globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); globalThis.gc(); console.log(process.memoryUsage().rss);`,
    ],
    { cwd: dirname(dist), maxBuffer: 16 * 1024 * 1024 },
  );
  return Number(stdout.trim()) / 1024 / 1024;
}

const median = async (script: string): Promise<number> => {
  const values: number[] = [];
  for (let i = 0; i < 3; i++) values.push(await rssAfter(script));
  return values.sort((a, b) => a - b)[1]!;
};

const { stderr } = await run(
  process.execPath,
  [
    '--import',
    `data:text/javascript,${encodeURIComponent(REPORTER)}`,
    '--input-type=module',
    '-e',
    SERVER_GRAPH,
  ],
  { cwd: dirname(dist), maxBuffer: 64 * 1024 * 1024 },
);
const modules = new Map<string, number>();
for (const line of stderr.split('\n')) {
  const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
  if (line.startsWith('loaded: ') && match) modules.set(match[1]!, (modules.get(match[1]!) ?? 0) + 1);
}
const direct = JSON.parse(await readFile(join(dirname(dist), 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const packages = [...modules.keys()].filter((p) => p in direct.dependencies).concat(extra);

const bare = await median('0');
const graph = await median(SERVER_GRAPH);
const costs: Record<string, { rssMB: number; modules: number }> = {};
for (const name of packages) {
  const rss = await median(`await import(${JSON.stringify(name)})`);
  costs[name] = { rssMB: Math.round((rss - bare) * 10) / 10, modules: modules.get(name) ?? 0 };
  console.error(`${name}: +${costs[name].rssMB} MB (${costs[name].modules} modules on the server graph)`);
}
const section = {
  what: 'RSS over a bare Node of importing one package alone (fresh process, after gc, median of 3; packages share Node built-ins, so the figures overlap), and of the server command graph as a whole; modules: files of the package the loader hook saw on the server graph (a CommonJS package shows its entry only)',
  node: process.version,
  bareNodeMB: Math.round(bare),
  serverGraphMB: Math.round(graph),
  packages: Object.fromEntries(Object.entries(costs).sort(([, a], [, b]) => b.rssMB - a.rssMB)),
};
console.log(JSON.stringify(section, null, 2));
if (out) {
  const current = JSON.parse(await readFile(out, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  await writeFile(out, `${JSON.stringify({ ...current, imports: section }, null, 2)}\n`);
}
