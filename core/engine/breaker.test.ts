import { expect } from 'chai';
import type { BreakerSettings } from '../definitions/compile.ts';
import { CircuitBreakers, originOf } from './breaker.ts';
import { DagExecutor } from './executor.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { ManualNowClock } from './testdata/manual-now-clock.ts';
import { reply, ScriptedHttp } from './testdata/scripted-http.ts';

const SETTINGS: BreakerSettings = {
  failureRatio: 0.5,
  minimumRequests: 4,
  windowMs: 10_000,
  openForMs: 5_000,
  halfOpenProbes: 2,
  key: 'k',
};

describe('CircuitBreaker', () => {
  const setup = (settings = SETTINGS) => {
    const clock = new ManualNowClock();
    const breakers = new CircuitBreakers(clock);
    return { clock, breakers, breaker: breakers.for('http://a.test', settings) };
  };
  const call = (b: ReturnType<typeof setup>['breaker'], ok: boolean) => {
    const permit = b.admit();
    if (permit) b.record(permit, ok);
    return permit;
  };

  it('stays closed until minimumRequests calls in the window reach the failure ratio, then opens', () => {
    const { breaker } = setup();
    call(breaker, false);
    call(breaker, false);
    call(breaker, false);
    expect(breaker.state).to.equal('closed');
    call(breaker, true);
    expect(breaker.state).to.equal('open');
    expect(breaker.admit()).to.equal(undefined);
  });

  it('reports each breaker’s state, failure ratio over the window, calls counted, settings and when it opened', () => {
    const { breaker, breakers, clock } = setup();
    call(breaker, false);
    call(breaker, true);
    expect(breakers.states()).to.deep.equal([
      { origin: 'http://a.test', state: 'closed', failureRatio: 0.5, requests: 2, settings: SETTINGS },
    ]);
    call(breaker, false);
    call(breaker, false);
    // Open, its window restarts: the ratio shown is the one that opened it (3 failed of 4).
    const [open] = breakers.states();
    expect(open).to.include({ state: 'open', openedAt: clock.at, failureRatio: 0.75, requests: 0 });
    clock.at += 6_000;
    call(breaker, true);
    expect(breakers.states()[0]).to.include({ state: 'half-open', openedAt: 1_000_000, failureRatio: 0.75 });
  });

  it('does not open below the ratio', () => {
    const { breaker } = setup();
    for (const ok of [true, false, true, true, false, true]) call(breaker, ok);
    expect(breaker.state).to.equal('closed');
  });

  it('forgets calls older than the window', () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 3; i++) call(breaker, false);
    clock.at += 11_000;
    call(breaker, false);
    expect(breaker.state).to.equal('closed');
  });

  it('after openFor lets halfOpenProbes trial calls through and closes when all succeed', () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 4; i++) call(breaker, false);
    clock.at += 4_999;
    expect(breaker.admit()).to.equal(undefined);
    clock.at += 1;
    const first = breaker.admit();
    const second = breaker.admit();
    expect(breaker.state).to.equal('half-open');
    expect(first).to.equal('probe');
    expect(second).to.equal('probe');
    expect(breaker.admit()).to.equal(undefined);
    breaker.record(first as 'probe', true);
    expect(breaker.state).to.equal('half-open');
    breaker.record(second as 'probe', true);
    expect(breaker.state).to.equal('closed');
    // A closed breaker starts counting afresh.
    for (let i = 0; i < 3; i++) call(breaker, false);
    expect(breaker.state).to.equal('closed');
  });

  it('opens again when a probe fails', () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 4; i++) call(breaker, false);
    clock.at += 5_000;
    call(breaker, false);
    expect(breaker.state).to.equal('open');
    expect(breaker.admit()).to.equal(undefined);
    clock.at += 5_000;
    expect(breaker.admit()).to.equal('probe');
  });

  it('lets a released permit go without counting it', () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 4; i++) call(breaker, false);
    clock.at += 5_000;
    const probe = breaker.admit();
    breaker.release(probe as 'probe');
    expect(breaker.admit()).to.equal('probe');
    expect(breaker.admit()).to.equal('probe');
  });

  it('is shared per origin and settings, and lists its state per origin', () => {
    const { breakers, breaker } = setup();
    expect(breakers.for('http://a.test', SETTINGS)).to.equal(breaker);
    expect(breakers.for('http://a.test', { ...SETTINGS, key: 'other' })).to.not.equal(breaker);
    expect(breakers.for('http://b.test', SETTINGS)).to.not.equal(breaker);
    for (let i = 0; i < 4; i++) call(breaker, false);
    const states = breakers.states().map(({ origin, state }) => ({ origin, state }));
    expect(states).to.deep.include({ origin: 'http://a.test', state: 'open' });
    expect(states).to.deep.include({ origin: 'http://b.test', state: 'closed' });
  });

  it('takes the origin of a URL: scheme, host and port', () => {
    expect(originOf('http://users.svc:8080/a/b?c=d')).to.equal('http://users.svc:8080');
    expect(originOf('https://users.svc/a')).to.equal('https://users.svc');
  });
});

const BREAKER_TASK = `kind: WorkflowTask
metadata: {name: flaky}
spec:
  http: {method: GET, url: "http://flaky.test/x"}
  circuitBreaker: {minimumRequests: 2, failureRatio: 0.5, openFor: 5s}
---
kind: Workflow
spec:
  tasks:
  - {id: call, taskRef: {name: flaky}}
`;

describe('circuit breakers in executions', () => {
  it('fails fast with CircuitOpen once open, without calling, and closes after a good probe', async () => {
    const clock = new ManualNowClock();
    let healthy = false;
    const http = new ScriptedHttp(() => (healthy ? reply(200, { ok: true }) : reply(503, {})));
    const executor = new DagExecutor({ http, clock });
    const workflow = compileFixture(BREAKER_TASK);
    for (let i = 0; i < 2; i++) {
      const failed = await executor.execute(workflow, {});
      expect(failed.tasks?.[0]?.error?.reason).to.equal('HTTPError');
    }
    const fast = await executor.execute(workflow, {});
    expect(fast.phase).to.equal('Failed');
    expect(fast.tasks?.[0]?.error?.reason).to.equal('CircuitOpen');
    expect(fast.tasks?.[0]?.error?.message).to.match(/^circuit open for http:\/\/flaky\.test/);
    expect(fast.tasks?.[0]?.attemptLog?.[0]?.reason).to.equal('CircuitOpen');
    expect(http.requests).to.have.length(2);
    expect(
      executor.resilience.breakers.states().map(({ origin, state }) => ({ origin, state })),
    ).to.deep.equal([{ origin: 'http://flaky.test', state: 'open' }]);

    clock.at += 5_000;
    healthy = true;
    const probe = await executor.execute(workflow, {});
    expect(probe.phase).to.equal('Succeeded');
    expect(
      executor.resilience.breakers.states().map(({ origin, state }) => ({ origin, state })),
    ).to.deep.equal([{ origin: 'http://flaky.test', state: 'closed' }]);
  });

  it('retries CircuitOpen only when retryOn names circuit-open', async () => {
    const clock = new ManualNowClock();
    const http = new ScriptedHttp(() => reply(503, {}));
    const retrying = BREAKER_TASK.replace(
      'openFor: 5s}',
      'openFor: 5s}\n  retry: {maxAttempts: 4, retryOn: [5xx, circuit-open], backoff: {initial: 1ms, max: 1ms}}',
    );
    const status = await new DagExecutor({ http, clock }).execute(compileFixture(retrying), {});
    expect(status.tasks?.[0]?.attemptLog?.map((a) => a.reason)).to.deep.equal([
      'HTTPError',
      'HTTPError',
      'CircuitOpen',
      'CircuitOpen',
    ]);
    expect(http.requests).to.have.length(2);
  });
});
