import { expect } from 'chai';
import { ApiError, KubeClient, type WatchEvent } from '../src/api/client.ts';
import type { Execution } from '../src/api/types.ts';
import { criticalPath } from '../src/components/ExecutionTimeline.tsx';
import { phaseAt, recordedSpan } from '../src/components/replay.ts';
import { diffLines } from '../src/diff.ts';
import { median } from '../src/format.ts';

type Call = { url: string; init: RequestInit };

/** Replaces fetch and sessionStorage for one test. */
function fakeBrowser(answer: (call: Call) => Response): Call[] {
  const calls: Call[] = [];
  const store = new Map<string, string>();
  Object.assign(globalThis, {
    fetch: async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return answer({ url, init });
    },
    sessionStorage: {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => store.set(k, v),
      removeItem: (k: string) => store.delete(k),
    },
  });
  return calls;
}

describe('KubeClient (the console data layer)', () => {
  it('sends the signed-in bearer token under the configured API base, with the query', async () => {
    const calls = fakeBrowser(() => new Response('{"items":[]}', { status: 200 }));
    sessionStorage.setItem('syncflow-console-token', 'tok');
    const client = new KubeClient({ apiBase: '/console/k8s', auth: 'bearer' });
    await client.get('/apis/syncflow.io/v1alpha1/namespaces/shop/workflows', {
      limit: 5,
      continue: undefined,
    });
    expect(calls[0]?.url).to.equal(
      '/console/k8s/apis/syncflow.io/v1alpha1/namespaces/shop/workflows?limit=5',
    );
    expect((calls[0]?.init.headers as Record<string, string>).authorization).to.equal('Bearer tok');
  });

  it('sends no token in session mode (the cookie of syncflow console carries the identity)', async () => {
    const calls = fakeBrowser(() => new Response('{}', { status: 200 }));
    sessionStorage.setItem('syncflow-console-token', 'tok');
    await new KubeClient({ apiBase: '', auth: 'session' }).get('/version');
    expect((calls[0]?.init.headers as Record<string, string>).authorization).to.equal(undefined);
  });

  it('turns a failure into an ApiError carrying the Status; 401 signs out', async () => {
    let signedOut = 0;
    fakeBrowser(({ url }) =>
      url.includes('forbidden')
        ? new Response(
            JSON.stringify({
              kind: 'Status',
              code: 403,
              message: 'User "x" cannot list resource "workflows"',
            }),
            { status: 403 },
          )
        : new Response('not json', { status: 401 }),
    );
    const client = new KubeClient({ apiBase: '', auth: 'bearer' }, () => signedOut++);
    const forbidden = await client.get('/forbidden').catch((e: unknown) => e);
    expect(forbidden).to.be.instanceOf(ApiError);
    expect((forbidden as ApiError).code).to.equal(403);
    expect((forbidden as ApiError).message).to.match(/cannot list resource "workflows"/);
    const unauthorized = await client.get('/x').catch((e: unknown) => e);
    expect((unauthorized as ApiError).status.message).to.equal('not json');
    expect(signedOut).to.equal(1);
  });

  it('watch: reads events split across chunks, reports the open, and stops when asked', async () => {
    const lines = ['{"type":"ADDED","object":{"n":1}}\n{"type":"MOD', 'IFIED","object":{"n":2}}\n'];
    fakeBrowser(
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              for (const l of lines) controller.enqueue(new TextEncoder().encode(l));
              controller.close();
            },
          }),
          { status: 200 },
        ),
    );
    const events: WatchEvent<{ n: number }>[] = [];
    let opened = false;
    const stop = new KubeClient({ apiBase: '', auth: 'session' }).watch<{ n: number }>(
      '/w',
      {},
      (e) => events.push(e),
      (e) => {
        throw e;
      },
      () => (opened = true),
    );
    await new Promise((r) => setTimeout(r, 50));
    stop();
    expect(opened).to.equal(true);
    expect(events.map((e) => [e.type, e.object.n])).to.deep.equal([
      ['ADDED', 1],
      ['MODIFIED', 2],
    ]);
  });

  it('watch: a refused start reaches onError with the Status', async () => {
    fakeBrowser(() => new Response('{"code":403,"message":"no"}', { status: 403 }));
    const error = await new Promise<Error>((resolve) => {
      new KubeClient({ apiBase: '', auth: 'session' }).watch('/w', {}, () => undefined, resolve);
    });
    expect((error as ApiError).code).to.equal(403);
  });
});

describe('timeline, replay, diff and medians', () => {
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  const at = (ms: number) => new Date(t0 + ms).toISOString();
  const execution: Execution = {
    metadata: { name: 'e' },
    spec: { workflowRef: { name: 'w' } },
    status: {
      phase: 'Succeeded',
      startTime: at(0),
      durationMs: 30,
      tasks: [
        { id: 'a', phase: 'Succeeded', startTime: at(0), completionTime: at(10), durationMs: 10 },
        { id: 'b', phase: 'Succeeded', startTime: at(0), completionTime: at(20), durationMs: 20 },
        { id: 'c', phase: 'Succeeded', startTime: at(20), completionTime: at(30), durationMs: 10 },
        { id: 'd', phase: 'Skipped' },
      ],
    },
  };
  const edges = [
    { from: 'a', to: 'c' },
    { from: 'b', to: 'c' },
  ];

  it('the critical path runs back from the last task through the dependency that finished last', () => {
    expect([...criticalPath(execution.status?.tasks ?? [], edges)]).to.deep.equal(['c', 'b']);
  });

  it('replay shows each task Pending, Running, then its recorded phase at the recorded moments', () => {
    const span = recordedSpan(execution);
    expect(span.total).to.equal(30);
    const [a, , c, d] = execution.status?.tasks ?? [];
    const phases = (ms: number) => [a, c, d].map((t) => phaseAt(t!, span.start, ms, span.total));
    expect(phases(5)).to.deep.equal(['Running', 'Pending', 'Pending']);
    expect(phases(25)).to.deep.equal(['Succeeded', 'Running', 'Pending']);
    expect(phases(30)).to.deep.equal(['Succeeded', 'Succeeded', 'Skipped']);
  });

  it('diffLines pairs equal lines and marks removed and added ones', () => {
    expect(diffLines('a\nb\nc', 'a\nx\nc')).to.deep.equal([
      { left: 'a', right: 'a', kind: 'same' },
      { right: 'x', kind: 'added' },
      { left: 'b', kind: 'removed' },
      { left: 'c', right: 'c', kind: 'same' },
    ]);
  });

  it('median of none is undefined; of an even count, the mean of the middle two', () => {
    expect(median([])).to.equal(undefined);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
  });
});
