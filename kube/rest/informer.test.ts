import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { FakeKubeApi, json, queryOf, watchLine } from '../testdata/fake-kube-api.ts';
import { KubeClient, type KubeObject } from './client.ts';
import { RestConfig } from './config.ts';
import { startListWatch, type ListWatch } from './informer.ts';

const PATH = '/apis/syncflow.io/v1alpha1/workflows';
const object = (name: string, resourceVersion: string) => ({ metadata: { name, resourceVersion } });
/** A list answer: one object per name, at `resourceVersion`, with a continue token when more follow. */
const page =
  (resourceVersion: string, names: string[], next?: string) =>
  (res: ServerResponse): void =>
    json(res, 200, {
      metadata: { resourceVersion, ...(next !== undefined ? { continue: next } : {}) },
      items: names.map((name) => object(name, '8')),
    });

/** Scripted answers: each list and each watch request takes the next script of its kind. */
type Script = (res: ServerResponse) => void;

describe('startListWatch', () => {
  let api: FakeKubeApi;
  let client: KubeClient;
  let lists: Script[];
  let watches: Script[];
  let running: ListWatch | undefined;
  const log: string[] = [];
  const sleeps: number[] = [];

  beforeEach(async () => {
    api = await new FakeKubeApi().start();
    client = new KubeClient(new RestConfig({ server: api.url, ca: FakeKubeApi.ca }));
    lists = [];
    watches = [];
    log.length = 0;
    sleeps.length = 0;
    api.routes.set(`GET ${PATH}`, (req, _body, res) => {
      const watching = (req.url ?? '').includes('watch=true');
      const next = (watching ? watches : lists).shift();
      if (next) next(res);
      else res.writeHead(200, { 'content-type': 'application/json' }); // hangs: nothing more to say
    });
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    api.stop();
    await client.close();
  });

  const start = (options: { pageSize?: number } = {}): ListWatch =>
    (running = startListWatch<KubeObject>({
      ...options,
      client,
      path: PATH,
      query: { labelSelector: 'team=web' },
      timeoutSeconds: 30,
      backoffMs: 100,
      maxBackoffMs: 400,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      onList: (items) => log.push(`list ${items.map((i) => i.metadata?.name).join(',')}`),
      onEvent: (type, o) => log.push(`${type} ${o.metadata?.name}`),
      onError: (error) => log.push(`error ${(error as { code?: number }).code ?? (error as Error).message}`),
    }));
  const until = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(condition(), `log: ${log.join(' | ')}`).to.equal(true);
  };
  const watchRequests = () => api.requests.filter((r) => r.url.includes('watch=true')).map(queryOf);

  it('lists, then watches from the list resourceVersion with bookmarks and the selector', async () => {
    lists.push(page('10', ['a']));
    watches.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(watchLine('ADDED', object('b', '11')) + watchLine('MODIFIED', object('a', '12')));
      res.write(watchLine('DELETED', object('b', '13')));
    });
    const watch = start();
    await until(() => log.length === 4);
    expect(log).to.deep.equal(['list a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
    expect(watch.resourceVersion()).to.equal('13');
    const [query] = watchRequests();
    expect(Object.fromEntries(query!)).to.deep.equal({
      labelSelector: 'team=web',
      resourceVersion: '10',
      allowWatchBookmarks: 'true',
      timeoutSeconds: '30',
      watch: 'true',
    });
    expect(queryOf(api.requests[0]!).get('labelSelector')).to.equal('team=web');
  });

  it('lists in pages of pageSize (500 by default), following continue, and hands over the whole collection once', async () => {
    // The list is the first page's snapshot: later pages' resourceVersions do not move it.
    lists.push(page('10', ['a'], 'page-2'));
    lists.push(page('11', ['b'], 'page-3'));
    lists.push(page('12', ['c']));
    start({ pageSize: 1 });
    await until(() => watchRequests().length === 1);
    expect(log).to.deep.equal(['list a,b,c']);
    const pages = api.requests.filter((r) => !r.url.includes('watch=true')).map(queryOf);
    expect(pages.map((q) => [q.get('limit'), q.get('continue'), q.get('labelSelector')])).to.deep.equal([
      ['1', null, 'team=web'],
      ['1', 'page-2', 'team=web'],
      ['1', 'page-3', 'team=web'],
    ]);
    expect(watchRequests()[0]?.get('resourceVersion')).to.equal('10');
    await running?.stop();
    lists.push((res) => json(res, 200, { metadata: { resourceVersion: '11' }, items: [] }));
    start();
    await until(() => watchRequests().length === 2);
    expect(queryOf(api.requests.filter((r) => !r.url.includes('watch=true')).at(-1)!).get('limit')).to.equal(
      '500',
    );
  });

  it('falls back to one list of everything when a continue token has expired (410), as the pager of client-go does', async () => {
    lists.push(page('10', ['a'], 'old'));
    lists.push((res) => json(res, 410, { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 }));
    lists.push(page('12', ['a']));
    start({ pageSize: 1 });
    await until(() => watchRequests().length === 1);
    expect(log).to.deep.equal(['list a']);
    const pages = api.requests.filter((r) => !r.url.includes('watch=true')).map(queryOf);
    expect(pages.map((q) => [q.get('limit'), q.get('continue')])).to.deep.equal([
      ['1', null],
      ['1', 'old'],
      [null, null],
    ]);
    expect(pages.every((q) => q.get('labelSelector') === 'team=web')).to.equal(true);
    expect(watchRequests()[0]?.get('resourceVersion')).to.equal('12');
  });

  it('reports a 410 to the list itself and backs off, instead of listing again at once', async () => {
    lists.push((res) => json(res, 410, { kind: 'Status', status: 'Failure', reason: 'Gone', code: 410 }));
    lists.push(page('12', ['a']));
    start();
    await until(() => watchRequests().length === 1);
    expect(log).to.deep.equal(['error 410', 'list a']);
    expect(sleeps).to.deep.equal([100]);
  });

  it('refuses a server that answers a page with the continue token it was given (no endless paging)', async () => {
    lists.push(page('10', ['a'], 'again'));
    lists.push(page('10', ['b'], 'again'));
    lists.push(page('12', ['a']));
    start({ pageSize: 1 });
    await until(() => watchRequests().length === 1);
    expect(log).to.have.length(2);
    expect(log[0]).to.match(
      /^error LIST .*workflows: the server answered a page with the same continue token$/,
    );
    expect(log[1]).to.equal('list a');
    expect(sleeps).to.deep.equal([100]);
  });

  it('resumes an ended watch from the last resourceVersion seen, a bookmark included, without listing again', async () => {
    lists.push((res) => json(res, 200, { metadata: { resourceVersion: '10' }, items: [] }));
    watches.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        watchLine('ADDED', object('a', '11')) +
          watchLine('BOOKMARK', { metadata: { resourceVersion: '20' } }),
      );
    });
    start();
    await until(() => watchRequests().length === 2);
    expect(watchRequests().map((q) => q.get('resourceVersion'))).to.deep.equal(['10', '20']);
    expect(log).to.deep.equal(['list ', 'ADDED a']);
    expect(api.requests.filter((r) => !r.url.includes('watch=true'))).to.have.length(1);
  });

  it('lists again at once on 410 Gone, from an ERROR event or from the HTTP status', async () => {
    lists.push(page('10', ['a']));
    lists.push(page('30', ['b']));
    lists.push(page('40', ['c']));
    watches.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(watchLine('ADDED', object('x', '11')));
    });
    watches.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(watchLine('ERROR', { kind: 'Status', code: 410, reason: 'Expired' }));
    });
    watches.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(watchLine('ADDED', object('y', '31')));
    });
    watches.push((res) => json(res, 410, { kind: 'Status', code: 410, reason: 'Gone' }));
    start();
    await until(() => log.includes('list c') && watchRequests().length === 5);
    expect(log).to.deep.equal(['list a', 'ADDED x', 'list b', 'ADDED y', 'list c']);
    expect(watchRequests().map((q) => q.get('resourceVersion'))).to.deep.equal([
      '10',
      '11',
      '30',
      '31',
      '40',
    ]);
    expect(sleeps).to.deep.equal([]);
  });

  it('reports failures and backs off, doubling up to the maximum, then resets after progress', async () => {
    for (let i = 0; i < 4; i++) lists.push((res) => json(res, 500, { kind: 'Status', code: 500 }));
    lists.push((res) => json(res, 200, { metadata: { resourceVersion: '5' }, items: [] }));
    watches.push((res) => json(res, 403, { kind: 'Status', code: 403, reason: 'Forbidden' }));
    start();
    await until(() => log.filter((l) => l === 'error 403').length === 1 && watchRequests().length >= 2);
    expect(log.slice(0, 6)).to.deep.equal([
      'error 500',
      'error 500',
      'error 500',
      'error 500',
      'list ',
      'error 403',
    ]);
    expect(sleeps.slice(0, 5)).to.deep.equal([100, 200, 400, 400, 100]);
  });

  it('stops: no request after stop() resolves', async () => {
    lists.push((res) => json(res, 200, { metadata: { resourceVersion: '1' }, items: [] }));
    const watch = start();
    await until(() => watchRequests().length === 1);
    await watch.stop();
    running = undefined;
    const seen = api.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(api.requests).to.have.length(seen);
  });
});
