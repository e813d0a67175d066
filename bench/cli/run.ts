/**
 * Benchmark: how long the `syncflow` CLI takes to answer, measured beside `node -e 0` in the same
 * run. Commands: `validate` of one small file (a WorkflowTask and a one-step Workflow, with JSON
 * Schemas) and `run` of that workflow against a loopback upstream (a separate node:http process).
 * Paths: the compiled build (`node OUT/cli/bin.js`, what the image runs; built by hack/build.sh into
 * .cache/bench-cli at the start), the checkout entry `bin/syncflow.js` running the sources through
 * tsx (SYNCFLOW_SOURCES=1), and with --build-dist also `bin/syncflow.js` running a fresh dist/.
 * Targets: validate ≤ 250 ms and run ≤ 350 ms wall median (compiled, and bin/ with a fresh build).
 *
 * Timing: hyperfine when installed, else spawnSync timed with hrtime; every variant runs once per
 * round, round-robin, after 2 discarded warm-up rounds, so all see the same machine moments. Also
 * reports CPU time per run (the children's user + system time from /proc/self/stat), less
 * sensitive to other processes than wall time, and the modules each command loads (compiled).
 *
 * `--before DIR` also times another compiled build (e.g. hack/build.sh of an older commit, with a
 * node_modules beside it) under the same conditions. `--node PATH` runs the children on another
 * binary (e.g. the image's Node 24 from hack/node24.sh). The figures go to section `--section NAME`
 * (default `node<major>`) of the `--out` file; other sections are kept.
 *
 *   npx tsx bench/cli/run.ts [--runs 20] [--build-dist] [--before DIR] [--node PATH] [--out bench/results/cli.json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildState } from '../../bin/build-stamp.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const runs = Number(option('runs') ?? 20);
const out = option('out');
const buildDist = args.includes('--build-dist');
const before = option('before');
const node = option('node') ?? process.execPath;
const nodeVersion = spawnSync(node, ['--version']).stdout.toString().trim();
const section = option('section') ?? `node${nodeVersion.replace(/^v(\d+).*$/, '$1')}`;
const TARGETS_MS = { validate: 250, run: 350 } as const;

function build(dir: string): void {
  const result = spawnSync('bash', ['hack/build.sh', dir], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`hack/build.sh ${dir} failed`);
}

/** A loopback upstream in its own process, so that serving it is not charged to the CLI. */
async function startUpstream(): Promise<{ port: number; stop: () => void }> {
  const script = `const s = require('node:http').createServer((q, r) => { r.writeHead(200, { 'content-type': 'application/json' }); r.end('{"text":"hi"}'); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
  );
  return { port, stop: () => child.kill() };
}

const definitions = (port: number) => `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: hello}
spec:
  inputSchema: {type: object, required: [name], properties: {name: {type: string}}}
  outputSchema: {type: object, required: [text], properties: {text: {type: string}}}
  http: {method: GET, url: "http://127.0.0.1:${port}/hello/{{input.name}}"}
  timeout: 2s
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: greet}
spec:
  inputSchema: {type: object, required: [name], properties: {name: {type: string}}}
  tasks:
  - {id: hello, taskRef: {name: hello}, input: {name: "{{input.name}}"}}
  output: {greeting: "{{tasks.hello.output.text}}"}
`;

/** Children's CPU time so far (user + system of waited-for children), in ms. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  // Fields 16 and 17 of stat (cutime, cstime), counted from field 3 after the command name.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

interface Variant {
  name: string;
  command: 'baseline' | 'validate' | 'run';
  argv: string[];
  env?: Record<string, string>;
}

interface Figures {
  medianMs: number;
  p90Ms: number;
  minMs: number;
  cpuMsPerRun: number | undefined;
  runs: number;
  targetMs?: number;
  met?: boolean;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
const round = (ms: number) => Math.round(ms * 10) / 10;

function hyperfine(): boolean {
  return spawnSync('hyperfine', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Times every variant `runs` times, round-robin, with spawnSync. */
function measureBySpawn(variants: Variant[], cwd: string): Map<string, Figures> {
  const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const cpu = new Map<string, number>(variants.map((v) => [v.name, 0]));
  for (let r = -2; r < runs; r++) {
    for (const variant of variants) {
      const cpuBefore = childrenCpuMs();
      const start = process.hrtime.bigint();
      const result = spawnSync(node, variant.argv, {
        cwd,
        env: { ...process.env, ...variant.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.status !== 0)
        throw new Error(
          `${variant.name} exited ${result.status}: ${result.stderr.toString()}${result.stdout.toString()}`,
        );
      if (r < 0) continue;
      wall.get(variant.name)?.push(ms);
      cpu.set(variant.name, (cpu.get(variant.name) ?? 0) + childrenCpuMs() - cpuBefore);
    }
  }
  return new Map(
    variants.map((v) => {
      const sorted = [...(wall.get(v.name) ?? [])].sort((a, b) => a - b);
      return [
        v.name,
        {
          medianMs: round(percentile(sorted, 0.5)),
          p90Ms: round(percentile(sorted, 0.9)),
          minMs: round(sorted[0] as number),
          cpuMsPerRun: round((cpu.get(v.name) ?? 0) / runs),
          runs,
        },
      ];
    }),
  );
}

/** Times every variant with hyperfine (one invocation for all, so they share the machine's moments). */
function measureByHyperfine(variants: Variant[], cwd: string): Map<string, Figures> {
  const json = join(mkdtempSync(join(tmpdir(), 'syncflow-bench-cli-')), 'hyperfine.json');
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // -N runs without a shell: variables go through env(1).
  const commands = variants.map(
    (v) =>
      `${
        v.env
          ? `env ${Object.entries(v.env)
              .map(([k, val]) => `${k}=${val} `)
              .join('')}`
          : ''
      }${quote(node)} ${v.argv.map(quote).join(' ')}`,
  );
  const result = spawnSync(
    'hyperfine',
    ['-N', '--warmup', '2', '--runs', String(runs), '--export-json', json, ...commands],
    { cwd, stdio: ['ignore', 'inherit', 'inherit'], shell: false },
  );
  if (result.status !== 0) throw new Error('hyperfine failed');
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    results: Array<{ median: number; min: number; times: number[]; user: number; system: number }>;
  };
  return new Map(
    variants.map((v, i) => {
      const r = report.results[i] as (typeof report.results)[number];
      const sorted = [...r.times].sort((a, b) => a - b);
      return [
        v.name,
        {
          medianMs: round(r.median * 1000),
          p90Ms: round(percentile(sorted, 0.9) * 1000),
          minMs: round(r.min * 1000),
          cpuMsPerRun: round((r.user + r.system) * 1000),
          runs,
        },
      ];
    }),
  );
}

/** Packages (and module counts) one compiled command loads, seen by a loader hook and the require cache. */
function modulesLoaded(
  compiledBin: string,
  argv: string[],
  cwd: string,
): { total: number; byPackage: Record<string, number> } {
  const counter = fileURLToPath(new URL('module-count.mjs', import.meta.url));
  const result = spawnSync(node, ['--import', counter, compiledBin, ...argv], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const files = result.stderr
    .toString()
    .split('\n')
    .filter((line) => line.startsWith('module-count: '))
    .map((line) => line.slice('module-count: '.length));
  const byPackage: Record<string, number> = {};
  for (const file of new Set(files)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    const name = match ? (match[1] as string) : file.startsWith('node:') ? '(node built-ins)' : '(syncflow)';
    byPackage[name] = (byPackage[name] ?? 0) + 1;
  }
  return {
    total: new Set(files).size,
    byPackage: Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1])),
  };
}

const work = mkdtempSync(join(tmpdir(), 'syncflow-bench-cli-'));
const compiledDir = join(repo, '.cache/bench-cli');
const load = { start: loadavg().map((l) => round(l)) };
build(compiledDir);
if (buildDist) build('dist');
const upstream = await startUpstream();
try {
  writeFileSync(join(work, 'greet.yaml'), definitions(upstream.port));
  const compiledBin = join(compiledDir, 'cli/bin.js');
  const checkoutBin = join(repo, 'bin/syncflow.js');
  const commands = {
    validate: ['validate', 'greet.yaml'],
    run: ['run', '-f', 'greet.yaml', '-w', 'greet', '-i', '{"name":"ada"}', '-o', 'json'],
  };
  const distState = buildState(repo);
  const variants: Variant[] = [{ name: 'node -e 0', command: 'baseline', argv: ['-e', '0'] }];
  for (const [command, argv] of Object.entries(commands) as Array<['validate' | 'run', string[]]>) {
    if (before)
      variants.push({
        name: `${command} before: compiled build in ${before}`,
        command,
        argv: [join(before, 'cli/bin.js'), ...argv],
      });
    variants.push({
      name: `${command} compiled (node .cache/bench-cli/cli/bin.js)`,
      command,
      argv: [compiledBin, ...argv],
    });
    if (distState === 'fresh')
      variants.push({
        name: `${command} bin/syncflow.js (fresh dist/)`,
        command,
        argv: [checkoutBin, ...argv],
      });
    variants.push({
      name: `${command} bin/syncflow.js (sources through tsx)`,
      command,
      argv: [checkoutBin, ...argv],
      env: { SYNCFLOW_SOURCES: '1' },
    });
  }
  const tool = hyperfine() ? 'hyperfine' : 'spawnSync + hrtime';
  console.error(`timing ${variants.length} variants x ${runs} runs with ${tool}; dist/ is ${distState}`);
  const figures = tool === 'hyperfine' ? measureByHyperfine(variants, work) : measureBySpawn(variants, work);
  const results: Record<string, Figures> = {};
  for (const variant of variants) {
    const f = figures.get(variant.name) as Figures;
    const target =
      variant.command === 'baseline' || variant.name.includes('tsx') || variant.name.includes('before')
        ? undefined
        : TARGETS_MS[variant.command];
    results[variant.name] = target === undefined ? f : { ...f, targetMs: target, met: f.medianMs <= target };
    console.error(
      `${variant.name.padEnd(64)} median ${String(f.medianMs).padStart(7)} ms  p90 ${String(f.p90Ms).padStart(7)} ms  cpu ${f.cpuMsPerRun} ms${target ? `  (target ≤ ${target}: ${f.medianMs <= target ? 'met' : 'NOT met'})` : ''}`,
    );
  }
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: round(totalmem() / 2 ** 30),
      node: nodeVersion,
      loadAverage: { ...load, end: loadavg().map((l) => round(l)) },
      note: 'a shared 2-core VM: other engineers were building and testing on it at the same time',
    },
    method: `${tool}; ${runs} runs per variant after 2 warm-up rounds, variants interleaved; wall time from spawn to exit; cpu = children's user+system time`,
    distState,
    results,
    modules: {
      validate: modulesLoaded(compiledBin, commands.validate, work),
      run: modulesLoaded(compiledBin, commands.run, work),
    },
  };
  if (out) {
    let file: { sections?: Record<string, unknown> } = {};
    try {
      file = JSON.parse(readFileSync(out, 'utf8')) as typeof file;
    } catch {
      // a new file
    }
    const merged = {
      benchmark:
        'CLI start-up: validate of one small file, run of a one-task workflow, beside node -e 0 (bench/cli/run.ts)',
      targetsMs: TARGETS_MS,
      sections: { ...file.sections, [section]: report },
    };
    writeFileSync(out, `${JSON.stringify(merged, null, 2)}\n`);
    console.error(`wrote ${out}`);
  } else {
    console.log(JSON.stringify(report, null, 2));
  }
} finally {
  upstream.stop();
  rmSync(work, { recursive: true, force: true });
}
