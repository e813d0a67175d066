import { expect } from 'chai';
import { DagExecutor } from './executor.ts';
import { LatencyHistory } from './hedge.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { reply, ScriptedHttp } from './testdata/scripted-http.ts';

/** A task with a hedge (`hedge` is its YAML flow mapping) in a one-step workflow. */
const hedged = (
  hedge: string,
  http = 'method: GET, url: "http://slow.test/x"',
  extra = '',
) => `kind: WorkflowTask
metadata: {name: lookup}
spec:
  http: {${http}}
  hedge: ${hedge}
${extra}
---
kind: Workflow
spec:
  tasks:
  - {id: call, taskRef: {name: lookup}}
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('hedged requests', () => {
  it('sends a second identical request after the delay, takes the first answer and cancels the other', async () => {
    // The first request answers only when cancelled; the hedge answers at once.
    const http = new ScriptedHttp(async (_request, call) => {
      if (call === 0) await new Promise(() => {});
      return reply(200, { from: call });
    });
    const status = await new DagExecutor({ http }).execute(compileFixture(hedged('{after: 5ms}')), {});
    expect(status.phase).to.equal('Succeeded');
    const record = status.tasks?.[0];
    expect(record?.output).to.deep.equal({ from: 1 });
    expect(record?.hedged).to.equal(true);
    expect(record?.attempts).to.equal(1);
    expect(http.requests).to.have.length(2);
    expect(http.cancelled).to.equal(1);
    expect(http.requests[1]?.url).to.equal(http.requests[0]?.url);
  });

  it('counts hedges sent and hedges that answered first, per executor', async () => {
    // Call 0 answers only when cancelled (the hedge wins); call 2 answers after 30 ms, before its hedge (call 3).
    const http = new ScriptedHttp(async (_request, call) => {
      if (call === 0) await new Promise(() => {});
      if (call === 2) await sleep(30);
      if (call === 3) await sleep(500);
      return reply(200, { from: call });
    });
    const executor = new DagExecutor({ http });
    const workflow = compileFixture(hedged('{after: 5ms, maxExtraPercent: 100}'));
    await executor.execute(workflow, {});
    expect(executor.resilience.counts).to.include({ hedgesSent: 1, hedgesWon: 1 });
    await executor.execute(workflow, {});
    expect(executor.resilience.counts).to.include({ hedgesSent: 2, hedgesWon: 1 });
  });

  it('sends no hedge when the first request answers within the delay', async () => {
    const http = new ScriptedHttp(() => reply(200, {}));
    const status = await new DagExecutor({ http }).execute(compileFixture(hedged('{after: 1s}')), {});
    expect(status.tasks?.[0]?.hedged).to.equal(undefined);
    expect(http.requests).to.have.length(1);
  });

  it('sends the hedge of a keyed POST with the same idempotency key', async () => {
    const http = new ScriptedHttp(async (_request, call) => {
      if (call === 0) await new Promise(() => {});
      return reply(201, {});
    });
    const yaml = hedged(
      '{after: 5ms}',
      'method: POST, url: "http://slow.test/orders", body: {a: 1}',
      '  idempotencyKey: {header: Idempotency-Key}',
    );
    await new DagExecutor({ http }).execute(compileFixture(yaml), {});
    const keys = http.requests.map((r) => r.headers['Idempotency-Key']);
    expect(keys).to.have.length(2);
    expect(keys[0]).to.be.a('string').and.equal(keys[1]);
  });

  it('keeps hedges within the budget: maxExtraPercent of the calls, after one to start with', async () => {
    // Every first request is slow (60 ms) and every hedge fast: a hedge is sent whenever the budget allows.
    let slow = true;
    const http = new ScriptedHttp(async () => {
      const first = slow;
      slow = !slow;
      if (first) await sleep(60);
      return reply(200, {});
    });
    const executor = new DagExecutor({ http });
    const workflow = compileFixture(hedged('{after: 5ms, maxExtraPercent: 10}'));
    let hedges = 0;
    for (let i = 0; i < 20; i++) {
      slow = true;
      const status = await executor.execute(workflow, {});
      if (status.tasks?.[0]?.hedged) hedges++;
    }
    // One to start with, then one per 10 calls.
    expect(hedges).to.equal(3);
    expect(http.requests).to.have.length(23);
  });

  it('with after: p95, sends no hedge until the task has a latency history', async () => {
    const http = new ScriptedHttp(() => reply(200, {}));
    const executor = new DagExecutor({ http });
    const status = await executor.execute(compileFixture(hedged('{after: p95}')), {});
    expect(status.tasks?.[0]?.hedged).to.equal(undefined);
  });

  it('fails the attempt as the client does when the first request fails before the delay', async () => {
    const http = new ScriptedHttp(() => reply(503, {}));
    const status = await new DagExecutor({ http }).execute(compileFixture(hedged('{after: 1s}')), {});
    expect(status.tasks?.[0]?.error?.reason).to.equal('HTTPError');
    expect(http.requests).to.have.length(1);
  });
});

describe('LatencyHistory', () => {
  it('has no p95 below the minimum sample count, then the 95th percentile of recent samples', () => {
    const history = new LatencyHistory();
    for (let i = 1; i < LatencyHistory.MIN_SAMPLES; i++) history.add(i);
    expect(history.p95()).to.equal(undefined);
    for (let i = LatencyHistory.MIN_SAMPLES; i <= 100; i++) history.add(i);
    expect(history.p95()).to.equal(95);
  });

  it('keeps only the most recent samples', () => {
    const history = new LatencyHistory();
    for (let i = 0; i < 1000; i++) history.add(1000);
    for (let i = 0; i < LatencyHistory.CAPACITY; i++) history.add(10);
    expect(history.p95()).to.equal(10);
  });
});
