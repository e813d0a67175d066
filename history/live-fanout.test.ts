/** The cross-replica fan-out over the embedded PGlite database (the same contract as on PostgreSQL). */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { SILENT_LOGGER } from '../core/logger.ts';
import { counter, liveFanoutContract, until } from '../test/integration/live-fanout-contract.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { openHistory } from './index.ts';

describe('live fan-out over embedded PGlite', function () {
  this.timeout(120_000);
  let db: EmbeddedDatabase;

  before(async () => {
    db = await startEmbeddedDatabase({ logger: SILENT_LOGGER, maxConnections: 16 });
  });

  after(async () => {
    await db?.close();
  });

  liveFanoutContract({ connectionString: () => db.connectionString });
});

describe('openHistory live fan-out', function () {
  this.timeout(120_000);

  it('opens fan-outs over its own database, each on its own connection, and closes them with the history', async () => {
    const registry = new Registry();
    const history = await openHistory({ logger: SILENT_LOGGER, registry, retention: false });
    try {
      const a = history.openLiveFanout<{ n: number }>();
      const b = history.openLiveFanout<{ n: number }>();
      const received: number[] = [];
      b.receive((m) => received.push(m.n));
      b.interest(new Set(['shop']));
      await until('A learns that B listens', () => a.remoteListening('shop'));
      a.send({ n: 1 });
      await until('B receives', () => received.length === 1);
      await history.close();
      a.send({ n: 2 });
      expect(await counter(registry, 'syncflow_live_fanout_dropped_total', { reason: 'closed' })).to.equal(1);
    } finally {
      await history.close().catch(() => undefined);
    }
  });
});
