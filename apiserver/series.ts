/**
 * Labelled counters and histograms for the hot path. prom-client checks and hashes a label object
 * on every observation (several microseconds each, five times per execution); here a series is
 * found once per distinct label values and then updated with plain arithmetic. They register on a
 * prom-client Registry like any of its metrics and expose the same text and JSON, so /metrics reads
 * the same.
 */
import type { Registry } from 'prom-client';

/** One sample as prom-client's registry reads it. */
interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  exemplar?: null;
}

/** What prom-client's registry reads of a metric. */
interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

interface Options {
  name: string;
  help: string;
  labelNames: readonly string[];
  /** Registers the metric there (as prom-client's `registers: [registry]`). */
  registry?: Registry;
}

/** Series keyed by their label values, in first-seen order. */
abstract class LabelledSeries<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  protected readonly labelNames: readonly string[];
  protected readonly all = new Map<string, { labels: Record<string, string>; state: S }>();

  constructor(options: Options) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    options.registry?.registerMetric(this as never);
  }

  protected state(values: readonly string[]): S {
    const key = values.length === 1 ? (values[0] as string) : values.join('\u0000');
    const found = this.all.get(key);
    if (found) return found.state;
    if (values.length !== this.labelNames.length) {
      throw new TypeError(
        `${this.name} takes ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`,
      );
    }
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => (labels[name] = values[i] as string));
    const entry = { labels, state: this.initial() };
    this.all.set(key, entry);
    return entry.state;
  }

  protected abstract initial(): S;

  /** Forgets every series (prom-client's `registry.resetMetrics()`). */
  reset(): void {
    this.all.clear();
  }
}

/** One counter series. */
class CounterState {
  value = 0;
  constructor(private readonly name: string) {}

  inc(by = 1): void {
    if (!(by >= 0)) throw new TypeError(`${this.name}: a counter only goes up (got ${by})`);
    this.value += by;
  }
}

/** A counter: `series(...labelValues).inc(n)`. */
export class SeriesCounter extends LabelledSeries<CounterState> {
  readonly type = 'counter' as const;

  series(...values: string[]): { inc(by?: number): void } {
    return this.state(values);
  }

  protected initial(): CounterState {
    return new CounterState(this.name);
  }

  async get(): Promise<Collected> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.all.values()].map(({ labels, state }) => ({
        labels: { ...labels },
        value: state.value,
      })),
    };
  }
}

/** One histogram series: a count per bucket (not cumulative), the sum and the count. */
class HistogramState {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly name: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value))
      throw new TypeError(`${this.name}: observed value ${value} is not a finite number`);
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number)++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

/** A histogram with fixed upper bounds: `series(...labelValues).observe(v)`. */
export class SeriesHistogram extends LabelledSeries<HistogramState> {
  readonly type = 'histogram' as const;
  private readonly bounds: readonly number[];

  constructor(options: Options & { buckets: readonly number[] }) {
    super(options);
    this.bounds = [...options.buckets].sort((a, b) => a - b);
  }

  series(...values: string[]): { observe(value: number): void } {
    return this.state(values);
  }

  protected initial(): HistogramState {
    return new HistogramState(this.name, this.bounds);
  }

  async get(): Promise<Collected> {
    const values: Sample[] = [];
    for (const { labels, state } of this.all.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += state.counts[i] as number;
        values.push(bucket(this.name, le, labels, cumulative));
      });
      values.push(bucket(this.name, '+Inf', labels, state.count));
      values.push({ value: state.sum, metricName: `${this.name}_sum`, labels: { ...labels } });
      values.push({ value: state.count, metricName: `${this.name}_count`, labels: { ...labels } });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

function bucket(name: string, le: number | string, labels: Record<string, string>, value: number): Sample {
  return { value, metricName: `${name}_bucket`, exemplar: null, labels: { le, ...labels } };
}
