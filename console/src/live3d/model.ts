/**
 * What the live view draws, from the stream's events (pure: no DOM, no WebGL, so it is tested in
 * Node): which node or link each event lights up, each task's phase, calls per node and link over a
 * window (the heat map), and the metrics overlay (executions per second, p50/p99 duration, error
 * rate). Time is a parameter (`now`, ms), so replay runs it on the recorded clock.
 */
import {
  networkNodeId,
  type NetworkLayout,
  type NetworkWorkflow,
} from '../../../core/graph/network-layout.ts';
import type { StreamMessage } from '../../../core/model/stream.ts';

/** The events that have a visual effect. */
export type EffectEvent = 'TaskStarted' | 'TaskFinished' | 'Signal' | 'TaskRetrying' | 'TaskSkipped';

/** One visual effect: a node starts, succeeds, fails, retries or is skipped; a signal travels a link. */
export type VisualEffect =
  | { kind: 'start' | 'succeed' | 'fail' | 'retry' | 'skip'; event: EffectEvent; node: number }
  | { kind: 'signal'; event: 'Signal'; link: number }
  /** A signal between two steps of one WorkflowTask (one node): the node pulses. */
  | { kind: 'loop'; event: 'Signal'; node: number };

/** A node's phase as the view shows it. */
export type NodePhase = 'Idle' | 'Running' | 'Succeeded' | 'Failed' | 'Skipped';

/** What the view follows. */
export interface LiveFilter {
  /** Only this workflow's executions (absent: all). */
  workflow?: string;
  /** Heat map and metrics window, ms. */
  windowMs?: number;
}

/** The metrics overlay. */
export interface LiveMetrics {
  executionsPerSecond: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errorRate: number;
  running: number;
}

/** A row of the companion table. */
export interface LiveRow {
  node: number;
  task: string;
  workflows: string;
  phase: NodePhase;
  calls: number;
  errors: number;
  lastEvent: number | undefined;
}

/** The nearest-rank percentile of `values` (`q` in 0..1); undefined when empty. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Timestamps in a window: counts per key, oldest dropped as time passes. */
class WindowCounts {
  private readonly entries: { time: number; key: number; weight: number }[] = [];
  private head = 0;
  readonly counts: Float64Array;
  constructor(size: number) {
    this.counts = new Float64Array(size);
  }
  add(time: number, key: number, weight = 1): void {
    this.entries.push({ time, key, weight });
    this.counts[key] = (this.counts[key] ?? 0) + weight;
  }
  prune(oldest: number): void {
    while (this.head < this.entries.length && (this.entries[this.head] as { time: number }).time < oldest) {
      const entry = this.entries[this.head++] as { key: number; weight: number };
      this.counts[entry.key] = (this.counts[entry.key] ?? 0) - entry.weight;
    }
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}

const MAX_TRACKED_EXECUTIONS = 10_000;

/** The live state of a namespace's network. */
export class LiveNetwork {
  readonly nodeIndex = new Map<string, number>();
  readonly linkIndex = new Map<string, number>();
  readonly phases: NodePhase[];
  /** Failed since it last succeeded: the lasting red tint. */
  readonly failed: boolean[];
  private readonly lastEvent: (number | undefined)[];
  private readonly steps = new Map<string, Map<string, string>>();
  private readonly executions = new Map<string, { refs: Map<string, string> | undefined; start: number }>();
  private readonly calls: WindowCounts;
  private readonly errors: WindowCounts;
  private readonly linkCalls: WindowCounts;
  private readonly finishes: { time: number; durationMs: number; failed: boolean }[] = [];
  private filter: LiveFilter;

  constructor(
    readonly layout: NetworkLayout,
    workflows: readonly NetworkWorkflow[],
    filter: LiveFilter = {},
  ) {
    layout.nodes.forEach((n, i) => this.nodeIndex.set(n.id, i));
    layout.links.forEach((l, i) => this.linkIndex.set(`${l.source}>${l.target}`, i));
    for (const w of workflows)
      this.steps.set(`${w.namespace}/${w.name}`, new Map(w.tasks.map((t) => [t.id, t.taskRef])));
    this.phases = layout.nodes.map(() => 'Idle');
    this.failed = layout.nodes.map(() => false);
    this.lastEvent = layout.nodes.map(() => undefined);
    this.calls = new WindowCounts(layout.nodes.length);
    this.errors = new WindowCounts(layout.nodes.length);
    this.linkCalls = new WindowCounts(layout.links.length);
    this.filter = { windowMs: 60_000, ...filter };
  }

  get windowMs(): number {
    return this.filter.windowMs ?? 60_000;
  }

  setFilter(filter: LiveFilter): void {
    this.filter = { ...this.filter, ...filter };
    if ('workflow' in filter && filter.workflow === undefined) delete this.filter.workflow;
  }

  /** Applies one stream message at `now`; returns the effects to draw (none for filtered-out workflows). */
  apply(message: StreamMessage, now: number): VisualEffect[] {
    if (!('execution' in message)) return [];
    const { execution } = message;
    if (this.filter.workflow !== undefined && execution.workflow !== this.filter.workflow) return [];
    switch (message.type) {
      case 'ExecutionStarted': {
        this.track(execution.uid, new Map(message.graph.tasks.map((t) => [t.id, t.taskRef])), now);
        return [];
      }
      case 'ExecutionFinished': {
        const tracked = this.executions.get(execution.uid);
        this.executions.delete(execution.uid);
        const status = (message.object as { status?: { phase?: string; durationMs?: number } }).status;
        this.finishes.push({
          time: now,
          durationMs: status?.durationMs ?? (tracked ? now - tracked.start : 0),
          failed: status?.phase !== 'Succeeded',
        });
        return [];
      }
      case 'ExecutionGone':
        this.executions.delete(execution.uid);
        return [];
      case 'Signal': {
        const from = this.node(execution, message.from);
        const to = this.node(execution, message.to);
        if (from === undefined || to === undefined) return [];
        if (from === to) return [{ kind: 'loop', event: 'Signal', node: from }];
        const link = this.linkIndex.get(
          `${this.nodeId(execution, message.from)}>${this.nodeId(execution, message.to)}`,
        );
        if (link === undefined) return [];
        this.linkCalls.add(now, link);
        return [{ kind: 'signal', event: 'Signal', link }];
      }
      case 'TaskStarted':
      case 'TaskFinished':
      case 'TaskRetrying':
      case 'TaskSkipped': {
        const node = this.node(execution, message.task);
        if (node === undefined) return [];
        this.lastEvent[node] = now;
        let kind: Exclude<Extract<VisualEffect, { node: number }>['kind'], 'loop'>;
        if (message.type === 'TaskStarted') {
          kind = 'start';
          this.phases[node] = 'Running';
          this.calls.add(now, node);
        } else if (message.type === 'TaskRetrying') {
          kind = 'retry';
        } else if (message.type === 'TaskSkipped') {
          kind = 'skip';
          this.phases[node] = 'Skipped';
        } else if (message.phase === 'Succeeded') {
          kind = 'succeed';
          this.phases[node] = 'Succeeded';
          this.failed[node] = false;
        } else {
          kind = 'fail';
          this.phases[node] = 'Failed';
          this.failed[node] = true;
          this.errors.add(now, node);
        }
        return [{ kind, event: message.type, node }];
      }
      default:
        return [];
    }
  }

  /** Calls per node and link in the window, each relative to the busiest (0..1). */
  heat(now: number): { nodes: Float32Array; links: Float32Array } {
    this.prune(now);
    return { nodes: relative(this.calls.counts), links: relative(this.linkCalls.counts) };
  }

  /** The metrics overlay over the window. */
  metrics(now: number): LiveMetrics {
    this.prune(now);
    const durations = this.finishes.map((f) => f.durationMs);
    const failed = this.finishes.filter((f) => f.failed).length;
    return {
      executionsPerSecond: this.finishes.length / (this.windowMs / 1000),
      p50Ms: percentile(durations, 0.5),
      p99Ms: percentile(durations, 0.99),
      errorRate: this.finishes.length ? failed / this.finishes.length : 0,
      running: this.executions.size,
    };
  }

  /** The companion table: one row per task. */
  rows(now: number): LiveRow[] {
    this.prune(now);
    return this.layout.nodes.map((n, i) => ({
      node: i,
      task: n.taskRef,
      workflows: n.workflows.map((w) => w.slice(w.indexOf('/') + 1)).join(', '),
      phase: this.phases[i] as NodePhase,
      calls: Math.round(this.calls.counts[i] ?? 0),
      errors: Math.round(this.errors.counts[i] ?? 0),
      lastEvent: this.lastEvent[i],
    }));
  }

  private prune(now: number): void {
    const oldest = now - this.windowMs;
    this.calls.prune(oldest);
    this.errors.prune(oldest);
    this.linkCalls.prune(oldest);
    let drop = 0;
    while (drop < this.finishes.length && (this.finishes[drop] as { time: number }).time < oldest) drop++;
    if (drop) this.finishes.splice(0, drop);
  }

  private track(uid: string, refs: Map<string, string> | undefined, now: number): void {
    if (this.executions.size >= MAX_TRACKED_EXECUTIONS) {
      // Executions whose end was lost (an overflow) must not grow memory: the oldest is forgotten.
      const oldest = this.executions.keys().next().value as string;
      this.executions.delete(oldest);
    }
    this.executions.set(uid, { refs, start: now });
  }

  private nodeId(
    execution: { namespace: string; uid: string; workflow: string },
    step: string,
  ): string | undefined {
    const refs =
      this.executions.get(execution.uid)?.refs ??
      this.steps.get(`${execution.namespace}/${execution.workflow}`);
    const taskRef = refs?.get(step);
    return taskRef === undefined ? undefined : networkNodeId(execution.namespace, taskRef);
  }

  private node(
    execution: { namespace: string; uid: string; workflow: string },
    step: string,
  ): number | undefined {
    const id = this.nodeId(execution, step);
    return id === undefined ? undefined : this.nodeIndex.get(id);
  }
}

function relative(counts: Float64Array): Float32Array {
  let max = 0;
  for (const c of counts) if (c > max) max = c;
  const out = new Float32Array(counts.length);
  if (max > 0) for (let i = 0; i < counts.length; i++) out[i] = (counts[i] as number) / max;
  return out;
}
