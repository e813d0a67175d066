/**
 * The watch request options of workflowexecutions that clients send on their own: client-go (1.35
 * and later) opens informers with a streaming list (`sendInitialEvents=true`), which this server
 * does not serve; it must refuse it as kube-apiserver does with the WatchList feature off, so that
 * the reflector falls back to list, then watch. The watch itself is covered by the app tests.
 */
import { expect } from 'chai';
import express from 'express';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { ExecutionStore, ExecutionWatch, ExecutionWatchOptions } from '../../../history/store.ts';
import type { ExecutionService } from '../../execution/service.ts';
import { LiveBus } from '../../execution/bus.ts';
import { LiveExecutions } from '../../execution/live.ts';
import { TrustingGuard } from '../../http/guard.ts';
import { executionRoutes } from './rest.ts';

/** A store whose watch has no events and ends when closed; it records what it was asked. */
class EmptyWatchStore {
  readonly watches: ExecutionWatchOptions[] = [];
  watch(options: ExecutionWatchOptions = {}): Promise<ExecutionWatch> {
    this.watches.push(options);
    let close: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (close = resolve));
    return Promise.resolve({
      close,
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          await closed;
          return { value: undefined, done: true as const };
        },
      }),
    });
  }
  currentResourceVersion(): Promise<string> {
    return Promise.resolve('7');
  }
}

describe('workflowexecutions watch options', () => {
  let server: Server;
  let port: number;
  let store: EmptyWatchStore;

  beforeEach(async () => {
    store = new EmptyWatchStore();
    const app = express();
    app.use(
      executionRoutes({
        service: { live: new LiveExecutions(new LiveBus()) } as unknown as ExecutionService,
        store: store as unknown as ExecutionStore,
        guard: new TrustingGuard(),
      }),
    );
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** GETs `path`; resolves with the status and the body (a watch is cut after its first bytes or 300 ms). */
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        const done = () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        };
        const timer = setTimeout(done, 300);
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', done);
      });
      req.on('error', reject);
      req.end();
    });

  for (const value of ['true', 'false']) {
    it(`refuses sendInitialEvents=${value} with 422 naming the field and the fallback, before watching`, async () => {
      const reply = await get(
        `/namespaces/shop/workflowexecutions?watch=true&sendInitialEvents=${value}&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
      );
      expect(reply.status).to.equal(422);
      const status = JSON.parse(reply.body) as {
        reason: string;
        message: string;
        details: { causes: { field: string; message: string }[] };
      };
      expect(status.reason).to.equal('Invalid');
      expect(status.details.causes.map((c) => c.field)).to.deep.equal(['sendInitialEvents']);
      expect(status.message).to.contain('sendInitialEvents');
      expect(status.message).to.contain("watch from the list's resourceVersion");
      expect(store.watches).to.deep.equal([]);
    });
  }

  it('serves a watch without sendInitialEvents (what client-go falls back to)', async () => {
    const reply = await get(
      '/namespaces/shop/workflowexecutions?watch=true&resourceVersion=7&allowWatchBookmarks=true',
    );
    expect(reply.status).to.equal(200);
    expect(store.watches).to.deep.equal([{ namespace: 'shop', resourceVersion: '7' }]);
  });
});
