/**
 * CPU time and memory of a PostgreSQL server running on this machine: its postmaster and every
 * process it started (backends, WAL writer, checkpointer, ...), read from /proc. The embedded PGlite
 * does its database work inside the syncflow server process, so the server's own figures already
 * hold it; an external PostgreSQL works in processes of its own, which a fair comparison has to add.
 *
 * Linux only; `undefined` when the server is not local or /proc cannot be read. The kernel counts CPU
 * in clock ticks (10 ms at the usual 100 Hz), per process: a figure per request wants runs of
 * thousands of requests. Memory is the proportional set size (PSS): pages the processes share, such
 * as shared_buffers, count once in the sum. Every process of the server counts, so the figures are
 * the benchmark's only when nothing else uses that server (as with `hack/postgres.sh run`'s
 * throwaway PostgreSQL).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

/** utime, stime, cutime and cstime (waited-for children) and the parent of a process, in ticks. */
interface ProcessTimes {
  ppid: number;
  own: number;
  children: number;
}

function processTimes(pid: number): ProcessTimes | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited, or not Linux
  }
  // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const tick = (i: number) => Number(fields[i] ?? NaN);
  return { ppid: tick(1), own: tick(11) + tick(12), children: tick(13) + tick(14) };
}

/** A process's proportional set size in kB; `undefined` when it has exited (any other error throws). */
function pssKb(pid: number): number | undefined {
  let rollup: string;
  try {
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ESRCH'
    )
      return undefined;
    throw error;
  }
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The PostgreSQL server's processes, as /proc shows them now. */
export interface PostgresProcesses {
  /** CPU time in µs of the postmaster, its live processes and those that exited. */
  cpuMicros(): number;
  /** The processes' summed proportional set size, in MB. */
  pssMB(): number;
}

/**
 * The PostgreSQL server behind `url` when it is a process of this machine (found through the
 * parent of the backend that answers a connection), else `undefined`.
 */
export async function postgresProcesses(url: string): Promise<PostgresProcesses | undefined> {
  const client = new pg.Client({ connectionString: url });
  let postmaster: number | undefined;
  try {
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Read while the backend lives: it exits when the connection ends.
    postmaster = processTimes(Number(rows[0]?.pid))?.ppid;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
  // A backend of another machine (or container) has a pid that means nothing here; memory that
  // cannot be read (another user's processes without the right to) must not read as 0 MB.
  if (postmaster === undefined || !commandOf(postmaster).startsWith('postgres')) return undefined;
  try {
    pssKb(postmaster);
  } catch {
    return undefined;
  }
  const main = postmaster;
  const microsPerTick = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const children = (): number[] =>
    readdirSync('/proc')
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && processTimes(pid)?.ppid === main);
  return {
    cpuMicros() {
      const times = processTimes(main);
      if (times === undefined) throw new Error(`PostgreSQL's postmaster (pid ${main}) has exited`);
      let ticks = times.own + times.children;
      for (const pid of children()) ticks += processTimes(pid)?.own ?? 0;
      return ticks * microsPerTick;
    },
    pssMB() {
      let kb = 0;
      for (const pid of [main, ...children()]) kb += pssKb(pid) ?? 0;
      return Math.round(kb / 1024);
    },
  };
}
