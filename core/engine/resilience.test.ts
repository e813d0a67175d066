import { expect } from 'chai';
import { DagExecutor } from './executor.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { reply, ScriptedHttp } from './testdata/scripted-http.ts';

const CACHED = `kind: WorkflowTask
metadata: {name: price}
spec:
  inputSchema: {type: object, properties: {sku: {type: string}}}
  http: {method: GET, url: "http://prices.test/{{input.sku}}"}
  cache: {ttl: 1m}
---
kind: WorkflowTask
metadata: {name: plain}
spec:
  http: {method: GET, url: "http://prices.test/plain"}
---
kind: Workflow
spec:
  inputSchema: {type: object, properties: {sku: {type: string}}}
  tasks:
  - {id: price, taskRef: {name: price}, input: {sku: "{{input.sku}}"}}
  - {id: other, taskRef: {name: plain}}
`;

describe('resilience counts of an executor', () => {
  it('counts response cache hits and misses of tasks that declare a cache, and nothing for the others', async () => {
    const http = new ScriptedHttp(() => reply(200, { price: 3 }));
    const executor = new DagExecutor({ http });
    const workflow = compileFixture(CACHED);
    await executor.execute(workflow, { sku: 'lamp' });
    expect(executor.resilience.counts).to.include({ cacheHits: 0, cacheMisses: 1 });
    await executor.execute(workflow, { sku: 'lamp' });
    await executor.execute(workflow, { sku: 'desk' });
    expect(executor.resilience.counts).to.include({ cacheHits: 1, cacheMisses: 2 });
  });
});
