import { expect } from 'chai';
import pg from 'pg';
import { describeStoreContract } from '../../test/integration/history/store-contract.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { silentLogger } from './logger.ts';

describe('PgExecutionStore on embedded PGlite', function () {
  this.timeout(60_000);
  let db: EmbeddedDatabase;

  before(async () => {
    db = await startEmbeddedDatabase({ logger: silentLogger, maxConnections: 32 });
  });

  after(async () => {
    await db.close();
  });

  it('serves a loopback postgres:// URL', () => {
    expect(db.connectionString).to.match(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  });

  describeStoreContract('the store contract', () => ({
    newPool() {
      const pool = new pg.Pool({ connectionString: db.connectionString, max: 4 });
      pool.on('error', () => undefined);
      return pool;
    },
  }));
});
