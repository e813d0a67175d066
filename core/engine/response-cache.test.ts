import { expect } from 'chai';
import { DagExecutor } from './executor.ts';
import { ResponseCache } from './response-cache.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { ManualNowClock } from './testdata/manual-now-clock.ts';
import { reply, ScriptedHttp } from './testdata/scripted-http.ts';

const CACHED = `kind: WorkflowTask
metadata: {name: price}
spec:
  inputSchema: {type: object, properties: {sku: {type: string}}}
  http: {method: GET, url: "http://prices.test/prices/{{input.sku}}", headers: {Authorization: "Bearer {{secrets.token}}"}}
  secrets: [{name: token, secretKeyRef: {name: api, key: token}}]
  cache: {ttl: 30s, maxEntries: 2}
---
kind: Workflow
spec:
  inputSchema: {type: object, properties: {sku: {type: string}}}
  tasks:
  - {id: price, taskRef: {name: price}, input: {sku: "{{input.sku}}"}}
`;

describe('response caching', () => {
  const setup = (token = 'token-value-1') => {
    const clock = new ManualNowClock();
    let n = 0;
    const http = new ScriptedHttp((request) => reply(200, { url: request.url, n: n++ }));
    const executor = new DagExecutor({ http, clock });
    const secrets = { resolve: () => token };
    return { clock, http, executor, secrets };
  };

  it('answers a repeated request from the cache: no upstream call, marked in the trace', async () => {
    const { http, executor, secrets } = setup();
    const workflow = compileFixture(CACHED);
    const first = await executor.execute(workflow, { sku: 'a' }, { secrets });
    const second = await executor.execute(workflow, { sku: 'a' }, { secrets });
    expect(http.requests).to.have.length(1);
    expect(first.tasks?.[0]?.cached).to.equal(undefined);
    const hit = second.tasks?.[0];
    expect(hit?.phase).to.equal('Succeeded');
    expect(hit?.cached).to.equal(true);
    expect(hit?.attempts).to.equal(undefined);
    expect(hit?.output).to.deep.equal(first.tasks?.[0]?.output);
  });

  it('keys by the resolved request: another input, or another secret value, is another entry', async () => {
    const { http, executor } = setup();
    const workflow = compileFixture(CACHED);
    const one = { secrets: { resolve: () => 'token-value-1' } };
    const two = { secrets: { resolve: () => 'token-value-2' } };
    await executor.execute(workflow, { sku: 'a' }, one);
    await executor.execute(workflow, { sku: 'b' }, one);
    await executor.execute(workflow, { sku: 'a' }, two);
    await executor.execute(workflow, { sku: 'b' }, one);
    expect(http.requests).to.have.length(3);
  });

  it('forgets an entry after its ttl', async () => {
    const { http, executor, clock, secrets } = setup();
    const workflow = compileFixture(CACHED);
    await executor.execute(workflow, { sku: 'a' }, { secrets });
    clock.at += 29_999;
    await executor.execute(workflow, { sku: 'a' }, { secrets });
    expect(http.requests).to.have.length(1);
    clock.at += 1;
    await executor.execute(workflow, { sku: 'a' }, { secrets });
    expect(http.requests).to.have.length(2);
  });

  it('caches successful responses only', async () => {
    const clock = new ManualNowClock();
    const http = new ScriptedHttp(() => reply(503, {}));
    const executor = new DagExecutor({ http, clock });
    const workflow = compileFixture(CACHED);
    const secrets = { resolve: () => 'token-value-1' };
    await executor.execute(workflow, { sku: 'a' }, { secrets });
    await executor.execute(workflow, { sku: 'a' }, { secrets });
    expect(http.requests).to.have.length(2);
  });

  it('keeps at most maxEntries per task, dropping the least recently used', async () => {
    const { http, executor, secrets } = setup();
    const workflow = compileFixture(CACHED);
    for (const sku of ['a', 'b', 'a', 'c', 'a', 'b']) await executor.execute(workflow, { sku }, { secrets });
    // a, b miss; a hits; c misses and drops b; a hits; b misses again.
    expect(http.requests.map((r) => r.url.slice(-1))).to.deep.equal(['a', 'b', 'c', 'b']);
  });

  it('marks cached elements of a map step', async () => {
    const yaml = `${CACHED.split('---\nkind: Workflow')[0]}---
kind: Workflow
spec:
  tasks:
  - {id: each, taskRef: {name: price}, map: {items: "{{input.skus}}", concurrency: 1}, input: {sku: "{{item}}"}}
`;
    const { http, executor, secrets } = setup();
    const status = await executor.execute(compileFixture(yaml), { skus: ['a', 'a', 'b'] }, { secrets });
    expect(status.tasks?.[0]?.items?.map((e) => e.cached ?? false)).to.deep.equal([false, true, false]);
    expect(http.requests).to.have.length(2);
  });
});

describe('ResponseCache', () => {
  it('bounds the bytes held by the replica, dropping the least recently used of any task', () => {
    const clock = new ManualNowClock();
    const cache = new ResponseCache(clock, { maxBytes: 100 });
    const a = {};
    const b = {};
    cache.set(a, 'k1', 'x'.repeat(40), { ttlMs: 1000, maxEntries: 10 });
    cache.set(b, 'k1', 'y'.repeat(40), { ttlMs: 1000, maxEntries: 10 });
    cache.set(a, 'k2', 'z'.repeat(40), { ttlMs: 1000, maxEntries: 10 });
    expect(cache.get(a, 'k1')).to.equal(undefined);
    expect(cache.get(b, 'k1')).to.equal('y'.repeat(40));
    expect(cache.get(a, 'k2')).to.equal('z'.repeat(40));
    expect(cache.bytes).to.be.at.most(100);
    // An entry larger than the whole bound is not kept.
    cache.set(a, 'big', 'w'.repeat(200), { ttlMs: 1000, maxEntries: 10 });
    expect(cache.get(a, 'big')).to.equal(undefined);
  });
});
