import { expect } from 'chai';
import { Registry } from 'prom-client';
import { openHistory, type History } from '../../../apiserver/history/index.ts';
import { silentLogger } from '../../../apiserver/history/logger.ts';
import { announceSkip, TEST_DATABASE_URL, testPool } from './database.ts';
import { execution } from './fixtures.ts';
import { freshSchema } from './store-contract.ts';

if (TEST_DATABASE_URL === undefined) {
  announceSkip(
    'openHistory on PostgreSQL',
    'TEST_DATABASE_URL is not set; run through `hack/postgres.sh run`',
  );
} else {
  describe('openHistory on PostgreSQL', function () {
    this.timeout(60_000);
    let history: History;
    const registry = new Registry();

    before(async () => {
      const pool = testPool();
      await freshSchema(pool);
      await pool.end();
      history = await openHistory({
        databaseUrl: TEST_DATABASE_URL,
        logger: silentLogger,
        registry,
        retention: false,
      });
    });

    after(async () => {
      await history.close();
    });

    it('writes what the writer accepted once flushed, tasks included, and counts it', async () => {
      const batch = Array.from({ length: 2500 }, () => execution());
      for (const x of batch) history.writer.admit().record(x);
      await history.writer.flush();
      const listed = await history.store.list({ limit: 3000 });
      expect(listed.items).to.have.length(2500);
      expect(listed.items.every((x) => x.status.tasks?.length === 5)).to.equal(true);
      const metrics = await registry.getSingleMetricAsString('syncflow_history_executions_written_total');
      expect(metrics).to.contain('syncflow_history_executions_written_total 2500');
    });

    it('names the database without credentials', () => {
      expect(history.target).to.equal(TEST_DATABASE_URL?.replace(/\/\/[^@]*@/, '//'));
    });
  });
}
