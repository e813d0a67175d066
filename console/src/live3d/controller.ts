/**
 * The live view's one store: the model (what is lit, heat, metrics), the scene that draws it, and
 * where the events come from — the stream (live), history (replay) or nothing (the growth
 * time-lapse). The page renders its controls from {@link LiveSnapshot}s it publishes twice a second.
 */
import type { NetworkLayout, NetworkWorkflow } from '../../../core/graph/network-layout.ts';
import type { StreamMessage } from '../../../core/model/stream.ts';
import type { StreamMessage as ConsoleMessage } from '../api/stream.ts';
import { count, type Live3dHook } from './hook.ts';
import { LiveNetwork, type LiveMetrics, type LiveRow, type NodePhase } from './model.ts';
import { ReplayCursor, type TimedMessage, type TimeRange } from './replay.ts';
import type { NetworkScene } from './scene.ts';

/** Events that draw something: what the hook counts. */
const EFFECT_EVENTS = new Set(['TaskStarted', 'TaskFinished', 'Signal', 'TaskRetrying', 'TaskSkipped']);

/** What the page shows besides the canvas. */
export interface LiveSnapshot {
  mode: 'live' | 'replay' | 'growth';
  metrics: LiveMetrics;
  rows: LiveRow[];
  /** The recorded moment a replay has reached. */
  replayAt?: number;
  replayDone?: boolean;
  growthShown?: number;
}

/** Display choices. */
export interface LiveView {
  workflow?: string;
  phase?: NodePhase;
  windowMs: number;
  heat: boolean;
}

/** The live view of one namespace. */
export class LiveController {
  private model: LiveNetwork;
  private scene: NetworkScene | undefined;
  private mode: LiveSnapshot['mode'] = 'live';
  private view: LiveView = { windowMs: 60_000, heat: false };
  private replay: { cursor: ReplayCursor; began: number; frame: number } | undefined;
  private growth: { order: string[]; shown: number; timer: ReturnType<typeof setInterval> } | undefined;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly listeners = new Set<(snapshot: LiveSnapshot) => void>();

  constructor(
    readonly layout: NetworkLayout,
    private readonly workflows: readonly NetworkWorkflow[],
    private readonly hook: Live3dHook,
  ) {
    this.model = new LiveNetwork(layout, workflows, { windowMs: this.view.windowMs });
    this.timer = setInterval(() => this.refresh(), 500);
  }

  /** The scene to draw on (absent when WebGL is not available: the table still works). */
  attach(scene: NetworkScene | undefined): void {
    this.scene = scene;
    this.applyView();
  }

  onSnapshot(listener: (snapshot: LiveSnapshot) => void): () => void {
    this.listeners.add(listener);
    listener(this.snapshot());
    return () => this.listeners.delete(listener);
  }

  /** A message of the stream (ignored while replaying or playing the growth). */
  receive(message: ConsoleMessage): void {
    if (message.type === 'subscribed') this.hook.subscribed = true;
    if (this.mode !== 'live' || message.type === 'reconnected') return;
    this.feed([message], Date.now());
  }

  setView(view: Partial<LiveView>): void {
    this.view = { ...this.view, ...view };
    this.model.setFilter({ workflow: this.view.workflow, windowMs: this.view.windowMs });
    this.applyView();
    this.refresh();
  }

  /** Plays `timeline` over `range` at `speed`; the live stream is set aside until it ends. */
  startReplay(timeline: TimedMessage[], range: TimeRange, speed: number): void {
    this.stopGrowth();
    if (this.replay) cancelAnimationFrame(this.replay.frame);
    this.mode = 'replay';
    this.reset();
    const began = performance.now();
    this.replay = { cursor: new ReplayCursor(timeline, range, speed), began, frame: 0 };
    Object.assign(this.hook.replay, { state: 'playing', speed, startedAt: began, events: 0 });
    delete this.hook.replay.endedAt;
    const step = () => {
      const replay = this.replay;
      if (!replay) return;
      const elapsed = performance.now() - replay.began;
      const due = replay.cursor.due(elapsed);
      this.hook.replay.events += due.length;
      for (const { message, at } of due) this.feed([message], at);
      if (replay.cursor.done) {
        this.hook.replay.state = 'done';
        this.hook.replay.endedAt = performance.now();
        this.refresh();
        return;
      }
      replay.frame = requestAnimationFrame(step);
    };
    this.replay.frame = requestAnimationFrame(step);
    this.refresh();
  }

  /** Back to the live stream. */
  live(): void {
    if (this.replay) cancelAnimationFrame(this.replay.frame);
    this.replay = undefined;
    this.stopGrowth();
    this.hook.replay.state = 'idle';
    this.mode = 'live';
    this.reset();
    this.refresh();
  }

  /** The time-lapse: workflows appear in the order they were added, one every `stepMs`. */
  startGrowth(order: string[], stepMs: number): void {
    if (this.replay) cancelAnimationFrame(this.replay.frame);
    this.replay = undefined;
    this.stopGrowth();
    this.mode = 'growth';
    const growth = { order, shown: 0, timer: setInterval(() => this.growStep(), stepMs) };
    this.growth = growth;
    this.hook.growth = { state: 'playing', shown: 0 };
    this.applyView();
    this.refresh();
  }

  dispose(): void {
    clearInterval(this.timer);
    if (this.replay) cancelAnimationFrame(this.replay.frame);
    this.stopGrowth();
    this.listeners.clear();
  }

  /** Applies messages received now (live) or recorded at `now` (replay). */
  feed(messages: readonly StreamMessage[], now: number): void {
    const receivedAt = performance.now();
    for (const message of messages) {
      const effects = this.model.apply(message, now);
      if (EFFECT_EVENTS.has(message.type) && this.follows(message)) count(this.hook.events, message.type);
      if (effects.length) {
        if (this.scene) this.scene.apply(effects, receivedAt);
        else for (const effect of effects) count(this.hook.effects, effect.event);
      }
    }
  }

  private follows(message: StreamMessage): boolean {
    return (
      !('execution' in message) || !this.view.workflow || message.execution.workflow === this.view.workflow
    );
  }

  private growStep(): void {
    const growth = this.growth;
    if (!growth) return;
    growth.shown++;
    this.hook.growth.shown = growth.shown;
    this.applyView();
    if (growth.shown >= growth.order.length) {
      clearInterval(growth.timer);
      this.hook.growth.state = 'done';
    }
    this.refresh();
  }

  private stopGrowth(): void {
    if (!this.growth) return;
    clearInterval(this.growth.timer);
    this.growth = undefined;
    this.applyView();
  }

  private reset(): void {
    this.model = new LiveNetwork(this.layout, this.workflows, { windowMs: this.view.windowMs });
    this.model.setFilter({ workflow: this.view.workflow });
  }

  private now(): number {
    if (this.replay) return this.replay.cursor.recordedTime(performance.now() - this.replay.began);
    return Date.now();
  }

  /** Which nodes show: the workflow filter, the phase filter, and the growth so far. */
  private applyView(): void {
    const { workflow, phase } = this.view;
    const nodes = this.layout.nodes;
    const grown = this.growth ? new Set(this.growth.order.slice(0, this.growth.shown)) : undefined;
    const namespaceOf = (key: string) => key.slice(key.indexOf('/') + 1);
    this.scene?.setVisible(
      !workflow && !phase && !grown
        ? undefined
        : (i) => {
            const node = nodes[i];
            if (!node) return false;
            if (workflow && !node.workflows.some((w) => namespaceOf(w) === workflow)) return false;
            if (phase && this.model.phases[i] !== phase) return false;
            if (grown && !node.workflows.some((w) => grown.has(namespaceOf(w)))) return false;
            return true;
          },
    );
    this.scene?.setHeat(this.view.heat ? this.model.heat(this.now()) : undefined);
  }

  private snapshot(): LiveSnapshot {
    const now = this.now();
    return {
      mode: this.mode,
      metrics: this.model.metrics(now),
      rows: this.model.rows(now),
      ...(this.replay ? { replayAt: now, replayDone: this.replay.cursor.done } : {}),
      ...(this.growth ? { growthShown: this.growth.shown } : {}),
    };
  }

  private refresh(): void {
    // The phase filter and the heat map follow the events; both are redrawn at this pace.
    if (this.view.phase || this.view.heat) this.applyView();
    const snapshot = this.snapshot();
    for (const listener of this.listeners) listener(snapshot);
  }
}
