/**
 * What the cross-replica fan-out of live messages must do over one database, run against a real
 * PostgreSQL (live-fanout.integration.test.ts) and against embedded PGlite (history/live-fanout.test.ts):
 * each transport plays one server replica, on its own connection.
 */
import { expect } from 'chai';
import pg from 'pg';
import { Registry } from 'prom-client';
import { SILENT_LOGGER, type Logger } from '../../core/logger.ts';
import { PgLiveFanout, type PgLiveFanoutOptions } from '../../history/live-fanout.ts';
import { createLiveFanoutMetrics } from '../../history/metrics.ts';

/** A message as the contract publishes it: the fan-out knows only its namespace. */
export interface TestMessage {
  namespace: string;
  execution: string;
  seq: number;
  text: string;
}

/** How the contract reaches its database. */
export interface FanoutHarness {
  connectionString(): string;
  /** Drops every connection of the fan-out (as a database restart would); absent where impossible. */
  dropConnections?(applicationName: string): Promise<void>;
}

/** Waits until `done()` holds; fails naming `what` after `ms`. */
export async function until(
  what: string,
  done: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Reads a counter of the registry (summed over the labels given). */
export async function counter(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  let total = 0;
  for (const value of (metric?.values ?? []) as { value: number; labels: Record<string, unknown> }[]) {
    if (Object.entries(labels).every(([k, v]) => value.labels[k] === v)) total += value.value;
  }
  return total;
}

/** The fan-out contract. */
export function liveFanoutContract(harness: FanoutHarness): void {
  // Each test its own channel, so nothing of an earlier test (or another suite) reaches it.
  let channel = '';
  let counterOfChannel = 0;
  const opened: PgLiveFanout<TestMessage>[] = [];
  const observers: pg.Client[] = [];

  const fanout = async (
    options: Partial<PgLiveFanoutOptions> & { logger?: Logger; registry?: Registry } = {},
  ): Promise<{ fanout: PgLiveFanout<TestMessage>; received: TestMessage[]; registry: Registry }> => {
    const registry = options.registry ?? new Registry();
    const f = new PgLiveFanout<TestMessage>({
      connectionString: harness.connectionString(),
      logger: SILENT_LOGGER,
      metrics: createLiveFanoutMetrics(registry),
      channel,
      ...options,
    });
    const received: TestMessage[] = [];
    f.receive((m) => received.push(m));
    opened.push(f);
    await f.start();
    return { fanout: f, received, registry };
  };

  /** A plain client that counts what is notified on the data channel. */
  const observe = async (): Promise<string[]> => {
    const client = new pg.Client({ connectionString: harness.connectionString() });
    client.on('error', () => undefined);
    await client.connect();
    observers.push(client);
    const seen: string[] = [];
    client.on('notification', (n) => {
      if (n.channel === channel) seen.push(n.payload ?? '');
    });
    await client.query(`LISTEN ${channel}`);
    return seen;
  };

  const message = (
    execution: string,
    seq: number,
    namespace = 'shop',
    text = `event ${seq}`,
  ): TestMessage => ({
    namespace,
    execution,
    seq,
    text,
  });

  beforeEach(() => {
    channel = `live_test_${process.pid}_${++counterOfChannel}`;
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((f) => f.close()));
    await Promise.all(observers.splice(0).map((c) => c.end().catch(() => undefined)));
  });

  it("delivers A's messages to B's receiver in each execution's order, and none back to A", async () => {
    const a = await fanout();
    const b = await fanout();
    b.fanout.interest(new Set(['shop']));
    await until('A learns that B listens to shop', () => a.fanout.remoteListening('shop'));
    expect(a.fanout.remoteListening('other')).to.equal(false);
    const sent: TestMessage[] = [];
    for (let seq = 1; seq <= 300; seq++) {
      for (const execution of ['x1', 'x2', 'x3']) {
        const m = message(execution, seq);
        sent.push(m);
        a.fanout.send(m);
      }
      if (seq % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await until('B receives all', () => b.received.length === sent.length);
    expect(b.received).to.deep.equal(sent);
    expect(a.received).to.deep.equal([]);
    // A counts a batch once its statement returns, which can be after B received it.
    await until(
      'A counts what it sent',
      async () =>
        (await counter(a.registry, 'syncflow_live_fanout_messages_total', { direction: 'sent' })) === 900,
    );
    expect(
      await counter(b.registry, 'syncflow_live_fanout_messages_total', { direction: 'received' }),
    ).to.equal(900);
  });

  it('is silent while no other replica listens: nothing is notified, and interest is announced only while it lasts', async () => {
    const seen = await observe();
    const presence: string[] = [];
    const presenceClient = new pg.Client({ connectionString: harness.connectionString() });
    await presenceClient.connect();
    observers.push(presenceClient);
    presenceClient.on('notification', (n) => presence.push(n.payload ?? ''));
    await presenceClient.query(`LISTEN ${channel}_presence`);
    const a = await fanout({ interestTtlMs: 300 });
    const b = await fanout({ interestTtlMs: 300 });
    expect(a.fanout.remoteListening('shop')).to.equal(false);
    // Each replica says hello once as it starts (to learn the others' interest), then nothing.
    await until('the two hellos', () => presence.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(presence).to.have.length(2);
    expect(seen).to.deep.equal([]);
    b.fanout.interest(new Set(['shop']));
    await until('A learns that B listens', () => a.fanout.remoteListening('shop'));
    // Heartbeats while B listens (the TTL is 300 ms), none after it stops.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(a.fanout.remoteListening('shop')).to.equal(true);
    b.fanout.interest(new Set());
    await until('A learns that B stopped', () => !a.fanout.remoteListening('shop'));
    const announced = presence.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(presence.length).to.equal(announced);
    expect(seen).to.deep.equal([]);
  });

  it("learns the interest of replicas that started before it, and counts every namespace for a replica that listens to all ('')", async () => {
    const b = await fanout();
    b.fanout.interest(new Set(['']));
    const a = await fanout();
    await until('A learns that B listens to everything', () => a.fanout.remoteListening('any'));
  });

  it('stops counting a replica that stops announcing once its interest expires', async () => {
    const a = await fanout();
    const ghost = new pg.Client({ connectionString: harness.connectionString() });
    await ghost.connect();
    observers.push(ghost);
    // What a replica that then dies (no goodbye) last said.
    await ghost.query('SELECT pg_notify($1, $2)', [
      `${channel}_presence`,
      JSON.stringify({ replica: 'ghost', namespaces: ['shop'], ttlMs: 300 }),
    ]);
    await until('A counts the ghost', () => a.fanout.remoteListening('shop'));
    await until('the ghost expires', () => !a.fanout.remoteListening('shop'), 5_000);
  });

  it('ignores notifications it cannot read on its channels (logging no payload) and goes on delivering', async () => {
    const warnings: string[] = [];
    const logger: Logger = {
      ...SILENT_LOGGER,
      warn: (fields, msg) => warnings.push(`${msg} ${JSON.stringify(fields)}`),
    };
    const a = await fanout();
    const b = await fanout({ logger });
    b.fanout.interest(new Set(['shop']));
    await until('A learns that B listens', () => a.fanout.remoteListening('shop'));
    const other = new pg.Client({ connectionString: harness.connectionString() });
    await other.connect();
    observers.push(other);
    await other.query('SELECT pg_notify($1, $2)', [`${channel}_presence`, 'secret-not-json']);
    await other.query('SELECT pg_notify($1, $2)', [channel, 'someone 1 0 1\n{secret-not-json']);
    await other.query('SELECT pg_notify($1, $2)', [channel, 'someone 2 0 99999\nsecret']);
    a.fanout.send(message('x', 1));
    await until('B receives', () => b.received.length === 1);
    expect(b.received).to.deep.equal([message('x', 1)]);
    expect(warnings).to.have.length(2);
    expect(warnings.join()).not.to.include('secret');
  });

  it('carries messages larger than a notification (8000 bytes) whole, multi-byte text included, in order with small ones', async () => {
    const a = await fanout();
    const b = await fanout();
    b.fanout.interest(new Set(['shop']));
    await until('A learns that B listens', () => a.fanout.remoteListening('shop'));
    const big = (n: number) => 'é€😀x'.repeat(n);
    const sent = [
      message('x', 1),
      message('x', 2, 'shop', big(7_000)),
      message('x', 3),
      message('x', 4, 'shop', big(1_999)),
      message('x', 5, 'shop', big(20_000)),
    ];
    for (const m of sent) a.fanout.send(m);
    await until('B receives all', () => b.received.length === sent.length);
    expect(b.received).to.deep.equal(sent);
  });

  it('drops what exceeds its queue bound with a counter and one warning that carries no payload, and never throws', async () => {
    const warnings: string[] = [];
    const logger: Logger = {
      ...SILENT_LOGGER,
      warn: (fields, msg) => warnings.push(`${msg} ${JSON.stringify(fields)}`),
    };
    const a = await fanout({ maxQueuedBytes: 20_000, logger });
    const b = await fanout();
    b.fanout.interest(new Set(['shop']));
    await until('A learns that B listens', () => a.fanout.remoteListening('shop'));
    for (let i = 0; i < 100; i++) a.fanout.send(message('x', i, 'shop', `secret-${'s'.repeat(1_000)}`));
    const unserialisable = { ...message('x', 101), text: 1n } as unknown as TestMessage;
    expect(() => a.fanout.send(unserialisable)).not.to.throw();
    const dropped = await counter(a.registry, 'syncflow_live_fanout_dropped_total');
    expect(dropped).to.be.within(70, 90);
    await until('B receives the rest', () => b.received.length === 101 - dropped);
    expect(b.received.map((m) => m.seq)).to.deep.equal(b.received.map((m) => m.seq).sort((x, y) => x - y));
    expect(warnings).to.have.length(1);
    expect(warnings.join()).not.to.include('secret');
  });

  it('reconnects after losing its connection: listens and announces again, and delivers what is sent after', async function () {
    // Only harnesses that can cut the fan-out's connection (both do today: a relay on PGlite,
    // pg_terminate_backend on PostgreSQL) run it; a harness without that way skips.
    if (!harness.dropConnections) return this.skip();
    const a = await fanout({ applicationName: `${channel}_a`, reconnectDelayMs: 50 });
    const b = await fanout({ applicationName: `${channel}_b`, reconnectDelayMs: 50 });
    b.fanout.interest(new Set(['shop']));
    await until('A learns that B listens', () => a.fanout.remoteListening('shop'));
    await harness.dropConnections(`${channel}_b`);
    await harness.dropConnections(`${channel}_a`);
    // A may have seen B's interest expire meanwhile: after the reconnects B announces it again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await until('A learns again that B listens', () => a.fanout.remoteListening('shop'));
    for (let seq = 1; seq <= 10; seq++) a.fanout.send(message('x', seq));
    await until('B receives after the reconnect', () => b.received.length >= 10);
    expect(b.received.slice(-10).map((m) => m.seq)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
}
