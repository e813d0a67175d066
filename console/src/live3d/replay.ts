/**
 * Replay for the live view: the events of recorded executions rebuilt from their history (each
 * task's start and completion, a Signal when a producer finished), played on a clock that runs 1×,
 * 10× or 100× the recorded pace; and the order in which workflows joined the network (their first
 * revision), for the time-lapse of its growth.
 */
import type { NetworkWorkflow } from '../../../core/graph/network-layout.ts';
import type { StreamMessage } from '../../../core/model/stream.ts';
import { WORKFLOW_LABEL, type Execution, type Revision } from '../api/types.ts';

/** A message and the recorded moment it stands for (epoch ms). */
export interface TimedMessage {
  at: number;
  message: StreamMessage;
}

/** A recorded time range (epoch ms). */
export interface TimeRange {
  from: number;
  to: number;
}

/** Same moment: the producer finishes, then signals, then the consumer starts. */
const ORDER = {
  ExecutionStarted: 0,
  TaskFinished: 1,
  TaskSkipped: 1,
  Signal: 2,
  TaskStarted: 3,
  ExecutionFinished: 4,
};

/** The events of the executions that started within `range`, rebuilt from their recorded status, in time order. */
export function historyTimeline(
  executions: readonly Execution[],
  workflows: readonly NetworkWorkflow[],
  range: TimeRange,
): TimedMessage[] {
  const byName = new Map(workflows.map((w) => [`${w.namespace}/${w.name}`, w]));
  const events: { at: number; start: number; order: number; n: number; message: StreamMessage }[] = [];
  let n = 0;
  for (const e of executions) {
    const start = Date.parse(e.status?.startTime ?? e.metadata.creationTimestamp ?? '');
    if (!(start >= range.from && start < range.to)) continue;
    const namespace = e.metadata.namespace ?? '';
    const workflowName = e.metadata.labels?.[WORKFLOW_LABEL] ?? e.spec.workflowRef.name;
    const workflow = byName.get(`${namespace}/${workflowName}`);
    const execution = {
      namespace,
      name: e.metadata.name,
      uid: e.metadata.uid ?? e.metadata.name,
      workflow: workflowName,
    };
    const base = { id: 'replay', time: '', execution };
    let seq = 0;
    const push = (at: number, message: Record<string, unknown> & { type: keyof typeof ORDER }) =>
      events.push({
        at,
        start,
        order: ORDER[message.type],
        n: n++,
        message: {
          ...base,
          seq: ++seq,
          time: new Date(at).toISOString(),
          ...message,
        } as unknown as StreamMessage,
      });
    push(start, {
      type: 'ExecutionStarted',
      namespace,
      workflow: workflowName,
      revision: e.status?.workflowRevision ?? '',
      graph: { tasks: [...(workflow?.tasks ?? [])], edges: [...(workflow?.edges ?? [])] },
    });
    const tasks = new Map((e.status?.tasks ?? []).map((t) => [t.id, t]));
    const began = (id: string) => Date.parse(tasks.get(id)?.startTime ?? '');
    const ended = (id: string) => Date.parse(tasks.get(id)?.completionTime ?? '');
    for (const t of tasks.values()) {
      if (t.phase === 'Skipped') {
        push(ended(t.id) || began(t.id) || start, {
          type: 'TaskSkipped',
          task: t.id,
          reason: 'recorded as skipped',
        });
        continue;
      }
      if (Number.isNaN(began(t.id))) continue;
      push(began(t.id), { type: 'TaskStarted', task: t.id, attempt: t.attempts ?? 1, request: '' });
      if (!Number.isNaN(ended(t.id)) && t.phase !== 'Running')
        push(ended(t.id), {
          type: 'TaskFinished',
          task: t.id,
          phase: t.phase,
          ...(t.durationMs !== undefined ? { durationMs: t.durationMs } : {}),
        });
    }
    for (const edge of workflow?.edges ?? []) {
      if (Number.isNaN(began(edge.to))) continue;
      const at = ended(edge.from);
      push(Number.isNaN(at) ? began(edge.to) : at, {
        type: 'Signal',
        from: edge.from,
        to: edge.to,
        ready: true,
      });
    }
    const finished = Date.parse(e.status?.completionTime ?? '');
    if (!Number.isNaN(finished))
      push(finished, { type: 'ExecutionFinished', object: e as unknown as Record<string, unknown> });
  }
  events.sort((a, b) => a.at - b.at || a.start - b.start || a.order - b.order || a.n - b.n);
  return events.map(({ at, message }) => ({ at, message }));
}

/** Plays a timeline over a range at a speed, driven by the wall time elapsed since it began. */
export class ReplayCursor {
  private next = 0;
  done = false;

  constructor(
    private readonly timeline: readonly TimedMessage[],
    private readonly range: TimeRange,
    readonly speed: number,
  ) {}

  /** The recorded moment `elapsedMs` of wall time after the start. */
  recordedTime(elapsedMs: number): number {
    return Math.min(this.range.to, this.range.from + elapsedMs * this.speed);
  }

  /** The messages due by `elapsedMs` of wall time and not yet given; sets `done` once the range is over. */
  due(elapsedMs: number): TimedMessage[] {
    const now = this.range.from + elapsedMs * this.speed;
    const start = this.next;
    while (this.next < this.timeline.length && (this.timeline[this.next] as TimedMessage).at <= now)
      this.next++;
    if (now >= this.range.to) this.done = true;
    return this.timeline.slice(start, this.next);
  }
}

/** Workflows in the order they joined (their first revision; those with none first, by name). */
export function growthOrder(
  workflows: readonly string[],
  revisions: readonly Revision[],
): { workflow: string; at: number | undefined }[] {
  const first = new Map<string, number>();
  for (const r of revisions) {
    const at = Date.parse(r.metadata.creationTimestamp ?? '');
    if (Number.isNaN(at)) continue;
    const seen = first.get(r.workflow);
    if (seen === undefined || at < seen) first.set(r.workflow, at);
  }
  return workflows
    .map((workflow) => ({ workflow, at: first.get(workflow) }))
    .sort((a, b) => (a.at ?? -Infinity) - (b.at ?? -Infinity) || a.workflow.localeCompare(b.workflow));
}
