/**
 * LISTEN/NOTIFY across the connections of the embedded database. PGlite is one PostgreSQL session,
 * so PostgreSQL itself would hand a notification to whichever connection's query was running when it
 * was sent (the notifier's own), and an UNLISTEN on one connection would stop the session listening
 * for all of them. The bridge delivers each notification to the connections that LISTENed to its
 * channel, as a PostgreSQL server does.
 */
import { expect } from 'chai';
import pg from 'pg';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { RecordingLogger } from './testing.ts';

interface Received {
  channel: string;
  payload: string | undefined;
}

/** A client that keeps the notifications it receives. */
async function client(db: EmbeddedDatabase): Promise<{ client: pg.Client; received: Received[] }> {
  const c = new pg.Client({ connectionString: db.connectionString });
  const received: Received[] = [];
  c.on('notification', (n) => received.push({ channel: n.channel, payload: n.payload }));
  await c.connect();
  return { client: c, received };
}

/** Waits until `done()` holds, for at most `ms`. */
async function until(done: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('embedded database notifications', function () {
  this.timeout(120_000);
  let db: EmbeddedDatabase;
  const clients: pg.Client[] = [];

  before(async () => {
    db = await startEmbeddedDatabase({ logger: new RecordingLogger(), maxConnections: 10 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  });

  after(async () => {
    await db?.close();
  });

  it('delivers a NOTIFY of one connection to the connections that LISTEN to its channel, in order, and to no other', async () => {
    const [a, b, c, idle] = await Promise.all([client(db), client(db), client(db), client(db)]);
    clients.push(a.client, b.client, c.client, idle.client);
    await b.client.query('LISTEN fanout_test');
    await c.client.query('LISTEN "fanout_test"');
    await a.client.query("NOTIFY fanout_test, 'one'");
    await a.client.query("SELECT pg_notify('fanout_test', $1)", ['two']);
    await a.client.query(
      "BEGIN; SELECT pg_notify('fanout_test', 'three'); SELECT pg_notify('other', 'x'); COMMIT",
    );
    await until(() => b.received.length === 3 && c.received.length === 3);
    const expected = ['one', 'two', 'three'].map((payload) => ({ channel: 'fanout_test', payload }));
    expect(b.received).to.deep.equal(expected);
    expect(c.received).to.deep.equal(expected);
    expect(a.received).to.deep.equal([]);
    expect(idle.received).to.deep.equal([]);
  });

  it('keeps delivering to the other listeners after one connection UNLISTENs or goes away', async () => {
    const [a, b, c, d] = await Promise.all([client(db), client(db), client(db), client(db)]);
    clients.push(a.client, b.client, c.client);
    await b.client.query('LISTEN fanout_keep');
    await c.client.query('LISTEN fanout_keep');
    await d.client.query('LISTEN fanout_keep');
    await c.client.query('UNLISTEN fanout_keep');
    await d.client.end();
    await a.client.query("NOTIFY fanout_keep, 'still'");
    await until(() => b.received.length === 1);
    expect(b.received).to.deep.equal([{ channel: 'fanout_keep', payload: 'still' }]);
    expect(c.received).to.deep.equal([]);
  });

  it('delivers notifications a listener sends itself, and keeps its queries answering while notifications arrive', async () => {
    const [a, b] = await Promise.all([client(db), client(db)]);
    clients.push(a.client, b.client);
    await b.client.query('LISTEN fanout_self');
    const sending = (async () => {
      for (let i = 0; i < 100; i++)
        await a.client.query('SELECT pg_notify($1, $2)', ['fanout_self', `a${i}`]);
    })();
    const rows: number[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await b.client.query<{ n: number }>('SELECT $1::int AS n', [i]);
      rows.push(r.rows[0]!.n);
    }
    await sending;
    await b.client.query("NOTIFY fanout_self, 'b'");
    await until(() => b.received.length === 101);
    expect(rows).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    expect(b.received.map((r) => r.payload)).to.deep.equal([
      ...Array.from({ length: 100 }, (_, i) => `a${i}`),
      'b',
    ]);
  });
});
