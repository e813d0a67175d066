import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { SyncflowError } from '../../../core/errors.ts';
import type { History } from '../../../history/index.ts';
import { announceSkip, openFreshHistory, PG_CTL, TEST_DATABASE_URL, testPool } from './database.ts';
import { execution } from './fixtures.ts';

const run = promisify(execFile);

/** Stops (fast shutdown) or starts the test PostgreSQL. */
async function pgCtl(action: 'stop' | 'start'): Promise<void> {
  await run('bash', ['-c', `${PG_CTL} ${action}`]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (TEST_DATABASE_URL === undefined || PG_CTL === undefined) {
  announceSkip(
    'history writer across a PostgreSQL outage',
    'TEST_DATABASE_URL or SYNCFLOW_PG_CTL is not set; run through `hack/postgres.sh run`',
  );
} else {
  describe('history writer across a PostgreSQL outage', function () {
    this.timeout(180_000);
    const TOTAL = 10_000;
    const BOUND = 2_000;
    let history: History;
    const registry = new Registry();

    before(async () => {
      history = await openFreshHistory(registry, {
        maxQueued: BOUND,
        maxBatch: 500,
        retryDelayMs: 50,
        maxRetryDelayMs: 500,
      });
    });

    after(async () => {
      await history?.close();
    });

    it('keeps every acknowledged execution, refuses the rest with 503, and half-writes none', async () => {
      const acknowledged: string[] = [];
      const refused: string[] = [];
      const refusals: unknown[] = [];
      let restarted: Promise<void> | undefined;
      for (let i = 0; i < TOTAL; i++) {
        if (i === 3_000) await pgCtl('stop');
        // Once refusals are certain (database down, queue at its bound), bring it back while the stream goes on.
        if (restarted === undefined && refused.length >= 500) restarted = pgCtl('start');
        const x = execution();
        try {
          const reservation = history.writer.admit();
          reservation.record(x);
          acknowledged.push(x.metadata.uid);
        } catch (error) {
          refusals.push(error);
          refused.push(x.metadata.uid);
        }
        if (i % 50 === 0) await sleep(5);
      }
      await restarted;
      await history.writer.flush();

      expect(acknowledged.length + refused.length).to.equal(TOTAL);
      expect(refused.length).to.be.at.least(500);
      for (const error of refusals) {
        expect(error).to.be.instanceOf(SyncflowError);
        expect((error as SyncflowError).code).to.equal('ServiceUnavailable');
        expect((error as SyncflowError).status).to.equal(503);
      }
      const pool = testPool();
      try {
        const stored = await pool.query<{ uid: string }>('SELECT uid::text AS uid FROM executions');
        const storedUids = new Set(stored.rows.map((r) => r.uid));
        expect(acknowledged.filter((uid) => !storedUids.has(uid))).to.deep.equal([]);
        expect(refused.filter((uid) => storedUids.has(uid))).to.deep.equal([]);
        expect(storedUids.size).to.equal(acknowledged.length);
        const halfWritten = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM executions e
           WHERE e.task_count <> (SELECT count(*) FROM task_executions t WHERE t.execution_id = e.id)`,
        );
        expect(halfWritten.rows[0]?.n).to.equal(0);
        const tasks = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM task_executions');
        expect(tasks.rows[0]?.n).to.equal(acknowledged.length * 5);
      } finally {
        await pool.end();
      }
      expect(history.writer.canAccept()).to.equal(true);
      const failures = await registry.getSingleMetric('syncflow_history_flush_failures_total')?.get();
      expect(failures?.values[0]?.value).to.be.greaterThan(0);
    });
  });
}
