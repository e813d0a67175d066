/**
 * CPU time of a PostgreSQL server running on this machine: its postmaster and every process it
 * started (backends, WAL writer, checkpointer, ...), read from /proc. The embedded PGlite does its
 * database work inside the syncflow server process, so the server's own CPU already holds it; an
 * external PostgreSQL does it in processes of its own, which a fair comparison has to add.
 *
 * Linux only; `undefined` when the server is not local or /proc cannot be read. The kernel counts in
 * clock ticks (10 ms at the usual 100 Hz), per process: a figure per request wants runs of
 * thousands of requests.
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

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * A reader of the PostgreSQL server's CPU time in µs (the postmaster, its live processes and those
 * that exited), or `undefined` when the server behind `url` is not a process of this machine.
 */
export async function postgresCpuReader(url: string): Promise<(() => number) | undefined> {
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
  // A backend of another machine (or container) has a pid that means nothing here.
  if (postmaster === undefined || !commandOf(postmaster).startsWith('postgres')) return undefined;
  const microsPerTick = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return () => {
    const main = processTimes(postmaster);
    if (main === undefined) throw new Error(`PostgreSQL's postmaster (pid ${postmaster}) has exited`);
    let ticks = main.own + main.children;
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const times = processTimes(pid);
      if (times?.ppid === postmaster) ticks += times.own;
    }
    return ticks * microsPerTick;
  };
}
