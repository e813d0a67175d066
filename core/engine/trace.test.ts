import { expect } from 'chai';
import type { TaskHttpClient, TaskRequest, TaskResponse } from './task-http.ts';
import { DagExecutor } from './executor.ts';
import { compileFixture } from './testdata/fixtures.ts';
import type { AttemptSpan, ExecutionSpan, ExecutionTracer, TracedAttempt, TracedExecution } from './trace.ts';

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
