/**
 * A stream subscriber that never reads, while 2 × 10,000 executions run through the real run path
 * (ExecutionService, DagExecutor, live bus) and the real WebSocket endpoint over TCP: the server
 * keeps at most its per-connection limits for that reader (the heap after a full GC grows by less
 * than a small bound, where unbounded queueing would hold every message), every execution still
 * finishes, and once the reader reads again it learns how many messages it lost: what it received
 * plus what `overflow` notices report equals what was published. The figures (wall time against a
 * reader that keeps up, heap) are printed for docs/stream.md.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from 'ws';
import { oneTaskCatalog } from '../../core/definitions/testdata/one-task-catalog.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import type { TaskHttpClient } from '../../core/engine/task-http.ts';
import type { StreamMessage } from '../../core/model/stream.ts';
import { TrustingGuard } from '../../apiserver/http/guard.ts';
import { ExecutionService } from '../../apiserver/execution/service.ts';
import { StreamEndpoint } from '../../apiserver/stream/endpoint.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const EXECUTIONS = 10_000;
const CONCURRENCY = 50;

/** An upstream that answers at once. */
const instantUpstream: TaskHttpClient = {
  async send() {
    return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"ok":true}') };
  },
  async close() {},
};

/** A history that records nothing (the stream is what is measured). */
const history = {
  admit: () => ({ record() {}, release() {} }),
  flush: async () => {},
  pending: () => undefined,
};
const store = {
  get: async () => undefined,
  storedNames: async () => new Set<string>(),
  reserveName: async () => true,
  releaseName: async () => {},
  taskDurationStats: async () => [],
  recordRevision: async () => ({}),
  watch: async () => {
    throw new Error('not watched here');
  },
  currentResourceVersion: async () => '1',
};

const heapMiB = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

describe('stream: a subscriber that never reads while 2 × 10,000 executions run', function () {
  this.timeout(120_000);
  let server: Server;
  let service: ExecutionService;
  let url: string;
  const limits = { maxBufferedBytes: 256 * 1024, maxQueuedBytes: 256 * 1024 };

  before(async () => {
    service = new ExecutionService({
      catalog: oneTaskCatalog({ namespace: 'shop' }),
      executor: new DagExecutor({ http: instantUpstream }),
      history,
      store: store as unknown as ConstructorParameters<typeof ExecutionService>[0]['store'],
      secrets: new StaticSecrets(new Map()),
    });
    const endpoint = new StreamEndpoint({
      service,
      store,
      guard: new TrustingGuard(),
      heartbeatMs: 600_000,
      limits,
    });
    server = createServer();
    server.on('upgrade', endpoint.handleUpgrade);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/stream/v1`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Opens a subscriber of `shop`; resolves once subscribed. */
  async function subscriber(
    options: { keep: boolean } = { keep: true },
  ): Promise<{ ws: WebSocket; received: StreamMessage[] }> {
    const ws = new WebSocket(url);
    const received: StreamMessage[] = [];
    // A reader that only keeps up does not keep what it read (its memory is this process's too).
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as StreamMessage;
      if (options.keep || received.length === 0) received.push(message);
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'subscribe', id: 'all', namespace: 'shop' }));
    while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(received[0]).to.deep.equal({ type: 'subscribed', id: 'all' });
    return { ws, received };
  }

  /** Runs the executions, CONCURRENCY at a time; resolves with the wall time and the phases seen. */
  async function runAll(): Promise<{ ms: number; succeeded: number }> {
    const request = {
      namespace: 'shop',
      name: undefined,
      generateName: 'wf-',
      labels: {},
      annotations: {},
      workflowName: 'wf',
      input: {},
    };
    let next = 0;
    let succeeded = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < EXECUTIONS) {
          const object = await service.run(request, { user: 'load' });
          if (object.status.phase === 'Succeeded') succeeded++;
        }
      }),
    );
    return { ms: performance.now() - started, succeeded };
  }

  it('keeps the server’s memory bounded, does not hold executions back, and reports every lost message as overflow', async () => {
    // A reader that keeps up, for comparison (events are built and sent in both runs).
    const fast = await subscriber({ keep: false });
    const heapStart = heapMiB();
    const keptUp = await runAll();
    const heapKeptUp = heapMiB();
    fast.ws.close();

    const slow = await subscriber();
    slow.ws.pause();
    let published = 0;
    const count = service.bus.subscribe({ namespace: 'shop' }, () => published++);
    const heapBefore = heapMiB();
    const stalled = await runAll();
    const heapAfter = heapMiB();
    // A second batch: what the first left is a plateau (the same as after a reader that keeps up), not growth.
    const again = await runAll();
    const heapAgain = heapMiB();
    count();

    expect([keptUp.succeeded, stalled.succeeded, again.succeeded]).to.deep.equal([
      EXECUTIONS,
      EXECUTIONS,
      EXECUTIONS,
    ]);
    // Unbounded queueing would hold every message: ~4 per execution, hundreds of bytes each (120 MiB
    // for the first 10,000 when the limits are lifted).
    const growth = heapAfter - heapBefore;
    expect(growth, `heap grew ${growth.toFixed(1)} MiB`).to.be.below(16);
    expect(heapAgain - heapAfter, `heap grew ${(heapAgain - heapAfter).toFixed(1)} MiB more`).to.be.below(4);

    slow.ws.resume();
    let quiet = 0;
    let last = -1;
    while (quiet < 5) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      quiet = slow.received.length === last ? quiet + 1 : 0;
      last = slow.received.length;
    }
    slow.ws.close();
    const overflows = slow.received.filter((m) => m.type === 'overflow');
    const dropped = overflows.reduce((sum, m) => sum + (m.type === 'overflow' ? m.dropped : 0), 0);
    const events = slow.received.length - 1 - overflows.length;
    expect(overflows.length).to.be.at.least(1);
    expect(events + dropped).to.equal(published);
    console.log(
      JSON.stringify({
        executions: EXECUTIONS,
        concurrency: CONCURRENCY,
        keptUpMs: Math.round(keptUp.ms),
        neverReadsMs: Math.round(stalled.ms),
        neverReadsAgainMs: Math.round(again.ms),
        published,
        delivered: events,
        dropped,
        overflowNotices: overflows.length,
        heapGrowthKeptUpMiB: Number((heapKeptUp - heapStart).toFixed(1)),
        heapBeforeMiB: Number(heapBefore.toFixed(1)),
        heapAfterMiB: Number(heapAfter.toFixed(1)),
        heapAfterSecondBatchMiB: Number(heapAgain.toFixed(1)),
        limits,
      }),
    );
  });
});
