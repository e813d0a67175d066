import { expect } from 'chai';
import pg from 'pg';
import { describeStoreContract } from '../test/integration/history/store-contract.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { SyncflowError } from '../core/errors.ts';
import { SILENT_LOGGER } from '../core/logger.ts';
import { applyMigrations } from './migrate.ts';

describe('PgExecutionStore on embedded PGlite', function () {
  this.timeout(60_000);
  let db: EmbeddedDatabase;

  before(async function () {
    // Embedded PGlite (WebAssembly) starts slowly on a loaded 2-core machine.
    this.timeout(120_000);
    db = await startEmbeddedDatabase({ logger: SILENT_LOGGER, maxConnections: 32 });
  });

  after(async () => {
    await db.close();
  });

  it('serves a loopback postgres:// URL', () => {
    expect(db.connectionString).to.match(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  });

  it('rolls back a failing migration and names it with the database message', async () => {
    const pool = new pg.Pool({ connectionString: db.connectionString, max: 1 });
    try {
      await pool.query('DROP TABLE IF EXISTS schema_migrations, probe');
      const migrations = [
        { version: 1, name: 'probe', sql: 'CREATE TABLE probe (x int)' },
        { version: 2, name: 'broken', sql: 'CREATE TABLE probe (x int)' },
      ];
      try {
        await applyMigrations(pool, SILENT_LOGGER, migrations);
        expect.fail('expected an error');
      } catch (error) {
        expect(error).to.be.instanceOf(SyncflowError);
        expect((error as Error).message).to.contain('history migration 2_broken failed');
        expect((error as Error).message).to.contain('already exists');
      }
      const applied = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(applied.rows).to.deep.equal([{ version: 1 }]);
    } finally {
      await pool.query('DROP TABLE IF EXISTS schema_migrations, probe');
      await pool.end();
    }
  });

  describeStoreContract('the store contract', () => ({
    sharedSession: true,
    newPool() {
      const pool = new pg.Pool({ connectionString: db.connectionString, max: 4 });
      pool.on('error', () => undefined);
      return pool;
    },
  }));
});
