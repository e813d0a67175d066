/**
 * What the live view reports about itself on `window.__live3d`, for browser tests and the benchmark:
 * events received and visual effects drawn per event type, frame times, event-to-frame latency,
 * the quality level it degraded to, and the replay's progress. Plain numbers: reading it costs the
 * page nothing.
 */
import type { StreamMessage } from '../../../core/model/stream.ts';

/** Appends `value`, keeping the last `limit` values. */
export function pushBounded(values: number[], value: number, limit: number): void {
  values.push(value);
  if (values.length > limit) values.splice(0, values.length - limit);
}

/** The live view's self-report. */
export interface Live3dHook {
  /** WebGL could be started (else the page shows the table only). */
  webgl: boolean;
  /** The WebGL renderer's name (SwiftShader: software). */
  renderer: string;
  /** The network is laid out and drawn. */
  ready: boolean;
  nodes: number;
  links: number;
  /** The subscription is in place (live mode). */
  subscribed: boolean;
  /** Stream events received that the view follows (after the workflow filter), per type. */
  events: Record<string, number>;
  /** Visual effects drawn, per type of the event that caused them. */
  effects: Record<string, number>;
  /** Effects by what was drawn (start, succeed, fail, particle, linkFlash...). */
  drawn: Record<string, number>;
  frames: number;
  /** Milliseconds between the last frames. */
  frameMs: number[];
  /** Milliseconds from receiving an event to the end of the first frame that drew it. */
  latencyMs: number[];
  /** `full` (bloom, many particles), `reduced` (no bloom), `minimal` (no bloom, few particles). */
  quality: 'full' | 'reduced' | 'minimal';
  bloom: boolean;
  reducedMotion: boolean;
  particles: number;
  replay: {
    state: 'idle' | 'playing' | 'done';
    speed: number;
    startedAt?: number;
    endedAt?: number;
    events: number;
  };
  growth: { state: 'idle' | 'playing' | 'done'; shown: number };
  /** Feeds messages as if the stream had sent them (the benchmark's load). */
  inject?: (messages: StreamMessage[]) => void;
  /** What the scene draws now, read back from its instance and line buffers (set once WebGL started). */
  sample?: () => SceneSample;
}

/** Each node's size and colour and each link's colour, as the last frame drew them. */
export interface SceneSample {
  /** `scale` 0: the node is hidden (a filter, the growth time-lapse). */
  nodes: { id: string; scale: number; color: [number, number, number] }[];
  /** `hidden`: drawn in the background colour (an end is hidden). */
  links: { source: string; target: string; color: [number, number, number]; hidden: boolean }[];
}

/** A report with nothing drawn, counted or measured yet. */
export function freshHook(): Live3dHook {
  return {
    webgl: false,
    renderer: '',
    ready: false,
    nodes: 0,
    links: 0,
    subscribed: false,
    events: {},
    effects: {},
    drawn: {},
    frames: 0,
    frameMs: [],
    latencyMs: [],
    quality: 'full',
    bloom: true,
    reducedMotion: false,
    particles: 0,
    replay: { state: 'idle', speed: 1, events: 0 },
    growth: { state: 'idle', shown: 0 },
  };
}

/** A fresh report, installed on `window.__live3d`. */
export function installHook(): Live3dHook {
  const hook = freshHook();
  (window as unknown as { __live3d: Live3dHook }).__live3d = hook;
  return hook;
}

/** Adds one to a counter of a report. */
export function count(counters: Record<string, number>, key: string, by = 1): void {
  counters[key] = (counters[key] ?? 0) + by;
}
