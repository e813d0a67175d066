import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Cancellation } from '../core/engine/cancellation.ts';
import type { TaskRequest } from '../core/engine/task-http.ts';
import { SyncflowError } from '../core/errors.ts';
import { EgressPolicy } from './egress/policy.ts';
import { WsTaskClient } from './ws-client.ts';

/** A ws upstream on loopback: `onConnection` decides what each connection does. */
async function upstream(
  onConnection: (socket: WebSocket, request: IncomingMessage) => void,
  refuse?: number,
): Promise<{ url: string; server: Server; seen: IncomingMessage[]; close: () => Promise<void> }> {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const seen: IncomingMessage[] = [];
  server.on('upgrade', (request, socket, head) => {
    seen.push(request);
    if (refuse) {
      socket.end(
        `HTTP/1.1 ${refuse} Refused\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"error":"no!"}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/stream`,
    server,
    seen,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const request = (url: string, extra: Partial<TaskRequest> = {}): TaskRequest => ({
  method: 'GET',
  url,
  headers: { authorization: 'Bearer t0ken-value' },
  body: '{"subscribe":"ACME"}',
  signal: new Cancellation(),
  maxResponseBytes: 1024,
  ...extra,
});

describe('WsTaskClient', () => {
  const loopback = new WsTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });

  it('connects with the headers, sends the message once open and resolves with the accepted message', async () => {
    const up = await upstream((socket) => {
      socket.send('hello');
      socket.on('message', (data) => {
        const { subscribe } = JSON.parse(String(data)) as { subscribe: string };
        socket.send(JSON.stringify({ symbol: subscribe, price: 1 }));
        socket.send(JSON.stringify({ symbol: subscribe, price: 2 }));
      });
    });
    try {
      const seen: string[] = [];
      const response = await loopback.exchange(request(up.url), (text) => {
        seen.push(text);
        return seen.length === 3;
      });
      expect(response.status).to.equal(101);
      expect(JSON.parse(response.body.toString())).to.deep.equal({ symbol: 'ACME', price: 2 });
      expect(up.seen[0]?.headers.authorization).to.equal('Bearer t0ken-value');
    } finally {
      await up.close();
    }
  });

  it('refuses destinations the egress policy denies, before connecting', async () => {
    const up = await upstream(() => {});
    try {
      const strict = new WsTaskClient({ policy: new EgressPolicy() });
      const error = await strict.exchange(request(up.url), () => true).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(SyncflowError);
      expect((error as SyncflowError).code).to.equal('EgressDenied');
      expect(up.seen).to.have.length(0);
      const scheme = await loopback
        .exchange(request('http://127.0.0.1:1/x'), () => true)
        .catch((e: unknown) => e);
      expect((scheme as SyncflowError).code).to.equal('EgressDenied');
    } finally {
      await up.close();
    }
  });

  it('resolves with the answer of a refused handshake, for the engine to classify', async () => {
    const up = await upstream(() => {}, 503);
    try {
      const response = await loopback.exchange(request(up.url), () => true);
      expect(response.status).to.equal(503);
      expect(response.body.toString()).to.equal('{"error":"no!"}');
    } finally {
      await up.close();
    }
  });

  it('fails with ConnectError when the connection closes before the awaited message', async () => {
    const up = await upstream((socket) => socket.close(1011, 'bye'));
    try {
      const error = await loopback.exchange(request(up.url), () => true).catch((e: unknown) => e);
      expect((error as SyncflowError).code).to.equal('ConnectError');
      expect((error as SyncflowError).message).to.contain('1011');
    } finally {
      await up.close();
    }
  });

  it('fails with ResponseTooLarge for a message over the limit', async () => {
    const up = await upstream((socket) => socket.send('x'.repeat(5000)));
    try {
      const error = await loopback.exchange(request(up.url), () => true).catch((e: unknown) => e);
      expect((error as SyncflowError).code).to.equal('ResponseTooLarge');
    } finally {
      await up.close();
    }
  });

  it('rejects with the signal reason and closes the connection when cancelled', async () => {
    let closed: () => void = () => {};
    const gone = new Promise<void>((resolve) => (closed = resolve));
    const up = await upstream((socket) => socket.on('close', () => closed()));
    try {
      const signal = new Cancellation();
      const pending = loopback.exchange(request(up.url, { signal }), () => false);
      while (up.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const reason = new SyncflowError('Timeout', 'attempt timed out');
      signal.abort(reason);
      expect(await pending.catch((e: unknown) => e)).to.equal(reason);
      await gone;
    } finally {
      await up.close();
    }
  });

  it('passes on what the completion rule throws', async () => {
    const up = await upstream((socket) => socket.send('{}'));
    try {
      const failure = new SyncflowError('InvalidWhen', 'bad predicate');
      const error = await loopback
        .exchange(request(up.url), () => {
          throw failure;
        })
        .catch((e: unknown) => e);
      expect(error).to.equal(failure);
    } finally {
      await up.close();
    }
  });
});
