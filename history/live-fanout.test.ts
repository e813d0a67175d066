/** The cross-replica fan-out over the embedded PGlite database (the same contract as on PostgreSQL). */
import { expect } from 'chai';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { SILENT_LOGGER } from '../core/logger.ts';
import { counter, liveFanoutContract, until } from '../test/integration/live-fanout-contract.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { openHistory } from './index.ts';

/**
 * A TCP relay to the embedded database whose connections the test can cut, as a database restart
 * would (PGlite has no backends to terminate).
 */
async function cuttableRelay(target: string): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `postgres://postgres@127.0.0.1:${address.port}/postgres`,
    cut: () => sockets.forEach((socket) => socket.destroy()),
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('live fan-out over embedded PGlite', function () {
  this.timeout(120_000);
  let db: EmbeddedDatabase;
  let relay: Awaited<ReturnType<typeof cuttableRelay>>;

  before(async () => {
    db = await startEmbeddedDatabase({ logger: SILENT_LOGGER, maxConnections: 16 });
    relay = await cuttableRelay(db.connectionString);
  });

  after(async () => {
    await relay?.close();
    await db?.close();
  });

  liveFanoutContract({
    connectionString: () => relay.url,
    // Every connection of the relay: the reconnect case opens no other.
    dropConnections: async () => relay.cut(),
  });
});

describe('openHistory live fan-out', function () {
  this.timeout(120_000);

  it('opens fan-outs over its own database, each on its own connection, and closes them with the history', async () => {
    const registry = new Registry();
    const history = await openHistory({ logger: SILENT_LOGGER, registry, retention: false });
    try {
      const a = history.openLiveFanout<{ n: number }>();
      const b = history.openLiveFanout<{ n: number }>();
      const received: number[] = [];
      b.receive((m) => received.push(m.n));
      b.interest(new Set(['shop']));
      await until('A learns that B listens', () => a.remoteListening('shop'));
      a.send({ n: 1 });
      await until('B receives', () => received.length === 1);
      await history.close();
      a.send({ n: 2 });
      expect(await counter(registry, 'syncflow_live_fanout_dropped_total', { reason: 'closed' })).to.equal(1);
    } finally {
      await history.close().catch(() => undefined);
    }
  });
});
