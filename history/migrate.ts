/**
 * Schema migrations: the versioned SQL files in ./migrations (`NNN_name.sql`), applied in order at
 * start-up, each in its own transaction, under a session advisory lock so replicas starting
 * together apply each file exactly once.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { SyncflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/** Advisory lock key held while migrating (two int4 keys: "sflw", 1). */
const MIGRATION_LOCK = [0x73666c77, 1] as const;

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads the migration files of a directory, ordered by version; rejects malformed or duplicate names. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) {
      throw new SyncflowError(
        'InternalError',
        `migration file "${file}" must be named NNN_name.sql (three digits, lowercase name)`,
      );
    }
    const version = Number(m[1]);
    if (migrations.some((x) => x.version === version)) {
      throw new SyncflowError('InternalError', `migration version ${m[1]} appears twice; renumber "${file}"`);
    }
    migrations.push({ version, name: m[2] ?? '', sql: await readFile(`${dir}/${file}`, 'utf8') });
  }
  return migrations;
}

/** Applies the migrations not applied yet; returns the versions it applied. */
export async function applyMigrations(
  pool: pg.Pool,
  logger: Logger,
  migrations?: Migration[],
): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  const client = await pool.connect();
  const applied: number[] = [];
  const ignore = () => undefined; // a dying connection also fails the query in progress
  client.on('error', ignore);
  try {
    await client.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
          (r) => r.version,
        ),
      );
      for (const migration of all) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          // Again inside the transaction: on the embedded database every connection shares one
          // session, where the advisory lock keeps nobody out, but a transaction does.
          const already = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [
            migration.version,
          ]);
          if (already.rowCount) {
            await client.query('COMMIT');
            continue;
          }
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (cause) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new SyncflowError(
            'InternalError',
            `history migration ${migration.version}_${migration.name} failed: ${(cause as Error).message}; fix the database or the migration and restart`,
            { cause },
          );
        }
        applied.push(migration.version);
        logger.info({ version: migration.version, migration: migration.name }, 'applied history migration');
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.off('error', ignore);
    client.release();
  }
  return applied;
}
