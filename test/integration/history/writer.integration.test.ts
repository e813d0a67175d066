import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { History } from '../../../history/index.ts';
import { announceSkip, openFreshHistory, TEST_DATABASE_URL } from './database.ts';
import { execution } from './fixtures.ts';

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
      history = await openFreshHistory(registry);
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
