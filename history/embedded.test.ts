/**
 * The embedded database's bridge under concurrent clients: PGlite is one
 * PostgreSQL session, and pglite-socket forwards each protocol message of each connection as it
 * comes, so without serialisation one client's Parse/Bind/Execute interleave with another's
 * (a watch failed with "unnamed prepared statement does not exist", and the bridge could stall).
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { execution } from '../test/integration/history/fixtures.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { openHistory } from './index.ts';
import { RecordingLogger } from './testing.ts';

/** Resolves with the work's result, or rejects naming what stalled after `ms`. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} stalled for ${ms} ms`)), ms)),
  );
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

describe('embedded database bridge', function () {
  // Starting PGlite (WebAssembly) takes seconds on a loaded 2-core machine.
  this.timeout(120_000);
  let db: EmbeddedDatabase | undefined;
  let pool: pg.Pool | undefined;

  afterEach(async () => {
    // Bounded: a stalled bridge (the defect) would keep its clients checked out for ever.
    await within(5_000, 'closing the pool', pool?.end() ?? Promise.resolve()).catch(() => undefined);
    await within(5_000, 'closing the database', db?.close() ?? Promise.resolve()).catch(() => undefined);
    pool = undefined;
    db = undefined;
  });

  it('keeps the extended-protocol messages of one client together while eight clients mix transactions, parameterised reads and failing queries', async () => {
    db = await startEmbeddedDatabase({ logger: new RecordingLogger(), maxConnections: 10 });
    pool = new pg.Pool({ connectionString: db.connectionString, max: 8 });
    const clients = pool;
    pool.on('error', () => undefined);
    await clients.query('CREATE TABLE items (id serial PRIMARY KEY, value text)');
    const errors: string[] = [];
    const workers = Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; i < 40; i++) {
        try {
          if (worker % 2 === 1) {
            // A write as the history does it: BEGIN and a statement in one simple query, then extended ones.
            const client = await clients.connect();
            try {
              await client.query('BEGIN; SELECT 1');
              await client.query('INSERT INTO items (value) VALUES ($1)', [`w${worker}-${i}`]);
              await client.query('COMMIT');
            } finally {
              client.release();
            }
          } else {
            await clients.query('SELECT id, value FROM items WHERE id > $1 ORDER BY id LIMIT $2', [i, 10]);
            // A query that fails mid-sequence: the backend skips to Sync, which must not swallow other clients' messages.
            await clients.query('SELECT 1 / 0 WHERE $1::int > 0', [1]).then(
              () => errors.push('division by zero succeeded'),
              (error: Error) =>
                error.message === 'division by zero' ? undefined : errors.push(error.message),
            );
          }
        } catch (error) {
          errors.push((error as Error).message);
        }
      }
    });
    await within(30_000, 'the bridge', Promise.all(workers));
    expect(errors).to.deep.equal([]);
    const count = await clients.query<{ n: string }>('SELECT count(*) AS n FROM items');
    expect(count.rows[0]?.n).to.equal('160');
  });

  it('serves the other clients again when a client goes away in the middle of an extended-protocol sequence', async () => {
    db = await startEmbeddedDatabase({ logger: new RecordingLogger(), maxConnections: 10 });
    const [host, port] = db.connectionString
      .replace(/^postgres:\/\/postgres@/, '')
      .replace(/\/postgres$/, '')
      .split(':') as [string, string];
    // A raw client: startup, then a Parse without its Sync, then gone.
    const socket = connect(Number(port), host);
    const startup = Buffer.from('\0\0\0\0\0\x03\0\0user\0postgres\0database\0postgres\0\0', 'latin1');
    startup.writeInt32BE(startup.length, 0);
    const query = Buffer.from('\0SELECT 1\0\0\0', 'latin1');
    const parse = Buffer.concat([Buffer.from('P\0\0\0\0', 'latin1'), query]);
    parse.writeInt32BE(parse.length - 1, 1);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('data', () => resolve());
      socket.write(startup);
    });
    socket.write(parse);
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    pool = new pg.Pool({ connectionString: db.connectionString, max: 2 });
    const reply = await within(
      10_000,
      'a query after the half-finished sequence',
      pool.query<{ one: number }>('SELECT $1::int AS one', [1]),
    );
    expect(reply.rows).to.deep.equal([{ one: 1 }]);
  });

  it('serves a watch, lists and gets while the history writes batches through a pool of eight connections', async () => {
    const logger = new RecordingLogger();
    const history = await openHistory({
      logger,
      registry: new Registry(),
      retention: false,
      poolSize: 8,
      watchPollIntervalMs: 5,
    });
    try {
      const watch = await history.store.watch({ namespace: 'shop' });
      const seen = new Set<string>();
      const watching = (async () => {
        for await (const event of watch) {
          seen.add(event.object.metadata.name);
          if (seen.size === 200) return;
        }
      })();
      const failures: string[] = [];
      const names: string[] = [];
      await within(
        60_000,
        'the history',
        Promise.all(
          Array.from({ length: 8 }, async () => {
            for (let i = 0; i < 25; i++) {
              const x = execution();
              names.push(x.metadata.name);
              history.writer.record(x);
              await history.store
                .get('shop', x.metadata.name)
                .catch((error: Error) => failures.push(`get: ${error.message}`));
              await history.store
                .list({ namespace: 'shop', limit: 5 })
                .catch((error: Error) => failures.push(`list: ${error.message}`));
              await history.store
                .storedNames([{ namespace: 'shop', name: x.metadata.name }])
                .catch((error: Error) => failures.push(`storedNames: ${error.message}`));
            }
          }),
        ),
      );
      await within(60_000, 'the watch', watching);
      watch.close();
      expect(failures).to.deep.equal([]);
      expect([...seen].sort()).to.deep.equal(names.sort());
      expect(logger.at('warn').filter((m) => !m.includes('embedded PGlite'))).to.deep.equal([]);
    } finally {
      await history.close();
    }
  });
});

describe('workers sharing one embedded database', function () {
  this.timeout(120_000);

  it('open their histories at the same time: the migrations apply once and every worker starts', async () => {
    // PGlite is one PostgreSQL session, so the migration's advisory lock does not keep two
    // connections apart: each worker must see what another applied before it applies a migration.
    const db = await startEmbeddedDatabase({ logger: new RecordingLogger(), maxConnections: 40 });
    try {
      const loggers = Array.from({ length: 4 }, () => new RecordingLogger());
      const opened = await Promise.allSettled(
        loggers.map((logger) =>
          openHistory({
            logger,
            registry: new Registry(),
            retention: false,
            databaseUrl: db.connectionString,
          }),
        ),
      );
      const failures = opened.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
      expect(failures).to.deep.equal([]);
      const applied = loggers.flatMap((l) =>
        l.at('info').filter((m) => m.includes('applied history migration')),
      );
      const pool = new pg.Pool({ connectionString: db.connectionString, max: 1 });
      const versions = (await pool.query<{ version: number }>('SELECT version FROM schema_migrations')).rows;
      await pool.end();
      expect(applied).to.have.length(versions.length);
    } finally {
      await db.close();
    }
  });
});

describe('an embedded database that cannot start', function () {
  this.timeout(120_000);

  it('reports a database that cannot start (a data directory it cannot use) as an error of start-up', async () => {
    const error = await startEmbeddedDatabase({
      logger: new RecordingLogger(),
      dataDir: '/etc/hostname/syncflow-cannot-be-here',
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(/embedded database/);
  });
});

describe('the embedded database’s memory', function () {
  this.timeout(180_000);

  it('serves a fresh in-memory database without the memory its initdb grew (initialised once, in a throwaway thread)', async () => {
    // PGlite's initdb grows its WebAssembly memory by some 350 MB that it never gives back; a
    // cluster loaded from a pristine copy starts without it.
    const before = process.memoryUsage().rss;
    const db = await startEmbeddedDatabase({ logger: new RecordingLogger(), maxConnections: 4 });
    const pool = new pg.Pool({ connectionString: db.connectionString, max: 1 });
    try {
      await pool.query('CREATE TABLE t (x int); INSERT INTO t VALUES (1)');
      expect((await pool.query('SELECT x FROM t')).rows).to.deep.equal([{ x: 1 }]);
      const grown = (process.memoryUsage().rss - before) / 1024 / 1024;
      // About 740 MB when initdb ran in the serving PGlite; 350–420 MB now (with and without the cache).
      expect(grown, `MB the database added to the process`).to.be.below(550);
    } finally {
      await pool.end();
      await db.close();
    }
  });

  it('initialises a data directory once, then serves it (the data survives a restart)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncflow-embedded-'));
    try {
      for (const round of [1, 2]) {
        const db = await startEmbeddedDatabase({ logger: new RecordingLogger(), dataDir: dir });
        const pool = new pg.Pool({ connectionString: db.connectionString, max: 1 });
        try {
          if (round === 1) await pool.query('CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)');
          expect((await pool.query('SELECT x FROM kept')).rows).to.deep.equal([{ x: 7 }]);
        } finally {
          await pool.end();
          await db.close();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
