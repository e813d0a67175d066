/**
 * Load drivers and statistics of the API benchmarks: bounded closed loops (a fixed number of
 * requests shared by N workers), paired so that two targets see the same machine at the same moments.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';

/** The value after `name` on this process's command line (`--runs 3` gives `3`), if it is there. */
export function flag(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Sends one request; resolves when its response is read, rejects on any error or unexpected status. */
export type Shot = () => Promise<unknown>;

/** Outcome of a loop: latencies in ms of the successful shots, the errors, and the wall time. */
export interface LoopResult {
  latencies: number[];
  errors: number;
  firstError?: string;
  seconds: number;
}

/** Closed loop: `concurrency` workers send `total` requests in all. */
export async function closedLoop(shot: Shot, concurrency: number, total: number): Promise<LoopResult> {
  const result: LoopResult = { latencies: [], errors: 0, seconds: 0 };
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      try {
        await shot();
        result.latencies.push(performance.now() - t0);
      } catch (error) {
        result.errors++;
        result.firstError ??= String((error as Error).message ?? error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/**
 * Paired closed loop: every worker alternates the two targets (half the workers start with each), so
 * load from other processes hits both alike and cancels out of the difference.
 */
export async function pairedLoop(
  a: Shot,
  b: Shot,
  concurrency: number,
  total: number,
): Promise<{ a: LoopResult; b: LoopResult }> {
  const out = {
    a: { latencies: [], errors: 0, seconds: 0 } as LoopResult,
    b: { latencies: [], errors: 0, seconds: 0 } as LoopResult,
  };
  let next = 0;
  const started = performance.now();
  const worker = async (first: number) => {
    let turn = first;
    while (next < total) {
      next++;
      const [shot, into] = turn++ % 2 === 0 ? [a, out.a] : [b, out.b];
      const t0 = performance.now();
      try {
        await shot();
        into.latencies.push(performance.now() - t0);
      } catch (error) {
        into.errors++;
        into.firstError ??= String((error as Error).message ?? error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  out.a.seconds = out.b.seconds = (performance.now() - started) / 1000;
  return out;
}

/** The p-th percentile (nearest rank) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** p50/p90/p99 in ms, rounded. */
export function summary(latencies: number[]): { p50: number; p90: number; p99: number } {
  return {
    p50: round3(percentile(latencies, 50)),
    p90: round3(percentile(latencies, 90)),
    p99: round3(percentile(latencies, 99)),
  };
}

/** The machine a result was measured on. */
export function machine(loadBefore: number[], note: string): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    loadavgBefore: loadBefore.map(round3),
    loadavgAfter: loadavg().map(round3),
    note,
  };
}

/**
 * Writes one benchmark's result as `section` of a shared results file (bench/results/api.json holds
 * `gateway` and `aggregated`), keeping the other sections.
 */
export async function writeSection(file: string, section: string, result: unknown): Promise<void> {
  let doc: Record<string, unknown> = {};
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // First section written.
  }
  doc.benchmark = 'api';
  doc[section] = result;
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
}

/** The options every benchmark takes: `--quick` for a shorter run, `--out FILE` for where its result goes. */
export function benchOptions(args: string[] = process.argv.slice(2)): {
  quick: boolean;
  out: string | undefined;
} {
  const at = args.indexOf('--out');
  return { quick: args.includes('--quick'), out: at >= 0 ? args[at + 1] : undefined };
}

/** Prints a benchmark's result as JSON and, given `out`, writes the same text there. */
export async function reportResult(result: unknown, out: string | undefined): Promise<void> {
  const text = `${JSON.stringify(result, null, 2)}\n`;
  if (out) await writeFile(out, text);
  process.stdout.write(text);
}

/** CPU µs per execution of `shot` in this process over `total` executions at concurrency 64. */
export async function cpuPerExecution(shot: Shot, total: number): Promise<number> {
  const before = process.cpuUsage();
  const result = await closedLoop(shot, 64, total);
  if (result.errors > 0) throw new Error(`${result.errors} executions failed: ${result.firstError}`);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / total;
}

/** The middle value of a list (the upper one of an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * The next message of `type` from a child process or cluster worker; rejects if it exits first.
 */
export function replyOf<T>(
  from: {
    on(event: 'message', l: (m: { type: string } & T) => void): unknown;
    off(event: 'message', l: (m: { type: string } & T) => void): unknown;
    once(event: 'exit', l: (code: number | null) => void): unknown;
    off(event: 'exit', l: (code: number | null) => void): unknown;
  },
  type: string,
  who = 'gateway server',
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: { type: string } & T) => {
      if (message.type !== type) return;
      from.off('message', onMessage);
      from.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => reject(new Error(`${who} exited with ${code} before '${type}'`));
    from.on('message', onMessage);
    from.once('exit', onExit);
  });
}
