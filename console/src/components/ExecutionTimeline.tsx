/**
 * An execution as a Gantt chart: per task its wait (ready → started), its run (attempts and retries
 * included), overlap visible as bars side by side in time, and the critical path — the chain of
 * dependencies that decided when the execution finished — marked.
 */
import type { Execution, TaskStatus } from '../api/types.ts';
import type { GraphEdge } from '../graph/model.ts';
import { duration } from '../format.ts';

/** Ids on the critical path: from the task that finished last, back through the dependency that finished last. */
export function criticalPath(tasks: readonly TaskStatus[], edges: readonly GraphEdge[]): Set<string> {
  const end = (t: TaskStatus | undefined) => (t?.completionTime ? Date.parse(t.completionTime) : -Infinity);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const path = new Set<string>();
  let current = [...tasks].filter((t) => t.completionTime).sort((a, b) => end(b) - end(a))[0];
  while (current && !path.has(current.id)) {
    path.add(current.id);
    const deps = edges
      .filter((e) => e.to === current?.id)
      .map((e) => byId.get(e.from))
      .filter((t) => t?.completionTime);
    current = deps.sort((a, b) => end(b) - end(a))[0];
  }
  return path;
}

export function ExecutionTimeline({
  execution,
  edges,
}: {
  execution: Execution;
  edges: readonly GraphEdge[];
}) {
  const tasks = execution.status?.tasks ?? [];
  const start =
    Date.parse(execution.status?.startTime ?? '') ||
    Math.min(...tasks.map((t) => Date.parse(t.startTime ?? '') || Infinity));
  const ends = tasks.map((t) => Date.parse(t.completionTime ?? '') || 0);
  const total = Math.max(execution.status?.durationMs ?? 0, ...ends.map((e) => e - start), 1);
  const critical = criticalPath(tasks, edges);
  const pct = (ms: number) => `${Math.max(0, Math.min(100, (ms / total) * 100)).toFixed(2)}%`;
  return (
    <div className="timeline" role="table" aria-label="Timeline of the execution's tasks">
      <div role="row" className="timeline-row head">
        <span role="columnheader">Task</span>
        <span role="columnheader">0 – {duration(total)}</span>
        <span role="columnheader">Run</span>
      </div>
      {tasks.map((t) => {
        const began = Date.parse(t.startTime ?? '');
        const offset = Number.isNaN(began) ? 0 : began - start;
        const wait = t.waitMs ?? 0;
        const isCritical = critical.has(t.id);
        return (
          <div
            role="row"
            key={t.id}
            className={`timeline-row phase-${t.phase.toLowerCase()}${isCritical ? ' critical' : ''}`}
            data-task={t.id}
          >
            <span role="rowheader">
              {t.id}
              {isCritical ? <span className="critical-mark"> ★ critical path</span> : null}
            </span>
            <span
              role="cell"
              className="bars"
              aria-label={`${t.phase}; waited ${duration(wait)}, started at ${duration(offset)}, ran ${duration(t.durationMs)}`}
            >
              {Number.isNaN(began) ? null : (
                <>
                  {wait ? (
                    <span className="bar wait" style={{ left: pct(offset - wait), width: pct(wait) }} />
                  ) : null}
                  <span
                    className="bar run"
                    style={{ left: pct(offset), width: pct(Math.max(t.durationMs ?? 0, total / 200)) }}
                  />
                </>
              )}
            </span>
            <span role="cell">
              {t.phase} {t.durationMs !== undefined ? duration(t.durationMs) : ''}
              {(t.attempts ?? 1) > 1 ? `, ${t.attempts} attempts (${(t.attempts ?? 1) - 1} retries)` : ''}
              {t.httpStatus ? `, HTTP ${t.httpStatus}` : ''}
            </span>
          </div>
        );
      })}
    </div>
  );
}
