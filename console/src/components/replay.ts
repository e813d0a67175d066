/**
 * Replay of a recorded execution: what each task's phase was at a moment of the run, and a clock
 * that runs at 1×, 10× or 100× the recorded pace.
 */
import { useEffect, useRef, useState } from 'react';
import type { Execution, TaskStatus } from '../api/types.ts';

/** The phase a task showed `at` ms after the execution started (from its recorded times). */
export function phaseAt(task: TaskStatus, executionStart: number, at: number, total: number): string {
  const began = Date.parse(task.startTime ?? '');
  const ended = Date.parse(task.completionTime ?? '');
  if (Number.isNaN(began)) return at >= total ? task.phase : 'Pending';
  if (at < began - executionStart) return 'Pending';
  if (Number.isNaN(ended) || at < ended - executionStart) return 'Running';
  return task.phase;
}

/** The recorded start and length of an execution. */
export function recordedSpan(execution: Execution): { start: number; total: number } {
  const tasks = execution.status?.tasks ?? [];
  const start =
    Date.parse(execution.status?.startTime ?? '') ||
    Math.min(...tasks.map((t) => Date.parse(t.startTime ?? '') || Infinity));
  const ends = tasks.map((t) => (Date.parse(t.completionTime ?? '') || start) - start);
  return { start, total: Math.max(execution.status?.durationMs ?? 0, ...ends, 0) };
}

/* c8 ignore start: a React hook driven by animation frames; the browser test replays with it. */
/** A replay clock: `at` (ms of recorded time) while playing, undefined otherwise. */
export function useReplayClock(total: number): {
  at: number | undefined;
  play: (speed: number) => void;
  stop: () => void;
} {
  const [at, setAt] = useState<number | undefined>();
  const frame = useRef(0);
  const stop = () => {
    cancelAnimationFrame(frame.current);
    setAt(undefined);
  };
  const play = (speed: number) => {
    cancelAnimationFrame(frame.current);
    const began = performance.now();
    const tick = () => {
      const t = (performance.now() - began) * speed;
      setAt(Math.min(t, total));
      if (t < total) frame.current = requestAnimationFrame(tick);
    };
    setAt(0);
    frame.current = requestAnimationFrame(tick);
  };
  useEffect(() => () => cancelAnimationFrame(frame.current), []);
  return { at, play, stop };
}
/* c8 ignore stop */
