import { expect } from 'chai';
import { DagExecutor } from './executor.ts';
import { idempotencyKey } from './idempotency.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { reply, ScriptedHttp } from './testdata/scripted-http.ts';

/** A POST task; `extra` adds spec lines (YAML, two-space indented). */
const order = (extra: string) => `kind: WorkflowTask
metadata: {name: create-order}
spec:
  http: {method: POST, url: "http://orders.test/orders", body: {sku: "{{input.sku}}"}}
  retry: {maxAttempts: 3, backoff: {initial: 1ms, max: 1ms}}
${extra}
---
kind: Workflow
spec:
  tasks:
  - {id: first, taskRef: {name: create-order}, input: {sku: a}}
  - {id: second, taskRef: {name: create-order}, input: {sku: b}, dependsOn: [first]}
`;

const KEYED = order('  idempotencyKey: {header: Idempotency-Key}');

describe('idempotency keys', () => {
  it('sends the same key on every attempt of a step, so a retried POST is safe', async () => {
    // The first attempt of each step fails with 503; the retry succeeds.
    const http = new ScriptedHttp((_request, call) => (call % 2 === 0 ? reply(503, {}) : reply(201, {})));
    const status = await new DagExecutor({ http }).execute(compileFixture(KEYED), {});
    expect(status.phase).to.equal('Succeeded');
    expect(status.tasks?.map((t) => t.attempts)).to.deep.equal([2, 2]);
    const keys = http.requests.map((r) => r.headers['Idempotency-Key']);
    expect(keys[0]).to.be.a('string').and.equal(keys[1]);
    expect(keys[2]).to.be.a('string').and.equal(keys[3]);
    expect(keys[0]).to.not.equal(keys[2]);
  });

  it('gives every execution its own keys', async () => {
    const http = new ScriptedHttp(() => reply(201, {}));
    const executor = new DagExecutor({ http });
    const workflow = compileFixture(KEYED);
    await executor.execute(workflow, {});
    await executor.execute(workflow, {});
    const keys = http.requests.map((r) => r.headers['Idempotency-Key']);
    expect(new Set(keys).size).to.equal(4);
  });

  it('does not retry a POST without a key (or retryNonIdempotent), and sends no key header', async () => {
    const http = new ScriptedHttp(() => reply(503, {}));
    const status = await new DagExecutor({ http }).execute(compileFixture(order('')), {});
    expect(status.phase).to.equal('Failed');
    expect(status.tasks?.[0]?.attempts).to.equal(1);
    expect(Object.keys(http.requests[0]?.headers ?? {})).to.not.include('Idempotency-Key');
  });

  it('keys each element of a map step apart', async () => {
    const yaml = `${order('  idempotencyKey: {header: X-Request-Key}').split('---\nkind: Workflow')[0]}---
kind: Workflow
spec:
  tasks:
  - {id: each, taskRef: {name: create-order}, map: {items: "{{input.skus}}"}, input: {sku: "{{item}}"}}
`;
    const http = new ScriptedHttp(() => reply(201, {}));
    await new DagExecutor({ http }).execute(compileFixture(yaml), { skus: ['a', 'b', 'c'] });
    const keys = http.requests.map((r) => r.headers['X-Request-Key']);
    expect(new Set(keys).size).to.equal(3);
  });

  it('builds a key from the execution, the step and the element', () => {
    expect(idempotencyKey('9f1c', 'pay')).to.equal('9f1c.pay');
    expect(idempotencyKey('9f1c', 'pay', 3)).to.equal('9f1c.pay.3');
  });
});
