import { announceSkip, TEST_DATABASE_URL, testPool } from './database.ts';
import { describeStoreContract } from './store-contract.ts';

if (TEST_DATABASE_URL === undefined) {
  announceSkip(
    'PgExecutionStore on PostgreSQL',
    'TEST_DATABASE_URL is not set; run through `hack/postgres.sh run`',
  );
} else {
  describeStoreContract('PgExecutionStore on PostgreSQL', () => ({ newPool: () => testPool() }));
}
