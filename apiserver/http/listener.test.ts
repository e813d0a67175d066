import { expect } from 'chai';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { DEFAULT_CONNECTION_LIMITS, reusePortSupported, SecureListener } from './listener.ts';
import { makeBenchPki, type BenchPki } from '../../bench/api/pki.ts';

/** Resolves with how a TLS client's connection ended: 'secure' once the handshake completed, else 'closed'. */
function tlsOutcome(port: number, pki: BenchPki): Promise<'secure' | 'closed'> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.servingCa });
    socket.once('secureConnect', () => {
      resolve('secure');
      socket.destroy();
    });
    socket.once('error', () => resolve('closed'));
    socket.once('close', () => resolve('closed'));
  });
}

describe('SecureListener', function () {
  this.timeout(20_000);
  let pki: BenchPki;
  const listeners: SecureListener[] = [];

  before(async function () {
    this.timeout(60_000);
    pki = await makeBenchPki();
  });

  afterEach(async () => {
    for (const listener of listeners.splice(0)) {
      listener.closeAllConnections();
      await listener.close();
    }
  });

  async function start(
    limits: Partial<typeof DEFAULT_CONNECTION_LIMITS>,
    acceptors?: number,
  ): Promise<{ listener: SecureListener; port: number }> {
    const listener = new SecureListener({
      tls: { cert: pki.serverCert, key: pki.serverKey },
      handler: (_req, res) => res.end('ok'),
      limits: { ...DEFAULT_CONNECTION_LIMITS, ...limits },
      ...(acceptors ? { acceptors } : {}),
    });
    listeners.push(listener);
    return { listener, port: await listener.listen(0, '127.0.0.1') };
  }

  it('closes connections beyond --max-connections as they are accepted, before any TLS work', async () => {
    const { port, listener } = await start({ maxConnections: 2 }, 1);
    const open = [
      tlsConnect({ host: '127.0.0.1', port, ca: pki.servingCa }),
      tlsConnect({ host: '127.0.0.1', port, ca: pki.servingCa }),
    ];
    await Promise.all(open.map((s) => new Promise((resolve) => s.once('secureConnect', resolve))));
    expect(await tlsOutcome(port, pki)).to.equal('closed');
    expect(await listener.connections()).to.equal(2);
    for (const socket of open) socket.destroy();
  });

  it('drops a client that never completes the TLS handshake after the handshake deadline', async () => {
    const { port } = await start({ handshakeTimeoutMs: 200 }, 1);
    const closed = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(true));
    });
    expect(closed).to.equal(true);
  });

  it('answers HTTPS requests with client certificates requested but not required', async () => {
    const { port } = await start({});
    const body = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.servingCa }, () =>
        socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(body).to.match(/^HTTP\/1\.1 200/);
  });

  it('while closing, answers requests on kept-alive connections with Connection: close and resolves once they are idle, long before the keep-alive timeout', async () => {
    // A replica going away: its callers must move to another replica while it finishes what it
    // started, or the grace period ends with requests cut mid-way (executions cancelled, callers
    // retrying elsewhere). The keep-alive timeout is far above this test's timeout, so a connection
    // left open until it expires fails the test.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    let nextArrived: () => void = () => undefined;
    const second = new Promise<void>((resolve) => (nextArrived = resolve));
    const listener = new SecureListener({
      tls: { cert: pki.serverCert, key: pki.serverKey },
      handler: (req, res) => {
        if (req.url === '/held') {
          arrived();
          void held.then(() => res.end('held'));
        } else {
          nextArrived();
          res.end('ok');
        }
      },
      limits: { ...DEFAULT_CONNECTION_LIMITS, keepAliveTimeoutMs: 120_000 },
      acceptors: 1,
    });
    listeners.push(listener);
    const port = await listener.listen(0, '127.0.0.1');
    // Two requests on one connection, the second sent after close() began while the first runs.
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.servingCa });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
    await first;
    const closed = listener.close();
    socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    await second;
    release();
    await ended;
    await closed;
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    expect(answers).to.have.length(2);
    expect(answers[1]).to.match(/^HTTP\/1\.1 200/);
    expect(answers[1]?.toLowerCase()).to.contain('connection: close');
    expect(answers[1]).to.match(/ok$/);
  });

  it('while closing, ends a kept-alive connection as soon as its request is answered', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const listener = new SecureListener({
      tls: { cert: pki.serverCert, key: pki.serverKey },
      handler: (_req, res) => {
        arrived();
        void held.then(() => res.end('held'));
      },
      limits: { ...DEFAULT_CONNECTION_LIMITS, keepAliveTimeoutMs: 120_000 },
      acceptors: 1,
    });
    listeners.push(listener);
    const port = await listener.listen(0, '127.0.0.1');
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.servingCa });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
    await first;
    const closed = listener.close();
    release();
    await closed;
    await ended;
    expect(text).to.match(/^HTTP\/1\.1 200[\s\S]*held$/);
  });

  it('knows which runtimes can share a port between several servers (SO_REUSEPORT)', () => {
    for (const [version, platform, expected] of [
      ['20.18.0', 'linux', false],
      ['22.11.0', 'linux', false],
      ['22.12.0', 'linux', true],
      ['23.0.0', 'linux', false],
      ['23.1.0', 'linux', true],
      ['24.0.0', 'linux', true],
      ['24.0.0', 'darwin', false],
    ] as const) {
      expect(reusePortSupported(version, platform), `${version} ${platform}`).to.equal(expected);
    }
  });

  it('accepts on several servers sharing the port where the runtime allows it', async function () {
    // reusePort needs Node >= 22.12 on Linux: skipped in the Node 20 run, run in the Node 24 one (the image's).
    if (!reusePortSupported()) this.skip();
    const { port, listener } = await start({ maxConnections: 64 }, 4);
    expect(listener.httpsServers).to.have.length(4);
    expect(listener.httpsServers.map((s) => (s.address() as { port: number }).port)).to.deep.equal([
      port,
      port,
      port,
      port,
    ]);
    expect(listener.httpsServers.map((s) => s.maxConnections)).to.deep.equal([16, 16, 16, 16]);
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => tlsOutcome(port, pki)));
    expect(outcomes).to.deep.equal(Array(8).fill('secure'));
  });

  it('uses fewer servers when the connection cap leaves each a small share', async function () {
    // As above: only where the runtime has reusePort (the Node 24 run).
    if (!reusePortSupported()) this.skip();
    expect((await start({ maxConnections: 4096 })).listener.httpsServers).to.have.length(8);
    expect((await start({ maxConnections: 600 })).listener.httpsServers).to.have.length(2);
    expect((await start({ maxConnections: 100 })).listener.httpsServers).to.have.length(1);
  });
});
