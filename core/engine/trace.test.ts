import { expect } from 'chai';
import type { TaskHttpClient, TaskRequest, TaskResponse } from './task-http.ts';
import { DagExecutor } from './executor.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { SecretRedactor } from './redact.ts';
import {
  jsonCharsAtMost,
  MAX_RECORDED_PART_BYTES,
  overlaps,
  randomHex,
  recordedTask,
  type RunInterval,
  type AttemptSpan,
  type ExecutionSpan,
  type ExecutionTracer,
  type TracedAttempt,
  type TracedExecution,
} from './trace.ts';

/** Answers from a script per URL path (the last answer repeats), recording every request. */
class ScriptedHttp implements TaskHttpClient {
  readonly requests: TaskRequest[] = [];
  constructor(private readonly script: Record<string, number[]>) {}
  async send(request: TaskRequest): Promise<TaskResponse> {
    this.requests.push(request);
    const path = new URL(request.url).pathname;
    const statuses = this.script[path] ?? [200];
    const status = (statuses.length > 1 ? statuses.shift() : statuses[0]) as number;
    return { status, headers: {}, body: Buffer.from(status === 200 ? '{"ok":true}' : '') };
  }
  async close(): Promise<void> {}
}

/** A tracer that records what the engine tells it. */
class RecordingTracer implements ExecutionTracer {
  readonly executions: Array<{ start: TracedExecution; end?: unknown; attempts: RecordedAttempt[] }> = [];
  sampled = true;
  private spans = 0;
  startExecution(start: TracedExecution): ExecutionSpan | undefined {
    if (!this.sampled) return undefined;
    const record: (typeof this.executions)[number] = { start, attempts: [] };
    this.executions.push(record);
    return {
      startAttempt: (attempt: TracedAttempt): AttemptSpan => {
        const recorded: RecordedAttempt = {
          attempt,
          traceparent: `00-${'a'.repeat(32)}-${String(++this.spans).padStart(16, '0')}-01`,
        };
        record.attempts.push(recorded);
        return {
          traceparent: recorded.traceparent,
          end: (end) => {
            recorded.end = end;
          },
        };
      },
      end: (end) => {
        record.end = end;
      },
    };
  }
}

interface RecordedAttempt {
  attempt: TracedAttempt;
  traceparent: string;
  end?: { httpStatus?: number; reason?: string; endTime: number };
}

const WORKFLOW = `kind: WorkflowTask
metadata: {name: get-user}
spec:
  http: {method: GET, url: "\${BASE}/users/{{input.userId}}", query: {q: "{{input.userId}}"}}
  retry: {maxAttempts: 3, backoff: {initial: 0s}}
---
kind: WorkflowTask
metadata: {name: post-audit}
spec:
  http: {method: POST, url: "\${BASE}/audit", body: {who: "{{input.userId}}"}}
---
kind: Workflow
metadata: {name: profile}
spec:
  tasks:
  - {id: user, taskRef: {name: get-user}, input: {userId: "{{input.userId}}"}}
  - {id: audit, taskRef: {name: post-audit}, input: {userId: "{{input.userId}}"}}
`;

const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('ExecutionTracer (the executor tells a tracer about executions and attempts)', () => {
  it('opens one execution span per execution, under the caller traceparent, ended with the phase', async () => {
    const tracer = new RecordingTracer();
    const executor = new DagExecutor({ http: new ScriptedHttp({}), tracer });
    const workflow = compileFixture(WORKFLOW, 'http://upstream.test');
    const status = await executor.execute(workflow, { userId: 'u-secret-42' }, { traceparent: CALLER });
    expect(status.phase).to.equal('Succeeded');
    expect(tracer.executions).to.have.length(1);
    const [execution] = tracer.executions;
    expect(execution?.start).to.include({ namespace: 'test', workflow: 'profile', traceparent: CALLER });
    expect(execution?.end).to.deep.include({ phase: 'Succeeded' });
  });

  it('opens a span per attempt with the method, the declared URL template and the retry number', async () => {
    const tracer = new RecordingTracer();
    const http = new ScriptedHttp({ '/users/u-secret-42': [503, 200] });
    const executor = new DagExecutor({ http, tracer, random: () => 0 });
    const workflow = compileFixture(WORKFLOW, 'http://upstream.test');
    await executor.execute(workflow, { userId: 'u-secret-42' });
    const attempts = (tracer.executions[0]?.attempts ?? []).map((a) => ({ ...a.attempt, end: a.end }));
    const user = attempts.filter((a) => a.task === 'user');
    expect(user.map((a) => [a.attempt, a.method, a.urlTemplate, a.taskRef])).to.deep.equal([
      [1, 'GET', 'http://upstream.test/users/{{input.userId}}', 'get-user'],
      [2, 'GET', 'http://upstream.test/users/{{input.userId}}', 'get-user'],
    ]);
    expect(user.map((a) => a.end?.httpStatus)).to.deep.equal([503, 200]);
    expect(user[0]?.end?.reason).to.equal('HTTPError');
    expect(user[1]?.end?.reason).to.equal(undefined);
    const audit = attempts.find((a) => a.task === 'audit');
    expect(audit).to.include({ method: 'POST', urlTemplate: 'http://upstream.test/audit', attempt: 1 });
    // No input value reaches what the tracer is told.
    expect(JSON.stringify(tracer.executions)).not.to.contain('u-secret-42');
  });

  it("sends each attempt span's traceparent on that attempt's request, so upstreams link to it", async () => {
    const tracer = new RecordingTracer();
    const http = new ScriptedHttp({ '/users/7': [500, 200] });
    const executor = new DagExecutor({ http, tracer, random: () => 0 });
    await executor.execute(compileFixture(WORKFLOW, 'http://upstream.test'), { userId: '7' });
    const sent = http.requests.map((r) => r.headers.traceparent).sort();
    const spans = (tracer.executions[0]?.attempts ?? []).map((a) => a.traceparent).sort();
    expect(sent).to.have.length(3);
    expect(sent).to.deep.equal(spans);
  });

  it('marks the trace not sampled on upstream calls when the tracer declines the execution', async () => {
    const tracer = new RecordingTracer();
    tracer.sampled = false;
    const http = new ScriptedHttp({});
    const executor = new DagExecutor({ http, tracer });
    await executor.execute(compileFixture(WORKFLOW, 'http://upstream.test'), { userId: '7' });
    for (const request of http.requests)
      expect(request.headers.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('keeps the caller trace id and a sampled flag without a tracer (trace context only)', async () => {
    const http = new ScriptedHttp({});
    const executor = new DagExecutor({ http });
    await executor.execute(
      compileFixture(WORKFLOW, 'http://upstream.test'),
      { userId: '7' },
      { traceparent: CALLER },
    );
    for (const request of http.requests)
      expect(request.headers.traceparent).to.match(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });
});

const SECRET = 'tok-Zq81-secret';

const WITH_SECRETS = `kind: WorkflowTask
metadata: {name: call}
spec:
  http:
    method: POST
    url: "\${BASE}/orders/{{input.id}}"
    query: {key: "{{secrets.token}}", id: "{{input.id}}"}
    headers: {Authorization: "Bearer {{secrets.token}}", X-Id: "{{input.id}}"}
    body: {id: "{{input.id}}", pad: "{{input.pad}}", token: "{{secrets.token}}"}
  secrets: [{name: token, secretKeyRef: {name: api, key: token}}]
---
kind: Workflow
metadata: {name: orders}
spec:
  tasks:
  - {id: call, taskRef: {name: call}, input: {id: "{{input.id}}", pad: "{{input.pad}}"}}
`;

function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

describe('Recorded input and request (what time travel and the debugger show of each task)', () => {
  it('records each task’s input after templates and the request it resolved to', async () => {
    const executor = new DagExecutor({ http: new ScriptedHttp({}) });
    const status = await executor.execute(compileFixture(WORKFLOW, 'http://upstream.test'), { userId: '7' });
    const [user, audit] = status.tasks ?? [];
    expect(user?.input).to.deep.equal({ userId: '7' });
    expect(user?.request).to.deep.equal({
      method: 'GET',
      url: 'http://upstream.test/users/7?q=7',
      headers: { accept: 'application/json' },
    });
    expect(audit?.request).to.deep.include({
      method: 'POST',
      url: 'http://upstream.test/audit',
      body: { who: '7' },
    });
  });

  it('never records a secret: not in a header, the query or the body', async () => {
    const http = new ScriptedHttp({});
    const executor = new DagExecutor({ http });
    const status = await executor.execute(
      compileFixture(WITH_SECRETS, 'http://upstream.test'),
      { id: 'o-1', pad: 'x' },
      { secrets: { resolve: () => SECRET } },
    );
    expect(http.requests[0]?.headers.Authorization).to.equal(`Bearer ${SECRET}`);
    const request = status.tasks?.[0]?.request;
    expect(request?.headers).to.include({ Authorization: 'Bearer ***', 'X-Id': 'o-1' });
    expect(request?.url).to.equal('http://upstream.test/orders/o-1?key=***&id=o-1');
    expect(request?.body).to.deep.equal({ id: 'o-1', pad: 'x', token: '***' });
    expect(JSON.stringify(status)).not.to.contain(SECRET);
  });

  it(`bounds the input and the request to ${MAX_RECORDED_PART_BYTES} bytes of JSON each, with a truncation marker`, async () => {
    const executor = new DagExecutor({ http: new ScriptedHttp({}) });
    const pad = 'é'.repeat(20_000);
    const status = await executor.execute(
      compileFixture(WITH_SECRETS, 'http://upstream.test'),
      { id: 'o-1', pad },
      { secrets: { resolve: () => SECRET } },
    );
    const task = status.tasks?.[0];
    expect(status.phase).to.equal('Succeeded');
    expect(jsonSize(task?.input)).to.be.at.most(MAX_RECORDED_PART_BYTES);
    expect(jsonSize(task?.request)).to.be.at.most(MAX_RECORDED_PART_BYTES);
    expect(task?.input).to.include({
      truncated: true,
      bytes: Buffer.byteLength(JSON.stringify({ id: 'o-1', pad })),
    });
    expect((task?.input as { preview: string }).preview).to.match(/^\{"id":"o-1","pad":"éé+…$/);
    expect(task?.request?.headers).to.include({ Authorization: 'Bearer ***' });
    expect(task?.request?.body).to.include({ truncated: true });
    expect(JSON.stringify(status)).not.to.contain(SECRET);
  });

  it('cuts a secret across the bound whole, never leaving its beginning', () => {
    const redactor = new SecretRedactor([SECRET]);
    for (let shift = 0; shift < 40; shift++) {
      const input = {
        text: `${'a'.repeat(MAX_RECORDED_PART_BYTES - 30 + shift)}${SECRET}${'b'.repeat(100)}`,
      };
      const recorded = recordedTask(input, 'GET', undefined, redactor).input as { preview: string };
      expect(jsonSize(recorded)).to.be.at.most(MAX_RECORDED_PART_BYTES);
      expect(recorded.preview).not.to.contain(SECRET.slice(0, 3));
    }
  });

  it('keeps a body as redacted text when a secret spelled across JSON tokens leaves no valid JSON', () => {
    const secret = 'pre","b';
    const headers = { pad: 'x'.repeat(1500) };
    const body = JSON.stringify({ a: 'pre', b: 'post' });
    const recorded = recordedTask(
      {},
      'POST',
      { url: 'http://u.test/x', headers, body },
      new SecretRedactor([secret]),
    );
    expect(recorded.request?.body).to.equal('{"a":"***":"post"}');
  });

  it('keeps method and URL of a request whose headers alone are over the bound', () => {
    const headers = { a: 'x'.repeat(3000), b: 'y'.repeat(3000) };
    const recorded = recordedTask(
      {},
      'GET',
      { url: 'http://u.test/x', headers, body: undefined },
      new SecretRedactor([]),
    );
    expect(recorded.request).to.deep.equal({
      method: 'GET',
      url: 'http://u.test/x',
      truncated: true,
      bytes: jsonSize({ method: 'GET', url: 'http://u.test/x', headers }),
    });
  });

  it('records the request a debugger skipped: what would have been sent, beside the substitute output', async () => {
    const http = new ScriptedHttp({});
    const executor = new DagExecutor({ http });
    const status = await executor.execute(
      compileFixture(WORKFLOW, 'http://upstream.test'),
      { userId: '7' },
      {
        debug: {
          breakpoints: ['audit'],
          pause: async () => ({ action: 'skip', output: { stood: 'in' } }),
        },
      },
    );
    const audit = status.tasks?.find((t) => t.id === 'audit');
    expect(audit).to.deep.include({ substituted: true, output: { stood: 'in' }, input: { userId: '7' } });
    expect(audit?.request).to.deep.include({
      method: 'POST',
      url: 'http://upstream.test/audit',
      body: { who: '7' },
    });
    expect(http.requests.map((r) => new URL(r.url).pathname)).to.deep.equal(['/users/7']);
  });

  it('records the input of a task that failed before its request was resolved', async () => {
    const executor = new DagExecutor({ http: new ScriptedHttp({}) });
    const status = await executor.execute(compileFixture(WITH_SECRETS, 'http://upstream.test'), {
      id: 'o-1',
      pad: 'x',
    });
    const task = status.tasks?.[0];
    expect(task?.phase).to.equal('Failed');
    expect(task?.input).to.deep.equal({ id: 'o-1', pad: 'x' });
    expect(task?.request).to.equal(undefined);
  });
});

describe('overlaps (which tasks ran at the same time)', () => {
  /** The definition: every other interval that intersects, in order of start (ties: list order). */
  const byDefinition = (intervals: RunInterval[]): Map<string, string[]> => {
    const order = intervals.map((x, i) => ({ x, i })).sort((p, q) => p.x.start - q.x.start || p.i - q.i);
    const out = new Map<string, string[]>();
    for (const { x: a } of order) {
      const ids = order
        .filter(({ x: b }) => b !== a && b.start < a.end && a.start < b.end)
        .map(({ x: b }) => b.id);
      if (ids.length) out.set(a.id, ids);
    }
    return out;
  };

  it('lists for each task the others it overlapped, by start, for small and large workflows', () => {
    let seed = 7;
    const random = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (const size of [0, 1, 2, 3, 5, 8, 31, 32, 33, 60]) {
      for (let round = 0; round < 20; round++) {
        const intervals = Array.from({ length: size }, (_, i) => {
          const start = random(50);
          return { id: `t${i}`, start, end: start + 1 + random(10) };
        });
        const got = overlaps(intervals);
        expect(Object.fromEntries(got), `size ${size}`).to.deep.equal(
          Object.fromEntries(byDefinition(intervals)),
        );
      }
    }
  });
});

describe('randomHex', () => {
  it('gives lower-case hex of the asked length, different each time', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const id = randomHex(i % 2 ? 8 : 16);
      expect(id).to.match(i % 2 ? /^[0-9a-f]{16}$/ : /^[0-9a-f]{32}$/);
      ids.add(id);
    }
    expect(ids.size).to.equal(600);
  });
});

describe('jsonCharsAtMost (a bound on the JSON of a recorded input, without serialising it)', () => {
  it('never reports room the JSON text does not leave, for any plain JSON value', () => {
    // xorshift32: reproducible, and every bit of it varies.
    let seed = 11;
    const random = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const text = () =>
      Array.from({ length: random(12) }, () => ['a', '"', '\\', '\n', 'é', '😀', '\u0001'][random(7)]).join(
        '',
      );
    const value = (depth: number): unknown => {
      const kind = random(depth > 3 ? 4 : 6);
      if (kind === 0) return null;
      if (kind === 1) return random(2) === 0;
      if (kind === 2) return [0, -1.2345678901234567e-308, 1e21, 0.1, -7][random(5)];
      if (kind === 3) return text();
      if (kind === 4) return Array.from({ length: random(4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: random(4) }, () => [text(), value(depth + 1)]));
    };
    for (let i = 0; i < 2_000; i++) {
      const v = value(0);
      const budget = random(300);
      const left = jsonCharsAtMost(v, budget, 0);
      if (left >= 0) expect(JSON.stringify(v).length, JSON.stringify(v)).to.be.at.most(budget - left);
    }
  });

  it('leaves to serialisation what is not plain JSON data (toJSON, class instances, undefined elements)', () => {
    for (const v of [{ toJSON: () => 'x' }, new Date(0), new Map(), [undefined], { a: () => 1 }, 1n]) {
      expect(jsonCharsAtMost(v, 1_000, 0)).to.equal(-1);
    }
    expect(jsonCharsAtMost({ a: undefined, b: 'x' }, 1_000, 0)).to.be.at.least(0);
  });
});
