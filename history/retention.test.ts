import { expect } from 'chai';
import { RecordingLogger } from './testing.ts';
import { DEFAULT_RETENTION_MS, RetentionSweeper, type RetentionTarget } from './retention.ts';

/** A target holding `executions` old rows and `changes` old change rows. */
class FakeTarget implements RetentionTarget {
  readonly calls: string[] = [];
  failure: Error | undefined;
  constructor(
    private executions: number,
    private changes: number,
  ) {}
  async deleteCreatedBefore(cutoff: Date, batchSize: number): Promise<number> {
    if (this.failure) throw this.failure;
    this.calls.push(`executions<${cutoff.toISOString()}`);
    const n = Math.min(batchSize, this.executions);
    this.executions -= n;
    return n;
  }
  async compactChanges(cutoff: Date, batchSize: number): Promise<number> {
    this.calls.push(`changes<${cutoff.toISOString()}`);
    const n = Math.min(batchSize, this.changes);
    this.changes -= n;
    return n;
  }
}

describe('RetentionSweeper', () => {
  const now = Date.parse('2026-06-10T00:00:00Z');

  it('deletes past the default 7 days in small batches until a batch comes back short', async () => {
    const target = new FakeTarget(5, 3);
    const logger = new RecordingLogger();
    const sweeper = new RetentionSweeper({ target, logger, batchSize: 2, pauseMs: 0, now: () => now });
    expect(await sweeper.sweep()).to.deep.equal({ executions: 5, changes: 3 });
    expect(target.calls).to.deep.equal([
      ...Array(3).fill(`executions<${new Date(now - DEFAULT_RETENTION_MS).toISOString()}`),
      ...Array(2).fill(`changes<${new Date(now - 5 * 60 * 1000).toISOString()}`),
    ]);
    expect(logger.at('info')).to.deep.equal(['history retention sweep done']);
  });

  it('purges expired name reservations in batches too, when the store keeps them', async () => {
    const target = Object.assign(new FakeTarget(0, 0), {
      reservations: 5,
      async purgeNameReservations(
        this: FakeTarget & { reservations: number },
        batchSize: number,
      ): Promise<number> {
        this.calls.push('reservations');
        const n = Math.min(batchSize, this.reservations);
        this.reservations -= n;
        return n;
      },
    });
    await new RetentionSweeper({
      target,
      logger: new RecordingLogger(),
      batchSize: 2,
      pauseMs: 0,
      now: () => now,
    }).sweep();
    expect(target.calls.filter((c) => c === 'reservations')).to.have.length(3);
    expect(target.reservations).to.equal(0);
  });

  it('uses the configured age', async () => {
    const target = new FakeTarget(0, 0);
    await new RetentionSweeper({
      target,
      logger: new RecordingLogger(),
      maxAgeMs: 1000,
      now: () => now,
    }).sweep();
    expect(target.calls[0]).to.equal(`executions<${new Date(now - 1000).toISOString()}`);
  });

  it('runs periodically once started and survives a failing sweep', async () => {
    const target = new FakeTarget(0, 0);
    target.failure = new Error('connect ECONNREFUSED');
    const logger = new RecordingLogger();
    const sweeper = new RetentionSweeper({ target, logger, intervalMs: 1, now: () => now });
    sweeper.start();
    while (logger.at('warn').length < 2) await new Promise((r) => setTimeout(r, 1));
    target.failure = undefined;
    while (target.calls.length === 0) await new Promise((r) => setTimeout(r, 1));
    await sweeper.stop();
    expect(logger.at('warn')[0]).to.equal('history retention sweep failed; will retry at the next interval');
  });
});
