/** What a task's node shows beyond its phase: a map step's progress, and the cached / hedged badges. */
import type { TaskStatus } from '../api/types.ts';
import type { MapProgress, TaskOverlay } from '../graph/WorkflowGraph.tsx';

/** `7 done · 1 failed of 10` live, `400 elements · 8 failed` recorded; empty for a plain task. */
export function mapProgressText(map: MapProgress | undefined): string {
  if (!map) return '';
  const failed = map.failed ? ` · ${map.failed} failed` : '';
  if (map.done === undefined) return `${map.count ?? '?'} elements${failed}`;
  return `${map.done} done${map.failed ? ` · ${map.failed} failed` : ''} of ${map.count ?? '?'}`;
}

/** The map progress and badges of a recorded task. */
export function recordedTaskOverlay(task: TaskStatus): Pick<TaskOverlay, 'map' | 'badges'> {
  const overlay: Pick<TaskOverlay, 'map' | 'badges'> = {};
  if (task.itemCount !== undefined) overlay.map = { count: task.itemCount, failed: task.failedItems ?? 0 };
  const badges = [task.cached ? 'cached' : '', task.hedged ? 'hedged' : ''].filter(Boolean);
  if (badges.length) overlay.badges = badges;
  return overlay;
}

/** A map element's event, as the stream delivers it (fields beyond the task's own). */
interface ElementEvent {
  type: string;
  item?: number;
  itemCount?: number;
  phase?: string;
  failedItems?: number;
}

/**
 * The map progress after one event of the step: an element's start gives the count, its end one more
 * done (and failed); the step's own end the final counts. Undefined for a task that is no map step.
 */
export function foldMapProgress(map: MapProgress | undefined, event: ElementEvent): MapProgress | undefined {
  if (event.item === undefined) {
    if (event.type !== 'TaskFinished' || event.itemCount === undefined) return map;
    return { count: event.itemCount, done: event.itemCount, failed: event.failedItems ?? 0 };
  }
  const now: MapProgress = { done: 0, failed: 0, ...map };
  if (event.itemCount !== undefined) now.count = event.itemCount;
  if (event.type === 'TaskFinished') {
    now.done = (now.done ?? 0) + 1;
    if (event.phase === 'Failed') now.failed++;
  }
  return now;
}
