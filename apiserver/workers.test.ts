/**
 * `--workers`: the count it accepts, the primary's supervision (listening once every worker listens,
 * a dead worker replaced, giving up on a crash loop, SIGTERM to all at shutdown) and the metrics
 * bridge (a worker's /metrics is the primary's sum over all workers).
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { Counter, Registry } from 'prom-client';
import { defaultServerOptions, parseServerFlags, validateServerOptions } from './options.ts';
import {
  MAX_WORKERS,
  reportListening,
  superviseWorkers,
  workerCount,
  workerMetrics,
  type ClusterPrimary,
} from './workers.ts';

/** A cluster whose workers are plain objects the test drives. */
class FakeCluster extends EventEmitter implements ClusterPrimary {
  readonly forked: { worker: Worker; env: Record<string, string>; signals: string[]; sent: unknown[] }[] = [];
  fork(env: Record<string, string>): Worker {
    const signals: string[] = [];
    const sent: unknown[] = [];
    const worker = {
      id: this.forked.length + 1,
      process: { kill: (signal: string) => signals.push(signal) },
      send: (message: unknown) => sent.push(message),
    } as unknown as Worker;
    this.forked.push({ worker, env, signals, sent });
    return worker;
  }
  /** The worker forked `n`-th (1-based). */
  nth(n: number): Worker {
    return this.forked[n - 1]?.worker as Worker;
  }
}

const silent = { info: () => undefined, error: () => undefined };

describe('workerCount', () => {
  it('accepts 1 to the maximum, and auto as one per CPU (at least one)', () => {
    expect(workerCount('1')).to.equal(1);
    expect(workerCount('3')).to.equal(3);
    expect(workerCount('auto', 6)).to.equal(6);
    expect(workerCount('auto', 0)).to.equal(1);
    expect(workerCount('auto', 500)).to.equal(MAX_WORKERS);
  });

  it('refuses anything else, naming the flag and the accepted values', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '', String(MAX_WORKERS + 1)])
      expect(() => workerCount(bad), bad).to.throw(/--workers: .* use 1 to 64, or auto/);
  });

  it('is a server option: flag, environment default, and an error listed with the others', () => {
    const fromEnv = validateServerOptions(
      parseServerFlags(
        ['--tls-cert-file=c', '--tls-private-key-file=k'],
        defaultServerOptions({ SYNCFLOW_WORKERS: '2' }),
      ).options,
    );
    expect(fromEnv.config?.workers).to.equal(2);
    const bad = validateServerOptions(
      parseServerFlags(
        ['--tls-cert-file=c', '--tls-private-key-file=k', '--workers=zero'],
        defaultServerOptions(),
      ).options,
    );
    expect(bad.errors).to.deep.equal(['--workers: "zero" is not a number of workers; use 1 to 64, or auto']);
  });
});

describe('superviseWorkers', () => {
  const start = (cluster: FakeCluster, extra: { maxRestarts?: number } = {}) =>
    superviseWorkers({
      cluster,
      count: 2,
      logger: silent,
      env: { SYNCFLOW_WORKER_DATABASE_URL: 'postgres://x' },
      metrics: () => Promise.resolve('sum 3\n'),
      restartDelayMs: 0,
      ...extra,
    });

  it('forks the workers with the environment and is listening once every worker listens', async () => {
    const cluster = new FakeCluster();
    const supervisor = start(cluster);
    expect(cluster.forked.map((w) => w.env)).to.deep.equal([
      { SYNCFLOW_WORKER_DATABASE_URL: 'postgres://x' },
      { SYNCFLOW_WORKER_DATABASE_URL: 'postgres://x' },
    ]);
    let port: number | undefined;
    void supervisor.listening.then((p) => (port = p));
    cluster.emit('message', cluster.nth(1), { type: 'syncflow:listening', port: 8443 });
    await Promise.resolve();
    expect(port).to.equal(undefined);
    cluster.emit('message', cluster.nth(2), { type: 'syncflow:listening', port: 8443 });
    expect(await supervisor.listening).to.equal(8443);
  });

  it('answers a worker asking for the metrics with the sum over all workers', async () => {
    const cluster = new FakeCluster();
    start(cluster);
    cluster.emit('message', cluster.nth(2), { type: 'syncflow:metricsReq', id: 7 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(cluster.forked[1]?.sent).to.deep.equal([{ type: 'syncflow:metricsRes', id: 7, text: 'sum 3\n' }]);
  });

  it('replaces a worker that exits, and gives up when workers keep exiting', async () => {
    const cluster = new FakeCluster();
    const supervisor = start(cluster, { maxRestarts: 2 });
    cluster.emit('exit', cluster.nth(1), 1, null);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(cluster.forked).to.have.length(3);
    cluster.emit('exit', cluster.nth(2), null, 'SIGKILL');
    cluster.emit('exit', cluster.nth(3), 1, null);
    expect(await supervisor.failed).to.match(/3 workers exited within 60 s/);
  });

  it('sends SIGTERM to every worker at shutdown and resolves when all have exited', async () => {
    const cluster = new FakeCluster();
    const supervisor = superviseWorkers({
      cluster,
      count: 2,
      logger: silent,
      metrics: () => Promise.resolve(''),
    });
    let done = false;
    const stopping = supervisor.shutdown().then(() => (done = true));
    expect(cluster.forked.map((w) => w.signals)).to.deep.equal([['SIGTERM'], ['SIGTERM']]);
    cluster.emit('exit', cluster.nth(1), 0, null);
    await Promise.resolve();
    expect(done).to.equal(false);
    cluster.emit('exit', cluster.nth(2), 0, null);
    await stopping;
    expect(done).to.equal(true);
    // Exits during shutdown start no replacement.
    expect(cluster.forked).to.have.length(2);
  });
});

describe('workerMetrics', () => {
  /** A worker's `process`: what it sends, and messages the primary sends back. */
  class FakeProcess extends EventEmitter {
    sent: unknown[] = [];
    send(message: unknown): boolean {
      this.sent.push(message);
      return true;
    }
  }

  it("serves the primary's sum, and fails when the primary reports an error or does not answer", async () => {
    const registry = new Registry();
    new Counter({ name: 'x_total', help: 'x', registers: [registry] }).inc();
    const proc = new FakeProcess();
    const metrics = workerMetrics(registry, proc, 20);
    expect(metrics.contentType).to.equal(registry.contentType);
    const first = metrics.metrics();
    expect(proc.sent).to.deep.equal([{ type: 'syncflow:metricsReq', id: 0 }]);
    proc.emit('message', { type: 'syncflow:metricsRes', id: 0, text: 'x_total 2\n' });
    expect(await first).to.equal('x_total 2\n');
    const second = metrics.metrics().catch((e: unknown) => (e as Error).message);
    proc.emit('message', { type: 'syncflow:metricsRes', id: 1, error: 'Operation timed out.' });
    expect(await second).to.equal('Operation timed out.');
    const third = await metrics.metrics().catch((e: unknown) => (e as Error).message);
    expect(third).to.match(/did not answer/);
  });

  it('tells the primary the port it listens on', () => {
    const proc = new FakeProcess();
    reportListening(8443, proc);
    expect(proc.sent).to.deep.equal([{ type: 'syncflow:listening', port: 8443 }]);
  });
});
