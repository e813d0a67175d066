import { expect } from 'chai';
import type { ExecutionEvent } from '../model/events.ts';
import type { TaskExecutionStatus, WorkflowExecutionStatus } from '../model/schema.ts';
import { Cancellation } from './cancellation.ts';
import type { Clock, SecretResolver } from './collaborators.ts';
import { checkBreakpoints, checkSkipOutput, type DebugDecision, type DebugPause } from './debug.ts';
import { DagExecutor } from './executor.ts';
import type { TaskHttpClient, TaskRequest } from './task-http.ts';
import { compileFixture } from './testdata/fixtures.ts';

const SECRET = 'tok-SECRET-9931';

/** An upstream that answers every call with `{name: <last path segment>}` and records the calls. */
class RecordingHttp implements TaskHttpClient {
  readonly sent: TaskRequest[] = [];
  async send(request: TaskRequest) {
    this.sent.push(request);
    const name = new URL(request.url).pathname.split('/').pop();
    return { status: 200, headers: {}, body: Buffer.from(JSON.stringify({ name })) };
  }
  async close() {}
}

/** A clock whose time moves only when the test says so. */
class ManualClock implements Clock {
  time = 1_700_000_000_000;
  private timers: { at: number; fire: () => void; id: number }[] = [];
  private next = 0;
  now() {
    return this.time;
  }
  setTimer<T>(callback: (arg: T) => void, ms: number, arg: T): unknown {
    const id = ++this.next;
    this.timers.push({ at: this.time + ms, fire: () => callback(arg), id });
    return id;
  }
  clearTimer(handle: unknown) {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  /** Moves time forward, firing every timer that falls due, in order. */
  advance(ms: number) {
    this.time += ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.clearTimer(due.id);
      due.fire();
    }
  }
}

/**
 * Three tasks in a chain: `a` (a secret in a header and the query), `b` (an outputSchema),
 * `c` (its URL uses `b`'s output). The workflow output maps `b` and `c`.
 */
const chain = (timeout = '10s', concurrency = 1) =>
  compileFixture(`kind: WorkflowTask
metadata: {name: with-key}
spec:
  timeout: 1s
  secrets: [{name: key, secretKeyRef: {name: api, key: key}}]
  http: {method: GET, url: "\${BASE}/a", query: {k: "{{secrets.key}}"}, headers: {Authorization: "Bearer {{secrets.key}}"}}
---
kind: WorkflowTask
metadata: {name: named}
spec:
  timeout: 1s
  outputSchema: {type: object, required: [name], properties: {name: {type: string}}}
  http: {method: POST, url: "\${BASE}/b", body: {from: "{{input.from}}"}}
---
kind: WorkflowTask
metadata: {name: greet}
spec:
  timeout: 1s
  inputSchema: {type: object, properties: {who: {type: string}}}
  http: {method: GET, url: "\${BASE}/c/{{input.who}}"}
---
kind: Workflow
spec:
  timeout: ${timeout}
  maxConcurrency: ${concurrency}
  tasks:
  - {id: a, taskRef: {name: with-key}}
  - {id: b, taskRef: {name: named}, input: {from: "{{tasks.a.output.name}}"}}
  - {id: c, taskRef: {name: greet}, input: {who: "{{tasks.b.output.name}}"}}
  output: {b: "{{tasks.b.output.name}}", c: "{{tasks.c.output.name}}"}
`);

const secrets: SecretResolver = { resolve: () => SECRET };

function byId(status: WorkflowExecutionStatus, id: string): TaskExecutionStatus {
  const found = status.tasks?.find((t) => t.id === id);
  if (!found) throw new Error(`no task ${id}`);
  return found;
}

/** A debugger that answers each pause from a script and remembers what it was shown. */
function scripted(decisions: Record<string, DebugDecision>) {
  const pauses: DebugPause[] = [];
  return {
    pauses,
    pause: async (paused: DebugPause) => {
      pauses.push(paused);
      return decisions[paused.task] ?? { action: 'continue' };
    },
  };
}

describe('debug runs (step-through executions)', () => {
  it('pauses before each breakpoint task with its resolved request; skip uses the substitute, continue calls', async () => {
    const http = new RecordingHttp();
    const debuggerScript = scripted({ b: { action: 'skip', output: { name: 'stand-in' } } });
    const status = await new DagExecutor({ http }).execute(
      chain(),
      { from: 'x' },
      { secrets, debug: { breakpoints: '*', pause: debuggerScript.pause } },
    );
    expect(status.phase, status.message).to.equal('Succeeded');
    expect(debuggerScript.pauses.map((p) => p.task)).to.deep.equal(['a', 'b', 'c']);
    expect(debuggerScript.pauses[1]?.request).to.deep.equal({
      method: 'POST',
      url: 'http://127.0.0.1:9/b',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: { from: 'a' },
    });
    // `c` was resolved from the substitute, and `b` was never called.
    expect(debuggerScript.pauses[2]?.request.url).to.equal('http://127.0.0.1:9/c/stand-in');
    expect(http.sent.map((r) => new URL(r.url).pathname)).to.deep.equal(['/a', '/c/stand-in']);
    expect(status.output).to.deep.equal({ b: 'stand-in', c: 'stand-in' });
    const b = byId(status, 'b');
    expect(b).to.include({ phase: 'Succeeded', substituted: true });
    expect(b.output).to.deep.equal({ name: 'stand-in' });
    expect(b.attempts).to.equal(undefined);
    expect(b.httpStatus).to.equal(undefined);
    expect(byId(status, 'a').substituted).to.equal(undefined);
    expect(byId(status, 'c')).to.include({ phase: 'Succeeded', httpStatus: 200, attempts: 1 });
  });

  it('the live TaskFinished of a skipped task carries the substitute, marked substituted', async () => {
    const events: ExecutionEvent[] = [];
    await new DagExecutor({ http: new RecordingHttp() }).execute(
      chain(),
      { from: 'x' },
      {
        secrets,
        observer: { event: (e) => events.push(e) },
        debug: {
          breakpoints: ['b'],
          pause: scripted({ b: { action: 'skip', output: { name: 's' } } }).pause,
        },
      },
    );
    const finished = events.filter((e) => e.type === 'TaskFinished');
    expect(finished.map((e) => [e.task, e.phase, e.substituted])).to.deep.equal([
      ['a', 'Succeeded', undefined],
      ['b', 'Succeeded', true],
      ['c', 'Succeeded', undefined],
    ]);
    expect(finished[1]?.output).to.deep.equal({ name: 's' });
    expect(events.some((e) => e.type === 'TaskStarted' && e.task === 'b')).to.equal(false);
  });

  it('shows the paused request with secrets redacted, and sends the real one', async () => {
    const http = new RecordingHttp();
    const debuggerScript = scripted({});
    await new DagExecutor({ http }).execute(
      chain(),
      { from: 'x' },
      { secrets, debug: { breakpoints: ['a'], pause: debuggerScript.pause } },
    );
    const shown = JSON.stringify(debuggerScript.pauses);
    expect(shown).not.to.include(SECRET);
    expect(debuggerScript.pauses[0]?.request.url).to.equal('http://127.0.0.1:9/a?k=***');
    expect(debuggerScript.pauses[0]?.request.headers.Authorization).to.equal('Bearer ***');
    expect(http.sent[0]?.headers.Authorization).to.equal(`Bearer ${SECRET}`);
  });

  it('pauses only at the named breakpoints', async () => {
    const debuggerScript = scripted({});
    const status = await new DagExecutor({ http: new RecordingHttp() }).execute(
      chain(),
      { from: 'x' },
      { secrets, debug: { breakpoints: ['c'], pause: debuggerScript.pause } },
    );
    expect(status.phase).to.equal('Succeeded');
    expect(debuggerScript.pauses.map((p) => p.task)).to.deep.equal(['c']);
  });

  it('abort ends the execution Failed with DebugAborted, sending nothing more and cancelling the rest', async () => {
    const http = new RecordingHttp();
    const status = await new DagExecutor({ http }).execute(
      chain(),
      { from: 'x' },
      { secrets, debug: { breakpoints: '*', pause: scripted({ b: { action: 'abort' } }).pause } },
    );
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('DebugAborted');
    expect(status.message).to.match(/aborted by the debugger at task b/);
    expect(http.sent).to.have.length(1);
    expect(byId(status, 'b').phase).to.equal('Cancelled');
    expect(byId(status, 'c').phase).to.equal('Cancelled');
  });

  it('an idle pause ends the execution Failed with DebugTimeout and tells the debugger the pause is over', async () => {
    const clock = new ManualClock();
    let shown: DebugPause | undefined;
    const run = new DagExecutor({ http: new RecordingHttp(), clock }).execute(
      chain(),
      { from: 'x' },
      {
        secrets,
        debug: {
          breakpoints: ['b'],
          idleTimeoutMs: 60_000,
          pause: (paused) => {
            shown = paused;
            return new Promise<DebugDecision>(() => {});
          },
        },
      },
    );
    while (!shown) await new Promise((r) => setImmediate(r));
    expect(shown.signal.aborted).to.equal(false);
    clock.advance(59_999);
    expect(shown.signal.aborted).to.equal(false);
    clock.advance(1);
    const status = await run;
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('DebugTimeout');
    expect(status.message).to.match(/no decision for task b within 60000 ms/);
    expect(shown.signal.aborted).to.equal(true);
    expect(byId(status, 'b').phase).to.equal('Cancelled');
    expect(byId(status, 'c').phase).to.equal('Cancelled');
  });

  it('the idle bound is five minutes unless given', async () => {
    const clock = new ManualClock();
    let shown: DebugPause | undefined;
    const run = new DagExecutor({ http: new RecordingHttp(), clock }).execute(
      chain('5m'),
      { from: 'x' },
      {
        secrets,
        debug: {
          breakpoints: ['a'],
          pause: (paused) => {
            shown = paused;
            return new Promise<DebugDecision>(() => {});
          },
        },
      },
    );
    while (!shown) await new Promise((r) => setImmediate(r));
    clock.advance(5 * 60_000 - 1);
    expect(shown.signal.aborted).to.equal(false);
    clock.advance(1);
    expect((await run).reason).to.equal('DebugTimeout');
  });

  it('time spent paused does not count against the workflow deadline', async () => {
    const clock = new ManualClock();
    let decide: ((d: DebugDecision) => void) | undefined;
    const run = new DagExecutor({ http: new RecordingHttp(), clock }).execute(
      chain('1s'),
      { from: 'x' },
      {
        secrets,
        debug: {
          breakpoints: ['b'],
          pause: () => new Promise<DebugDecision>((resolve) => (decide = resolve)),
        },
      },
    );
    while (!decide) await new Promise((r) => setImmediate(r));
    clock.advance(30_000);
    decide({ action: 'continue' });
    const status = await run;
    expect(status.phase, status.message).to.equal('Succeeded');
  });

  it('the deadline runs again once the pause is decided', async () => {
    const clock = new ManualClock();
    let decide: ((d: DebugDecision) => void) | undefined;
    const http: TaskHttpClient = {
      send: (request) =>
        new URL(request.url).pathname === '/b'
          ? new Promise((_, reject) => request.signal.once('abort', () => reject(request.signal.reason)))
          : new RecordingHttp().send(request),
      close: async () => {},
    };
    const run = new DagExecutor({ http, clock }).execute(
      chain('1s'),
      { from: 'x' },
      {
        secrets,
        debug: {
          breakpoints: ['b'],
          pause: () => new Promise<DebugDecision>((resolve) => (decide = resolve)),
        },
      },
    );
    while (!decide) await new Promise((r) => setImmediate(r));
    clock.advance(30_000);
    decide({ action: 'continue' });
    await new Promise((r) => setImmediate(r));
    clock.advance(1_000);
    const status = await run;
    expect(status.reason).to.equal('DeadlineExceeded');
  });

  it('presents one pause at a time when breakpoint tasks are ready together', async () => {
    const workflow = compileFixture(`kind: WorkflowTask
metadata: {name: plain}
spec:
  http: {method: GET, url: "\${BASE}/p"}
---
kind: Workflow
spec:
  maxConcurrency: 4
  tasks:
  - {id: x, taskRef: {name: plain}}
  - {id: y, taskRef: {name: plain}}
  - {id: z, taskRef: {name: plain}}
`);
    let open = 0;
    let mostOpen = 0;
    const order: string[] = [];
    const status = await new DagExecutor({ http: new RecordingHttp() }).execute(
      workflow,
      {},
      {
        debug: {
          breakpoints: '*',
          pause: async (paused) => {
            order.push(paused.task);
            mostOpen = Math.max(mostOpen, ++open);
            await new Promise((r) => setImmediate(r));
            open--;
            return { action: 'continue' };
          },
        },
      },
    );
    expect(status.phase).to.equal('Succeeded');
    expect(order).to.deep.equal(['x', 'y', 'z']);
    expect(mostOpen).to.equal(1);
  });

  it('a caller cancelling during a pause ends the execution Cancelled and the pause signal fires', async () => {
    const caller = new Cancellation();
    let shown: DebugPause | undefined;
    const run = new DagExecutor({ http: new RecordingHttp() }).execute(
      chain(),
      { from: 'x' },
      {
        secrets,
        signal: caller,
        debug: {
          breakpoints: ['a'],
          pause: (paused) => {
            shown = paused;
            return new Promise<DebugDecision>(() => {});
          },
        },
      },
    );
    while (!shown) await new Promise((r) => setImmediate(r));
    caller.abort(new Error('gone'));
    const status = await run;
    expect(status.reason).to.equal('Cancelled');
    expect(shown.signal.aborted).to.equal(true);
  });

  it('a debugger that fails ends the execution Failed with DebugAborted, naming the failure', async () => {
    const status = await new DagExecutor({ http: new RecordingHttp() }).execute(
      chain(),
      { from: 'x' },
      {
        secrets,
        debug: {
          breakpoints: ['b'],
          pause: () => Promise.reject(new Error('terminal closed')),
        },
      },
    );
    expect(status.reason).to.equal('DebugAborted');
    expect(status.message).to.match(/the debugger failed at task b: terminal closed/);
  });

  it('a debugger that skips with an output not matching the outputSchema ends the run with DebugAborted', async () => {
    const http = new RecordingHttp();
    const status = await new DagExecutor({ http }).execute(
      chain(),
      { from: 'x' },
      {
        secrets,
        debug: { breakpoints: ['b'], pause: scripted({ b: { action: 'skip', output: {} } }).pause },
      },
    );
    expect(status.reason).to.equal('DebugAborted');
    expect(status.message).to.match(
      /the debugger failed at task b: its substitute output does not match the outputSchema of named: output\.name is required/,
    );
    expect(byId(status, 'b').phase).to.equal('Cancelled');
    expect(http.sent).to.have.length(1);
  });

  it('a debugger that decides something else ends the run with DebugAborted', async () => {
    const status = await new DagExecutor({ http: new RecordingHttp() }).execute(
      chain(),
      { from: 'x' },
      {
        secrets,
        debug: { breakpoints: ['a'], pause: async () => ({ action: 'later' }) as unknown as DebugDecision },
      },
    );
    expect(status.reason).to.equal('DebugAborted');
    expect(status.message).to.match(/decided neither continue, skip nor abort/);
  });

  it('after an abort no further pause is presented, even to a task that was waiting its turn', async () => {
    const workflow = compileFixture(`kind: WorkflowTask
metadata: {name: plain}
spec:
  http: {method: GET, url: "\${BASE}/p"}
---
kind: Workflow
spec:
  maxConcurrency: 4
  tasks:
  - {id: x, taskRef: {name: plain}}
  - {id: y, taskRef: {name: plain}}
`);
    const debuggerScript = scripted({ x: { action: 'abort' } });
    const status = await new DagExecutor({ http: new RecordingHttp() }).execute(
      workflow,
      {},
      { debug: { breakpoints: '*', pause: debuggerScript.pause } },
    );
    expect(status.reason).to.equal('DebugAborted');
    expect(debuggerScript.pauses.map((p) => p.task)).to.deep.equal(['x']);
  });

  describe('checkSkipOutput', () => {
    const task = chain().steps.get('b')!.task;
    it('accepts an output that matches the outputSchema', () => {
      expect(checkSkipOutput(task, { name: 'n' })).to.deep.equal([]);
    });
    it('names each field that does not match, under `output`', () => {
      expect(checkSkipOutput(task, { name: 7 })).to.deep.equal([
        { code: 'InvalidOutput', field: 'output.name', message: 'must be string' },
      ]);
      expect(checkSkipOutput(task, {})).to.deep.equal([
        { code: 'InvalidOutput', field: 'output.name', message: 'is required' },
      ]);
    });
    it('accepts any JSON for a task without an outputSchema', () => {
      expect(checkSkipOutput(chain().steps.get('a')!.task, [1, 'two'])).to.deep.equal([]);
    });
    it('refuses an output nested deeper than the JSON depth limit', () => {
      let deep: unknown = 1;
      for (let i = 0; i < 200; i++) deep = [deep];
      const errors = checkSkipOutput(chain().steps.get('a')!.task, deep);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.include({ code: 'InvalidOutput', field: 'output' });
      expect(errors[0]?.message).to.match(/nests more than \d+ levels/);
    });
  });

  describe('checkBreakpoints', () => {
    it('accepts `*` and the ids of the workflow tasks', () => {
      expect(checkBreakpoints(chain(), '*')).to.deep.equal([]);
      expect(checkBreakpoints(chain(), ['a', 'c'])).to.deep.equal([]);
    });
    it('names a breakpoint that is no task of the workflow, with the closest id', () => {
      expect(checkBreakpoints(chain(), ['a', 'bb'])).to.deep.equal([
        {
          code: 'UnknownTask',
          field: 'debug.breakpoints[1]',
          message: 'no task with id `bb` in workflow wf (its tasks: a, b, c)',
          suggestion: 'did you mean `b`?',
        },
      ]);
    });
  });
});
