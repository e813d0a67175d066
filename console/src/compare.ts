/**
 * What the compare page lines up: the fields of two inputs or outputs by path (so a changed value
 * sits on one row, whatever else differs), and the tasks of two executions — by id when they ran
 * one workflow, by the order they started when they ran two.
 */
import type { Execution, TaskStatus } from './api/types.ts';

/** One field of either side: its path, its JSON on each side, and how it differs. */
export interface FieldRow {
  path: string;
  left?: string;
  right?: string;
  kind: 'same' | 'changed' | 'removed' | 'added';
}

/** Deepest nesting walked; a deeper value is shown whole. */
const MAX_DEPTH = 16;

function flatten(value: unknown, path: string, into: Map<string, string>, depth = 0): void {
  const container = value !== null && typeof value === 'object';
  const entries = container
    ? Array.isArray(value)
      ? value.map((v, i) => [`${path}[${i}]`, v] as const)
      : Object.entries(value).map(([k, v]) => [path ? `${path}.${k}` : k, v] as const)
    : [];
  if (!container || entries.length === 0 || depth >= MAX_DEPTH) {
    if (value !== undefined && (path || !container)) into.set(path || '(value)', JSON.stringify(value));
    return;
  }
  for (const [p, v] of entries) flatten(v, p, into, depth + 1);
}

/** The fields of both values, in the left's order then the right's new ones. */
export function fieldDiff(left: unknown, right: unknown): FieldRow[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(left, '', a);
  flatten(right, '', b);
  const rows: FieldRow[] = [];
  for (const [path, l] of a) {
    const r = b.get(path);
    rows.push(
      r === undefined
        ? { path, left: l, kind: 'removed' }
        : { path, left: l, right: r, kind: l === r ? 'same' : 'changed' },
    );
  }
  for (const [path, r] of b) if (!a.has(path)) rows.push({ path, right: r, kind: 'added' });
  return rows;
}

/** A row of the task table: a task of each side (or none) and the difference of their durations. */
export interface TaskPair {
  left?: TaskStatus;
  right?: TaskStatus;
  delta?: number;
}

/** Tasks in the order they started; tasks that never started (skipped) last, in recorded order. */
function byStart(tasks: readonly TaskStatus[]): TaskStatus[] {
  const started = tasks
    .filter((t) => t.startTime)
    .sort((x, y) => Date.parse(x.startTime as string) - Date.parse(y.startTime as string));
  return [...started, ...tasks.filter((t) => !t.startTime)];
}

/** The task rows of two executions: paired by id for one workflow, by start order for two. */
export function taskTimings(a: Execution, b: Execution): TaskPair[] {
  const left = a.status?.tasks ?? [];
  const right = b.status?.tasks ?? [];
  let pairs: Array<[TaskStatus | undefined, TaskStatus | undefined]>;
  if (a.spec.workflowRef.name === b.spec.workflowRef.name) {
    const ids = [...new Set([...left, ...right].map((t) => t.id))];
    pairs = ids.map((id) => [left.find((t) => t.id === id), right.find((t) => t.id === id)]);
  } else {
    const l = byStart(left);
    const r = byStart(right);
    pairs = Array.from({ length: Math.max(l.length, r.length) }, (_, i) => [l[i], r[i]]);
  }
  return pairs.map(([l, r]) => ({
    ...(l ? { left: l } : {}),
    ...(r ? { right: r } : {}),
    ...(l?.durationMs !== undefined && r?.durationMs !== undefined
      ? { delta: r.durationMs - l.durationMs }
      : {}),
  }));
}
