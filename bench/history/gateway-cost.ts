/**
 * What recording the history costs the direct run gateway: server CPU per request of the rows
 * `gateway` and `gateway without history` of the gateway ablation (bench/api/gateway.ts: fan
 * a → (b, c), 0 ms upstreams, 64 connections, compiled server), interleaved `--repeat` times in one
 * run, on PostgreSQL (TEST_DATABASE_URL) and on the embedded PGlite default. The cost is the
 * median of the runs' differences (the machine is shared: rows move by tens of µs from run to run),
 * with the difference of the rows' medians next to it. An external PostgreSQL does its part in
 * processes of its own: when it runs on this machine, their CPU per request is read from /proc
 * (bench/api/postgres-processes.ts) and `historyWithDatabaseCpuUsPerRequest` adds it, the figure
 * to compare with PGlite's (whose database work is inside the server process). Writes the section
 * `gatewayHistoryCost` of the history results.
 *
 * With `--against DIR` (another checkout of the repository with node_modules, e.g. the commit
 * before a change), the same ablation of that checkout runs after each of this one's, so a change is
 * compared with its predecessor in one run.
 *
 *   hack/postgres.sh run npx tsx bench/history/gateway-cost.ts [--repeat 5] [--requests 3000]
 *     [--against DIR [--against-commit SHA]] [--out bench/results/history.json]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, machine, median } from '../api/measure.ts';

const repeat = Number(flag('--repeat') ?? 5);
const requests = Number(flag('--requests') ?? 3_000);
const out = flag('--out');
const against = flag('--against');
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const ROWS = ['gateway', 'gateway without history'] as const;

interface Row {
  serverCpuUsPerRequest: number;
  cpuPerRun?: number[];
  databaseCpuUsPerRequest?: number;
  databaseCpuPerRun?: number[];
}

/** The median of the runs' differences `on − off` (a run's two rows ran back to back). */
function medianDifference(on: number[], off: number[]): number {
  return median(on.flatMap((x, i) => (off[i] === undefined ? [] : [x - off[i]])));
}

/**
 * One ablation of the two rows against a database (a PostgreSQL URL, or the embedded default), by
 * the checkout in `root`.
 */
function ablation(databaseUrl: string | undefined, root = repoRoot): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'syncflow-history-gateway-'));
  try {
    const file = join(dir, 'ablation.json');
    const env = { ...process.env };
    delete env.TEST_DATABASE_URL;
    delete env.DATABASE_URL;
    const database = databaseUrl ? ['--database-url', databaseUrl] : [];
    execFileSync(
      'npx',
      [
        'tsx',
        'bench/api/gateway.ts',
        '--ablation',
        '--variants',
        ROWS.join(','),
        '--repeat',
        String(repeat),
        '--requests',
        String(requests),
        ...database,
        '--out',
        file,
      ],
      { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const rows = (
      JSON.parse(readFileSync(file, 'utf8')) as { gatewayAblation: { rows: Record<string, Row> } }
    ).gatewayAblation.rows;
    const on = rows[ROWS[0]] as Row;
    const off = rows[ROWS[1]] as Row;
    const onRuns = on.cpuPerRun ?? [on.serverCpuUsPerRequest];
    const offRuns = off.cpuPerRun ?? [off.serverCpuUsPerRequest];
    const pairs = onRuns.flatMap((cpu, i) => (offRuns[i] === undefined ? [] : [cpu - offRuns[i]]));
    // An external PostgreSQL works in processes of its own: its CPU counts with the server's.
    const withDatabase = (row: Row, runs: number[]) => {
      const database = row.databaseCpuPerRun ?? [row.databaseCpuUsPerRequest ?? 0];
      return runs.flatMap((cpu, i) => (database[i] === undefined ? [] : [cpu + database[i]]));
    };
    return {
      gatewayCpuUsPerRequest: on.serverCpuUsPerRequest,
      withoutHistoryCpuUsPerRequest: off.serverCpuUsPerRequest,
      // The median of the runs' differences: a run's two rows ran back to back, so it moves less.
      historyCpuUsPerRequest: medianDifference(onRuns, offRuns),
      historyCpuUsPerRequestFromMedians: on.serverCpuUsPerRequest - off.serverCpuUsPerRequest,
      historyCpuUsPerRun: pairs,
      gatewayCpuPerRun: on.cpuPerRun,
      withoutHistoryCpuPerRun: off.cpuPerRun,
      ...(on.databaseCpuUsPerRequest !== undefined
        ? {
            databaseCpuUsPerRequest: on.databaseCpuUsPerRequest,
            databaseCpuPerRun: on.databaseCpuPerRun,
            withoutHistoryDatabaseCpuPerRun: off.databaseCpuPerRun,
            historyWithDatabaseCpuUsPerRequest: medianDifference(
              withDatabase(on, onRuns),
              withDatabase(off, offRuns),
            ),
          }
        : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const before = loadavg();
const url = process.env.TEST_DATABASE_URL;
/** The checkout's commit, for the record (`--against-commit` names it for an exported tree). */
function commitOf(root: string, given?: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
  } catch {
    return given ?? 'unknown (not a git checkout)';
  }
}

const date = new Date().toISOString();
const postgresql = url ? ablation(url) : undefined;
const earlierPostgresql = url && against ? ablation(url, against) : undefined;
const embeddedPglite = ablation(undefined);
const earlierPglite = against ? ablation(undefined, against) : undefined;
const result = {
  commit: commitOf(repoRoot),
  date,
  machine: machine(before, 'shared 2-core VM; other engineers build and benchmark concurrently'),
  workload: `fan a → (b, c), 0 ms upstreams, concurrency 64, ${requests} requests per row, ${repeat} interleaved runs, server CPU per request (process.cpuUsage of the server), and PostgreSQL's processes' CPU per request (/proc)`,
  ...(postgresql ? { postgresql } : {}),
  embeddedPglite,
  ...(against
    ? {
        against: {
          commit: commitOf(against, flag('--against-commit')),
          ...(earlierPostgresql ? { postgresql: earlierPostgresql } : {}),
          embeddedPglite: earlierPglite,
        },
      }
    : {}),
};
const text = JSON.stringify(result, null, 2);
console.log(text);
if (out) {
  let doc: Record<string, unknown> = {};
  try {
    doc = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
  } catch {
    // A new results file.
  }
  doc.gatewayHistoryCost = result;
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
}
