/** The cross-replica fan-out over the embedded PGlite database (the same contract as on PostgreSQL). */
import { SILENT_LOGGER } from '../core/logger.ts';
import { liveFanoutContract } from '../test/integration/live-fanout-contract.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';

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
