/**
 * Debug runs on the server: the concurrency limit, the session a stream answers pauses through,
 * and the run path recording a debug execution. A real engine over a fake upstream.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { DefinitionCatalog } from '../../core/definitions/catalog.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import type { TaskHttpClient, TaskRequest } from '../../core/engine/task-http.ts';
import type { SyncflowError } from '../../core/errors.ts';
import type { ExecutionCreateRequest, WorkflowExecution } from '../../core/model/execution.ts';
import { createHistoryMetrics } from '../../history/metrics.ts';
import { executionFromRecord, type ExecutionRecord } from '../../history/record.ts';
import { RecordingLogger } from '../../history/testing.ts';
import { ExecutionWriter } from '../../history/writer.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';
import { DebugRuns, type DebugSession, type PausedTask } from './debug.ts';
import { ExecutionService } from './service.ts';

/** Answers every call with `{name: <last path segment>}`; a call to `/hang` never answers. */
class FakeUpstream implements TaskHttpClient {
  readonly sent: string[] = [];
  async send(request: TaskRequest) {
    const path = new URL(request.url).pathname;
    this.sent.push(path);
    return { status: 200, headers: {}, body: Buffer.from(JSON.stringify({ name: path.split('/').pop() })) };
  }
  async close() {}
}

/** Three tasks in a chain in namespace `ns`; `b` declares an outputSchema, `c` calls `/c/<b's name>`. */
function chainCatalog(): DefinitionCatalog {
  const catalog = new DefinitionCatalog();
  const task = (name: string, spec: Record<string, unknown>) =>
    catalog.upsert({ kind: 'WorkflowTask', metadata: { name, namespace: 'ns', resourceVersion: '1' }, spec });
  task('ta', { http: { method: 'GET', url: 'http://up.svc/a' } });
  task('tb', {
    outputSchema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
    http: { method: 'POST', url: 'http://up.svc/b', body: { from: '{{input.from}}' } },
  });
  task('tc', {
    inputSchema: { type: 'object', properties: { who: { type: 'string' } } },
    http: { method: 'GET', url: 'http://up.svc/c/{{input.who}}' },
  });
  catalog.upsert({
    kind: 'Workflow',
    metadata: { name: 'chain', namespace: 'ns', resourceVersion: '2' },
    spec: {
      tasks: [
        { id: 'a', taskRef: { name: 'ta' } },
        { id: 'b', taskRef: { name: 'tb' }, input: { from: '{{tasks.a.output.name}}' } },
        { id: 'c', taskRef: { name: 'tc' }, input: { who: '{{tasks.b.output.name}}' } },
      ],
      output: { b: '{{tasks.b.output.name}}', c: '{{tasks.c.output.name}}' },
    },
  });
  return catalog;
}

/** A history sink that keeps what it is given. */
class MemorySink {
  readonly records: ExecutionRecord[] = [];
  async insertRecords(batch: readonly ExecutionRecord[]) {
    this.records.push(...batch);
    return batch.map(() => 'inserted' as const);
  }
}

/** Resolves once the session is paused at `task`. */
async function pausedAt(session: DebugSession, task: string): Promise<PausedTask> {
  while (session.paused?.task !== task) await new Promise((r) => setImmediate(r));
  return session.paused;
}

const refusal = (action: () => unknown): SyncflowError => {
  try {
    action();
  } catch (error) {
    return error as SyncflowError;
  }
  throw new Error('not refused');
};

describe('debug runs on the server', () => {
  let upstream: FakeUpstream;
  let sink: MemorySink;
  let writer: ExecutionWriter;
  let debugRuns: DebugRuns;
  let service: ExecutionService;

  beforeEach(() => {
    upstream = new FakeUpstream();
    sink = new MemorySink();
    writer = new ExecutionWriter({
      sink: { insertRecords: (batch: readonly ExecutionRecord[]) => sink.insertRecords(batch) } as never,
      logger: new RecordingLogger(),
      metrics: createHistoryMetrics(new Registry(), () => 0),
    });
    debugRuns = new DebugRuns({ idleTimeoutMs: 60_000 });
    service = new ExecutionService({
      catalog: chainCatalog(),
      executor: new DagExecutor({ http: upstream }),
      history: writer,
      store: {
        get: async () => undefined,
        storedNames: async () => new Set(),
        reserveName: async () => true,
        releaseName: async () => {},
        taskDurationStats: async () => [],
        recordRevision: async () => ({}),
      } as never,
      secrets: new StaticSecrets(new Map()),
      debugRuns,
    });
  });
  afterEach(async () => {
    await writer.close();
  });

  const request = (workflowName = 'chain'): ExecutionCreateRequest => ({
    namespace: 'ns',
    name: undefined,
    generateName: 'chain-',
    labels: {},
    annotations: { team: 'web' },
    workflowName,
    input: { from: 'x' },
  });

  it('pauses at each of three tasks; skip substitutes the second output; recorded with the debug annotation', async () => {
    const session = debugRuns.open({ breakpoints: '*' });
    const shown: PausedTask[] = [];
    session.onPause = (paused) => shown.push(paused);
    const run = service.run(request(), { user: 'dev', debug: session });
    await pausedAt(session, 'a');
    session.continue();
    const b = await pausedAt(session, 'b');
    expect(b.request).to.deep.equal({
      method: 'POST',
      url: 'http://up.svc/b',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: { from: 'a' },
    });
    expect(session.skip({ name: 'stand-in' })).to.deep.equal([]);
    const c = await pausedAt(session, 'c');
    expect(c.request.url).to.equal('http://up.svc/c/stand-in');
    session.continue();
    const object: WorkflowExecution = await run;
    expect(shown.map((p) => p.task)).to.deep.equal(['a', 'b', 'c']);
    expect(object.status.phase, object.status.message).to.equal('Succeeded');
    expect(object.status.output).to.deep.equal({ b: 'stand-in', c: 'stand-in' });
    expect(object.status.tasks?.find((t) => t.id === 'b')).to.deep.include({
      phase: 'Succeeded',
      substituted: true,
      output: { name: 'stand-in' },
    });
    expect(object.metadata.annotations).to.deep.equal({ team: 'web', 'syncflow.io/debug': 'true' });
    expect(upstream.sent).to.deep.equal(['/a', '/c/stand-in']);
    await writer.flush();
    expect(sink.records).to.have.length(1);
    const stored = executionFromRecord(sink.records[0] as ExecutionRecord);
    expect(stored.metadata.annotations).to.deep.equal({ team: 'web', 'syncflow.io/debug': 'true' });
    expect(stored.status.tasks?.find((t) => t.id === 'b')?.substituted).to.equal(true);
    expect(debugRuns.active).to.equal(0);
  });

  it('refuses a substitute that does not match the outputSchema with the field path; the pause stays', async () => {
    const session = debugRuns.open({ breakpoints: ['b'] });
    const run = service.run(request(), { user: 'dev', debug: session });
    await pausedAt(session, 'b');
    expect(session.skip({ name: 7 })).to.deep.equal([
      { code: 'InvalidOutput', field: 'output.name', message: 'must be string' },
    ]);
    expect(session.skip(undefined)).to.deep.include({
      code: 'InvalidOutput',
      field: 'output',
      message: 'must be object',
    });
    expect(session.paused?.task).to.equal('b');
    expect(session.skip({ name: 'ok' })).to.deep.equal([]);
    expect((await run).status.output).to.deep.equal({ b: 'ok', c: 'ok' });
  });

  it('abort ends the recorded execution Failed with DebugAborted', async () => {
    const session = debugRuns.open({ breakpoints: ['b'] });
    const run = service.run(request(), { user: 'dev', debug: session });
    await pausedAt(session, 'b');
    session.abort();
    const object = await run;
    expect(object.status).to.include({ phase: 'Failed', reason: 'DebugAborted' });
    expect(object.metadata.annotations?.['syncflow.io/debug']).to.equal('true');
    expect(upstream.sent).to.deep.equal(['/a']);
  });

  it('continue, skip and abort are refused with 409 when the run is not paused', async () => {
    const session = debugRuns.open({ breakpoints: '*' });
    for (const action of [() => session.continue(), () => session.skip({}), () => session.abort()]) {
      const error = refusal(action);
      expect(error.code).to.equal('Conflict');
      expect(error.status).to.equal(409);
      expect(error.message).to.match(/not paused/);
    }
    session.close();
  });

  it('an idle pause ends the run Failed with DebugTimeout, and the session is no longer paused', async () => {
    const quick = new DebugRuns({ idleTimeoutMs: 20 });
    const session = quick.open({ breakpoints: ['a'] });
    let ended = false;
    session.onPause = () => {};
    const run = service.run(request(), { user: 'dev', debug: session }).finally(() => (ended = true));
    await pausedAt(session, 'a');
    const object = await run;
    expect(ended).to.equal(true);
    expect(object.status).to.include({ phase: 'Failed', reason: 'DebugTimeout' });
    expect(object.status.message).to.match(/no decision for task a within 20 ms/);
    expect(session.paused).to.equal(undefined);
    expect(refusal(() => session.continue()).code).to.equal('Conflict');
    expect(upstream.sent).to.deep.equal([]);
    expect(quick.active).to.equal(0);
  });

  it('the idle bound is five minutes and the limit four by default', () => {
    const runs = new DebugRuns();
    expect(runs.idleTimeoutMs).to.equal(5 * 60_000);
    expect(runs.maxConcurrent).to.equal(4);
  });

  it('refuses the fifth concurrent debug run with 429 naming the limit; a finished run frees its place', async () => {
    const sessions = [1, 2, 3, 4].map(() => debugRuns.open({ breakpoints: ['a'] }));
    const runs = sessions.map((session) => service.run(request(), { user: 'dev', debug: session }));
    const fifth = refusal(() => debugRuns.open({ breakpoints: ['a'] }));
    expect(fifth.code).to.equal('TooManyRequests');
    expect(fifth.status).to.equal(429);
    expect(fifth.message).to.equal(
      'too many debug runs: 4 are running, the limit of this server; retry when one has finished',
    );
    const first = sessions[0] as DebugSession;
    await pausedAt(first, 'a');
    first.continue();
    await runs[0];
    const another = debugRuns.open({ breakpoints: ['a'] });
    another.close();
    for (const session of sessions.slice(1)) {
      await pausedAt(session, 'a');
      session.abort();
    }
    await Promise.all(runs);
    expect(debugRuns.active).to.equal(0);
  });

  it('the limit is configurable, and a closed session frees its place once', () => {
    const runs = new DebugRuns({ maxConcurrent: 1 });
    const only = runs.open({ breakpoints: '*' });
    expect(refusal(() => runs.open({ breakpoints: '*' })).message).to.match(/1 are running/);
    only.close();
    only.close();
    expect(runs.active).to.equal(0);
    runs.open({ breakpoints: '*' });
    expect(runs.active).to.equal(1);
  });

  it('a breakpoint that is no task of the workflow is refused with 422 before anything runs, freeing the place', async () => {
    const session = debugRuns.open({ breakpoints: ['a', 'bb'] });
    const error = await service.run(request(), { user: 'dev', debug: session }).then(
      () => undefined,
      (e: unknown) => e as SyncflowError,
    );
    expect(error?.status).to.equal(422);
    expect(error?.causes).to.deep.equal([
      {
        code: 'UnknownTask',
        field: 'debug.breakpoints[1]',
        message: 'no task with id `bb` in workflow chain (its tasks: a, b, c)',
        suggestion: 'did you mean `b`?',
      },
    ]);
    expect(upstream.sent).to.deep.equal([]);
    expect(debugRuns.active).to.equal(0);
  });

  it('a refused run (unknown workflow) frees its place too', async () => {
    const session = debugRuns.open({ breakpoints: '*' });
    const error = await service.run(request('nope'), { user: 'dev', debug: session }).then(
      () => undefined,
      (e: unknown) => e as SyncflowError,
    );
    expect(error?.code).to.equal('WorkflowNotFound');
    expect(debugRuns.active).to.equal(0);
  });

  it('a run without debug pauses nowhere and carries no debug annotation', async () => {
    const object = await service.run(request(), { user: 'dev' });
    expect(object.status.phase).to.equal('Succeeded');
    expect(object.metadata.annotations).to.deep.equal({ team: 'web' });
  });
});
