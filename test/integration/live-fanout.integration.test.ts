/** The cross-replica fan-out over a real PostgreSQL (the same contract as on embedded PGlite). */
import pg from 'pg';
import { announceSkip, TEST_DATABASE_URL } from './history/database.ts';
import { liveFanoutContract } from './live-fanout-contract.ts';

if (TEST_DATABASE_URL === undefined) {
  announceSkip(
    'live fan-out over PostgreSQL',
    'TEST_DATABASE_URL is not set; run through `hack/postgres.sh run`',
  );
} else {
  const url = TEST_DATABASE_URL;
  describe('live fan-out over PostgreSQL', function () {
    this.timeout(60_000);
    liveFanoutContract({
      connectionString: () => url,
      async dropConnections(applicationName) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
            [applicationName],
          );
        } finally {
          await client.end();
        }
      },
    });
  });
}
