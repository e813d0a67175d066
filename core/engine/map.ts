/**
 * Map steps: run one task once per element of an array, at most `concurrency` at a time, and
 * compose the results in input order. Failure policy: fail fast (the first failed element fails
 * the step and cancels the elements in flight), or collect failures as `null` up to a threshold.
 * The executor runs each element exactly as it runs a plain step; this module only schedules.
 */
import type { MapSettings } from '../definitions/compile.ts';
import { SyncflowError } from '../errors.ts';
import { MAX_TRACED_ITEMS } from '../model/literals.ts';
import type { TaskExecutionStatus } from '../model/schema.ts';
import { formatRef } from '../template/parser.ts';
import { Cancellation } from './cancellation.ts';
import type { Clock } from './collaborators.ts';

/** Elements a map step accepts; a longer array fails the step (MapItemsInvalid). */
export const MAX_MAP_ITEMS = 10_000;

/** One element's entry in the step's record. */
export type MapItemStatus = NonNullable<TaskExecutionStatus['items']>[number];

/** How one element ended, as the executor reports it. */
export interface ElementOutcome {
  phase: 'Succeeded' | 'Failed' | 'Cancelled';
  output?: unknown;
  error?: { reason: string; message: string };
  httpStatus?: number;
  attempts: number;
  cached?: boolean;
  hedged?: boolean;
}

/** Runs one element; `group` is aborted when the step stops (fail fast or the execution ends). */
export type ElementRunner = (item: unknown, index: number, group: Cancellation) => Promise<ElementOutcome>;

/** Told of each element the trace records (the same bound), as it settles. */
export type ElementReporter = (entry: MapItemStatus, outcome: ElementOutcome) => void;

/** Whether an element's start is reported live: the first elements, as the trace keeps them. */
export function reportsElementStart(index: number): boolean {
  return index < MAX_TRACED_ITEMS;
}

/** How the map step ended: its phase, the composed output, and the record fields it adds. */
export interface MapOutcome {
  phase: 'Succeeded' | 'Failed' | 'Cancelled';
  output?: unknown[];
  error?: { reason: string; message: string };
  attempts: number;
  record: Pick<TaskExecutionStatus, 'itemCount' | 'failedItems' | 'items'>;
}

/**
 * The array a map step runs over, or the error that fails the step: not an array, or longer than
 * {@link MAX_MAP_ITEMS}.
 */
export function mapItems(settings: MapSettings, value: unknown): unknown[] | SyncflowError {
  const source = `\`${formatRef(settings.items)}\``;
  if (!Array.isArray(value)) {
    const kind = value === null ? 'null' : value === undefined ? 'absent' : `a ${typeof value}`;
    return new SyncflowError('MapItemsInvalid', `${source} is ${kind}, not an array`);
  }
  if (value.length > MAX_MAP_ITEMS) {
    return new SyncflowError(
      'MapItemsInvalid',
      `${source} has ${value.length} elements, more than the ${MAX_MAP_ITEMS} a map step runs`,
    );
  }
  return value;
}

/** Runs the elements under the map's concurrency and failure policy; never rejects. */
export function runMap(
  items: readonly unknown[],
  settings: MapSettings,
  parent: Cancellation,
  clock: Clock,
  runElement: ElementRunner,
  report?: ElementReporter,
): Promise<MapOutcome> {
  return new MapRun(items, settings, parent, clock, runElement, report).run();
}

class MapRun {
  private readonly outputs: unknown[];
  private readonly entries: (MapItemStatus | undefined)[];
  private readonly group = new Cancellation();
  private next = 0;
  private inFlight = 0;
  private settled = 0;
  private attempts = 0;
  private readonly failed: number[] = [];
  private failure: { reason: string; message: string } | undefined;
  private done: (outcome: MapOutcome) => void = () => {};
  private readonly onParentAbort = () => this.group.abort(this.parent.reason);

  constructor(
    private readonly items: readonly unknown[],
    private readonly settings: MapSettings,
    private readonly parent: Cancellation,
    private readonly clock: Clock,
    private readonly runElement: ElementRunner,
    private readonly report: ElementReporter | undefined,
  ) {
    this.outputs = new Array<unknown>(items.length).fill(null);
    this.entries = new Array<MapItemStatus | undefined>(items.length);
  }

  run(): Promise<MapOutcome> {
    if (this.items.length === 0) return Promise.resolve(this.outcome());
    return new Promise((resolve) => {
      this.done = resolve;
      this.parent.once('abort', this.onParentAbort);
      if (this.parent.aborted) this.group.abort(this.parent.reason);
      this.fill();
    });
  }

  /** Starts elements while there is room and nothing stopped the step. */
  private fill(): void {
    while (this.next < this.items.length && this.inFlight < this.settings.concurrency) {
      const index = this.next++;
      if (this.group.aborted) {
        this.settle(index, { phase: 'Cancelled', attempts: 0 }, 0);
        continue;
      }
      this.inFlight++;
      void this.start(index);
    }
  }

  private async start(index: number): Promise<void> {
    const started = this.clock.now();
    let outcome: ElementOutcome;
    try {
      outcome = await this.runElement(this.items[index], index, this.group);
    } catch (error) {
      // The runner never rejects; should it, the element failed and the step says why.
      outcome = {
        phase: 'Failed',
        attempts: 0,
        error: { reason: 'InternalError', message: error instanceof Error ? error.message : String(error) },
      };
    }
    this.inFlight--;
    this.settle(index, outcome, this.clock.now() - started);
    this.fill();
  }

  private settle(index: number, outcome: ElementOutcome, durationMs: number): void {
    this.attempts += outcome.attempts;
    if (outcome.phase === 'Succeeded') this.outputs[index] = outcome.output;
    else if (outcome.phase === 'Failed') this.failed.push(index);
    if (
      reportsElementStart(index) ||
      (outcome.phase === 'Failed' && this.failed.length <= MAX_TRACED_ITEMS)
    ) {
      const entry = entryOf(index, outcome, durationMs);
      this.entries[index] = entry;
      this.report?.(entry, outcome);
    }
    if (outcome.phase === 'Failed' && !this.failure) this.judge(index, outcome);
    if (++this.settled === this.items.length) {
      this.parent.removeListener('abort', this.onParentAbort);
      this.done(this.outcome());
    }
  }

  /** A failed element: under fail fast, or past the threshold, the step fails and the rest stop. */
  private judge(index: number, outcome: ElementOutcome): void {
    const error = outcome.error ?? { reason: 'TaskFailed', message: 'failed' };
    if (this.settings.failFast) {
      this.failure = { reason: error.reason, message: `element ${index}: ${error.message}` };
    } else if (this.failed.length > this.settings.maxFailedItems) {
      const listed = this.failed
        .slice(0, 5)
        .map((i) => `element ${i}: ${(this.entries[i]?.error ?? error).reason}`)
        .join(', ');
      this.failure = {
        reason: 'TaskFailed',
        message: `${this.failed.length} elements failed, more than maxFailedItems ${this.settings.maxFailedItems} (${listed})`,
      };
    } else {
      return;
    }
    this.group.abort(new SyncflowError('Cancelled', `map step stopped: ${this.failure.message}`));
  }

  private outcome(): MapOutcome {
    const record: MapOutcome['record'] = { itemCount: this.items.length };
    if (this.failed.length) record.failedItems = this.failed.length;
    const items = this.entries.filter((e): e is MapItemStatus => e !== undefined);
    if (items.length) record.items = items;
    if (this.failure) return { phase: 'Failed', error: this.failure, attempts: this.attempts, record };
    if (this.parent.aborted) {
      const reason = this.parent.reason as SyncflowError;
      return {
        phase: 'Cancelled',
        error: { reason: 'Cancelled', message: `cancelled: ${reason.message}` },
        attempts: this.attempts,
        record,
      };
    }
    return { phase: 'Succeeded', output: this.outputs, attempts: this.attempts, record };
  }
}

function entryOf(index: number, outcome: ElementOutcome, durationMs: number): MapItemStatus {
  const entry: MapItemStatus = {
    index,
    phase: outcome.phase,
    durationMs: Math.round(durationMs * 1000) / 1000,
  };
  if (outcome.attempts) entry.attempts = outcome.attempts;
  if (outcome.httpStatus !== undefined) entry.httpStatus = outcome.httpStatus;
  if (outcome.cached) entry.cached = true;
  if (outcome.hedged) entry.hedged = true;
  if (outcome.error) entry.error = outcome.error;
  return entry;
}
