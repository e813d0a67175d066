/** Access to the real PostgreSQL of the integration tests (hack/postgres.sh run sets the variables). */
import pg from 'pg';
import type { Registry } from 'prom-client';
import { openHistory, type History, type HistoryOptions } from '../../../history/index.ts';
import { SILENT_LOGGER } from '../../../core/logger.ts';
import { freshSchema } from './store-contract.ts';

/** URL of the throwaway test database, or undefined when the suite should be skipped. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

/** Command that stops/starts that database (`$SYNCFLOW_PG_CTL stop|start`), for fault tests. */
export const PG_CTL = process.env.SYNCFLOW_PG_CTL;

/** Prints why a suite is skipped, so a skip is never silent. */
export function announceSkip(suite: string, reason: string): void {
  console.log(`  [skipped] ${suite}: ${reason}`);
}

/** A pool to the test database; connection errors while the server restarts are expected. */
export function testPool(max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max });
  pool.on('error', () => undefined);
  return pool;
}

/** Opens the history on the test database after emptying it; no retention sweeper runs. */
export async function openFreshHistory(
  registry: Registry,
  writer?: HistoryOptions['writer'],
): Promise<History> {
  const pool = testPool();
  await freshSchema(pool);
  await pool.end();
  return openHistory({
    databaseUrl: TEST_DATABASE_URL,
    logger: SILENT_LOGGER,
    registry,
    retention: false,
    ...(writer ? { writer } : {}),
  });
}
