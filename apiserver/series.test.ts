import { expect } from 'chai';
import { Counter, Histogram, Registry } from 'prom-client';
import { SeriesCounter, SeriesHistogram } from './series.ts';

describe('SeriesCounter and SeriesHistogram', () => {
  it('expose exactly what prom-client counters and histograms expose for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counter = new SeriesCounter({
      name: 'c_total',
      help: 'a counter',
      labelNames: ['ns', 'phase'],
      registry: ours,
    });
    const reference = new Counter({
      name: 'c_total',
      help: 'a counter',
      labelNames: ['ns', 'phase'],
      registers: [theirs],
    });
    const buckets = [0.01, 0.1, 1];
    const histogram = new SeriesHistogram({
      name: 'h_seconds',
      help: 'a histogram',
      labelNames: ['ns'],
      buckets,
      registry: ours,
    });
    const referenceHistogram = new Histogram({
      name: 'h_seconds',
      help: 'a histogram',
      labelNames: ['ns'],
      buckets,
      registers: [theirs],
    });

    for (const [ns, phase] of [
      ['a', 'Succeeded'],
      ['a', 'Succeeded'],
      ['b', 'Failed'],
    ] as const) {
      counter.series(ns, phase).inc();
      reference.inc({ ns, phase });
    }
    counter.series('b', 'Failed').inc(3);
    reference.inc({ ns: 'b', phase: 'Failed' }, 3);
    for (const [ns, value] of [
      ['a', 0.005],
      ['a', 0.01],
      ['a', 0.5],
      ['b', 7],
    ] as const) {
      histogram.series(ns).observe(value);
      referenceHistogram.observe({ ns }, value);
    }

    expect(await ours.metrics()).to.equal(await theirs.metrics());
    const json = async (registry: Registry) =>
      JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as unknown;
    expect(await json(ours)).to.deep.equal(await json(theirs));
  });

  it('hand out one series per label values and start again from zero on reset', async () => {
    const registry = new Registry();
    const counter = new SeriesCounter({ name: 'r_total', help: 'h', labelNames: ['x'], registry });
    expect(counter.series('1')).to.equal(counter.series('1'));
    counter.series('1').inc();
    registry.resetMetrics();
    counter.series('1').inc(2);
    expect((await counter.get()).values).to.deep.equal([{ labels: { x: '1' }, value: 2 }]);
    expect(registry.getSingleMetric('r_total')).to.equal(counter);
  });

  it('refuse label values that do not match the label names, and non-finite observations', () => {
    const histogram = new SeriesHistogram({
      name: 'v_seconds',
      help: 'h',
      labelNames: ['a', 'b'],
      buckets: [1],
    });
    expect(() => histogram.series('only-one')).to.throw(/v_seconds takes 2 label values \(a, b\), got 1/);
    expect(() => histogram.series('1', '2').observe(Number.NaN)).to.throw(
      /v_seconds: observed value NaN is not a finite number/,
    );
    const counter = new SeriesCounter({ name: 'n_total', help: 'h', labelNames: [] });
    expect(() => counter.series().inc(-1)).to.throw(/n_total: a counter only goes up \(got -1\)/);
  });
});
