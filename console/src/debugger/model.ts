/**
 * What the debugger pages compute from a recorded execution, without drawing anything: its timeline
 * (every attempt's start and end, retries, finishes and skips, from the task records), each task's
 * state at an instant of it, the values that had flowed along each edge by then, the template
 * resolution of a task (definition → recorded input), the critical path, and the breakpoints a
 * person keeps per workflow.
 */
import type { Execution, TaskStatus } from '../api/types.ts';
import type { GraphEdge } from '../graph/model.ts';

/** A task's state at an instant of a recorded run, as the time-travel graph shows it. */
export type InstantState = 'pending' | 'running' | 'retrying' | 'done' | 'failed' | 'skipped' | 'cancelled';

/** One thing that happened to one task. */
export interface TimelineEvent {
  /** Milliseconds since the epoch. */
  at: number;
  task: string;
  kind: 'attempt-start' | 'attempt-end' | 'finished' | 'skipped';
  /** 1 for the first attempt. */
  attempt?: number;
  /** The state the task shows from this event on. */
  state: InstantState;
  /** One line for people: `attempt 1 failed: HTTP 503 HTTPError`. */
  detail: string;
}

/** Attempt log entries as the record keeps them. */
interface AttemptRecord {
  attempt: number;
  startTime: string;
  durationMs: number;
  httpStatus?: number;
  reason?: string;
  error?: string;
}

/** A task record with the fields time travel reads (older records lack some). */
export type RecordedTask = TaskStatus & {
  attemptLog?: AttemptRecord[];
  input?: unknown;
  request?: unknown;
  substituted?: boolean;
};

const FINAL_STATE: Record<string, InstantState> = {
  Succeeded: 'done',
  Failed: 'failed',
  Skipped: 'skipped',
  Cancelled: 'cancelled',
};

/** Events that end something sort before events that start something at the same instant. */
const KIND_ORDER: Record<TimelineEvent['kind'], number> = {
  'attempt-end': 0,
  finished: 1,
  skipped: 2,
  'attempt-start': 3,
};

function time(text: string | undefined): number | undefined {
  const value = Date.parse(text ?? '');
  return Number.isNaN(value) ? undefined : value;
}

function failure(a: AttemptRecord): string {
  return [a.httpStatus ? `HTTP ${a.httpStatus}` : '', a.reason ?? ''].filter(Boolean).join(' ') || 'failed';
}

/** Every event of a recorded execution in time order (ties: ends before starts, then task order). */
export function timelineOf(execution: Execution, edges: readonly GraphEdge[]): TimelineEvent[] {
  const tasks = (execution.status?.tasks ?? []) as RecordedTask[];
  const start = time(execution.status?.startTime) ?? 0;
  const end = time(execution.status?.completionTime) ?? start;
  const events: TimelineEvent[] = [];
  const finishedAt = new Map<string, number>();
  const pendingSkips: RecordedTask[] = [];
  for (const task of tasks) {
    const final = FINAL_STATE[task.phase] ?? 'done';
    const log = task.attemptLog ?? [];
    log.forEach((a, i) => {
      const began = time(a.startTime) ?? start;
      events.push({
        at: began,
        task: task.id,
        kind: 'attempt-start',
        attempt: a.attempt,
        state: 'running',
        detail: `attempt ${a.attempt} started`,
      });
      if (i < log.length - 1)
        events.push({
          at: began + a.durationMs,
          task: task.id,
          kind: 'attempt-end',
          attempt: a.attempt,
          state: 'retrying',
          detail: `attempt ${a.attempt} failed: ${failure(a)}; retrying`,
        });
    });
    const began = time(task.startTime);
    if (!log.length && began !== undefined)
      events.push({
        at: began,
        task: task.id,
        kind: 'attempt-start',
        state: 'running',
        detail: task.substituted ? 'paused, then skipped by the debugger' : 'started',
      });
    const ended = time(task.completionTime);
    if (ended === undefined && began === undefined && !log.length) {
      if (final === 'skipped') pendingSkips.push(task);
      else
        events.push({
          at: end,
          task: task.id,
          kind: 'finished',
          state: final,
          detail: task.phase.toLowerCase(),
        });
      continue;
    }
    const at = ended ?? end;
    finishedAt.set(task.id, at);
    events.push({ at, task: task.id, kind: 'finished', state: final, detail: finishDetail(task) });
  }
  // A skipped task has no times: it was skipped when the last of its dependencies ended.
  for (const task of pendingSkips) {
    const deps = edges.filter((e) => e.to === task.id).map((e) => finishedAt.get(e.from) ?? start);
    const at = deps.length ? Math.max(...deps) : start;
    finishedAt.set(task.id, at);
    events.push({ at, task: task.id, kind: 'skipped', state: 'skipped', detail: 'skipped' });
  }
  const order = new Map(tasks.map((t, i) => [t.id, i]));
  return events.sort(
    (a, b) =>
      a.at - b.at ||
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      (order.get(a.task) ?? 0) - (order.get(b.task) ?? 0),
  );
}

function finishDetail(task: RecordedTask): string {
  if (task.phase === 'Succeeded')
    return task.substituted ? 'succeeded with a substitute output (debugger skip)' : 'succeeded';
  if (task.error)
    return `${task.phase.toLowerCase()}: ${task.error.reason ?? ''} ${task.error.message ?? ''}`.trim();
  return task.phase.toLowerCase();
}

/** Each task's state once the events up to `index` (inclusive; -1: none yet) have happened. */
export function stateAt(
  taskIds: readonly string[],
  timeline: readonly TimelineEvent[],
  index: number,
): Record<string, InstantState> {
  const states: Record<string, InstantState> = Object.fromEntries(taskIds.map((id) => [id, 'pending']));
  for (let i = 0; i <= index && i < timeline.length; i++) {
    const event = timeline[i] as TimelineEvent;
    states[event.task] = event.state;
  }
  return states;
}

/** `tasks.<from>.output…` paths a templated value reads, per producing task. */
export function outputReferences(value: unknown): Map<string, string[]> {
  const refs = new Map<string, string[]>();
  const text = JSON.stringify(value ?? null);
  for (const m of text.matchAll(/tasks\.([A-Za-z0-9_-]+)\.output((?:\.[A-Za-z0-9_-]+|\[\d+\])*)/g)) {
    const list = refs.get(m[1] as string) ?? [];
    const path = (m[2] ?? '').replace(/^\./, '');
    if (!list.includes(path)) list.push(path);
    refs.set(m[1] as string, list);
  }
  return refs;
}

/** The value at a dotted path (`a.b[0].c`; empty: the value itself). */
export function valueAt(value: unknown, path: string): unknown {
  if (!path) return value;
  let current = value;
  for (const part of path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** The value one edge carried: what the consumer's input reads from the producer's output. */
export interface EdgeValue {
  from: string;
  to: string;
  /** The producer's output as read by the consumer (one path: its value; several: by path). */
  value: unknown;
}

/** Edges whose producer had succeeded by the instant (into tasks not skipped), with the values the consumer reads. */
export function edgeValues(
  edges: readonly GraphEdge[],
  inputs: ReadonlyMap<string, unknown>,
  tasks: readonly RecordedTask[],
  states: Record<string, InstantState>,
): EdgeValue[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const out: EdgeValue[] = [];
  for (const edge of edges) {
    // A value flows once its producer is done, to a consumer that will read it (not a skipped one).
    if (states[edge.from] !== 'done' || states[edge.to] === 'skipped') continue;
    const paths = outputReferences(inputs.get(edge.to)).get(edge.from);
    if (!paths?.length) continue;
    const output = byId.get(edge.from)?.output;
    const value =
      paths.length === 1
        ? valueAt(output, paths[0] as string)
        : Object.fromEntries(paths.map((p) => [p || 'output', valueAt(output, p)]));
    out.push({ from: edge.from, to: edge.to, value });
  }
  return out;
}

/** A value as one short line: JSON, cut at `max` characters with `…`. */
export function shortValue(value: unknown, max = 40): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** One templated field of a task's input: the definition's text and the value recorded. */
export interface Resolution {
  /** `customerId`, `items[0].sku`; empty for an input that is one template. */
  field: string;
  template: unknown;
  resolved: unknown;
}

/**
 * The task's input template (from the definition the run used) next to the recorded input, field
 * by field. A recorded input that was too large to keep shows as `(not recorded: N bytes)`.
 */
export function templateResolution(template: unknown, recorded: unknown): Resolution[] {
  const rows: Resolution[] = [];
  const truncated =
    recorded !== null &&
    typeof recorded === 'object' &&
    (recorded as { truncated?: unknown }).truncated === true
      ? `(not recorded: ${(recorded as { bytes?: number }).bytes ?? '?'} bytes)`
      : undefined;
  const walk = (t: unknown, r: unknown, field: string) => {
    if (t !== null && typeof t === 'object' && !Array.isArray(t)) {
      for (const [key, sub] of Object.entries(t))
        walk(sub, truncated ?? valueAt(r, key), field ? `${field}.${key}` : key);
    } else if (Array.isArray(t)) {
      t.forEach((sub, i) => walk(sub, truncated ?? (Array.isArray(r) ? r[i] : undefined), `${field}[${i}]`));
    } else rows.push({ field, template: t, resolved: truncated ?? r });
  };
  walk(template, recorded, '');
  return rows;
}

/** The path that decided the duration: from the task that ended last back through the latest dependency. */
export function criticalPath(
  tasks: readonly RecordedTask[],
  edges: readonly GraphEdge[],
): { tasks: string[]; edges: string[] } {
  const ends = new Map<string, number>();
  for (const t of tasks) {
    const end = time(t.completionTime);
    if (end !== undefined && t.phase !== 'Skipped') ends.set(t.id, end);
  }
  let last: string | undefined;
  for (const [id, end] of ends) if (last === undefined || end > (ends.get(last) as number)) last = id;
  const path: string[] = [];
  const pathEdges: string[] = [];
  const seen = new Set<string>();
  while (last !== undefined && !seen.has(last)) {
    seen.add(last);
    path.unshift(last);
    let previous: string | undefined;
    for (const e of edges)
      if (
        e.to === last &&
        ends.has(e.from) &&
        (previous === undefined || (ends.get(e.from) as number) > (ends.get(previous) as number))
      )
        previous = e.from;
    if (previous !== undefined) pathEdges.unshift(edgeKey(previous, last));
    last = previous;
  }
  return { tasks: path, edges: pathEdges };
}

/** The key of an edge in the graph's edge overlays. */
export function edgeKey(from: string, to: string): string {
  return `${from}->${to}`;
}

/** Breakpoints kept for a workflow: every task, or some. */
export interface Breakpoints {
  every: boolean;
  tasks: string[];
}

/** Where the browser keeps something (`localStorage`). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function breakpointsKey(ns: string, workflow: string): string {
  return `syncflow-debugger-breakpoints/${ns}/${workflow}`;
}

/** The breakpoints remembered for a workflow, keeping only tasks it still has. */
export function loadBreakpoints(
  store: KeyValueStore,
  ns: string,
  workflow: string,
  taskIds: readonly string[],
): Breakpoints {
  try {
    const saved = JSON.parse(
      store.getItem(breakpointsKey(ns, workflow)) ?? 'null',
    ) as Partial<Breakpoints> | null;
    return {
      every: saved?.every === true,
      tasks: Array.isArray(saved?.tasks) ? saved.tasks.filter((t) => taskIds.includes(t)) : [],
    };
  } catch {
    return { every: false, tasks: [] };
  }
}

/** Remembers the breakpoints of a workflow for future runs. */
export function saveBreakpoints(
  store: KeyValueStore,
  ns: string,
  workflow: string,
  value: Breakpoints,
): void {
  store.setItem(breakpointsKey(ns, workflow), JSON.stringify(value));
}

/**
 * Whether a debug run stops at `task`. The run pauses before every task on the server; the page
 * stops at breakpoints and the "run to" target and lets the others go on at once, so breakpoints
 * can change while the run is paused.
 */
export function stopsAt(task: string, breakpoints: Breakpoints, runTo: string | undefined): boolean {
  return breakpoints.every || breakpoints.tasks.includes(task) || runTo === task;
}

/** A JSON Schema as far as {@link exampleOutput} reads it. */
interface SchemaLike {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, SchemaLike>;
  required?: string[];
  items?: SchemaLike;
}

/**
 * A starting point for a substitute output: the schema's required fields with an empty value of
 * their type (an enum's first value), so the editor opens on something close to valid.
 */
export function exampleOutput(schema: unknown, depth = 0): unknown {
  const s = (schema ?? {}) as SchemaLike;
  if (s.enum?.length) return s.enum[0];
  const type = [s.type ?? (s.properties ? 'object' : 'null')].flat()[0];
  if (depth > 8) return null;
  switch (type) {
    case 'object':
      return Object.fromEntries(
        (s.required ?? []).map((key) => [key, exampleOutput(s.properties?.[key], depth + 1)]),
      );
    case 'array':
      return [];
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/**
 * Why a task was skipped, from the records: a dependency that did not succeed, or else its `when`
 * that was false.
 */
export function skipReason(
  task: string,
  when: string | undefined,
  edges: readonly GraphEdge[],
  tasks: readonly RecordedTask[],
): string {
  const phases = new Map(tasks.map((t) => [t.id, t.phase]));
  const failed = edges.filter((e) => e.to === task && phases.get(e.from) !== 'Succeeded').map((e) => e.from);
  if (failed.length) return `skipped: ${failed.join(', ')} did not succeed`;
  return when ? `skipped: when ${when} was false` : 'skipped';
}
