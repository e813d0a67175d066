/**
 * ExecutionService's name rules and failure handling with fakes: an in-memory writer and store, a
 * gated executor, a scripted random source. The HTTP path is covered by test/adversarial/names.test.ts.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { SyncflowError } from '../../core/errors.ts';
import type { ExecuteOptions, WorkflowExecutor } from '../../core/engine/executor.ts';
import type { WorkflowExecutionStatus } from '../../core/model/schema.ts';
import { oneTaskCatalog } from '../../core/definitions/testdata/one-task-catalog.ts';
import type { CompiledWorkflow } from '../../core/definitions/compile.ts';
import type { ExecutionName, WorkflowRevisionRecord } from '../../history/store.ts';
import type { WorkflowExecution } from '../../core/model/execution.ts';
import { RecordingLogger } from '../../history/testing.ts';
import { ExecutionWriter } from '../../history/writer.ts';
import type { ExecutionRecord } from '../../history/record.ts';
import { createHistoryMetrics } from '../../history/metrics.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';
import type { ExecutionCreateRequest } from '../../core/model/execution.ts';
import { RevisionRecorder } from '../../core/definitions/revision-recorder.ts';
import { ExecutionService, GENERATE_NAME_ATTEMPTS, type ExecutionServiceOptions } from './service.ts';
import type { LiveChange } from './live.ts';
import type { LiveMessage } from './bus.ts';

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Yields the scripted name suffixes, then `fallback` for ever. */
function scriptedRandom(suffixes: string[], fallback = 0.5): () => number {
  const values = suffixes.flatMap((s) => [...s].map((c) => (ALPHABET.indexOf(c) + 0.5) / ALPHABET.length));
  return () => values.shift() ?? fallback;
}

/** An executor whose executions finish when the test says so (or at once), or reject. */
class FakeExecutor implements WorkflowExecutor {
  calls = 0;
  gated = false;
  /** The compiled workflow of each call. */
  readonly workflows: CompiledWorkflow[] = [];
  failure: Error | undefined;
  /** The per-execution observer of each call (undefined when none was given). */
  readonly observers: ExecuteOptions['observer'][] = [];
  private releases: (() => void)[] = [];
  async execute(
    workflow: CompiledWorkflow,
    _input: unknown,
    options?: ExecuteOptions,
  ): Promise<WorkflowExecutionStatus> {
    this.calls++;
    this.workflows.push(workflow);
    this.observers.push(options?.observer);
    options?.observer?.event?.({
      type: 'ExecutionStarted',
      seq: 1,
      time: new Date().toISOString(),
      namespace: 'ns',
      workflow: 'wf',
      revision: 'r',
      graph: { tasks: [], edges: [] },
    });
    if (this.gated) await new Promise<void>((resolve) => this.releases.push(resolve));
    if (this.failure) throw this.failure;
    return { phase: 'Succeeded', output: { ok: true }, startTime: new Date().toISOString(), durationMs: 1 };
  }
  releaseAll(): void {
    for (const release of this.releases.splice(0)) release();
  }
}

/** A store holding executions in a map; `storedNames` can be made to fail. */
class FakeStore {
  readonly executions = new Map<string, WorkflowExecution>();
  lookupFailure: Error | undefined;
  lookups = 0;
  async insertRecords(batch: readonly ExecutionRecord[]) {
    return batch.map((r) => {
      if (this.executions.has(`${r.namespace}/${r.name}`)) return 'conflict' as const;
      this.executions.set(`${r.namespace}/${r.name}`, {
        metadata: { name: r.name, namespace: r.namespace, uid: r.uid },
      } as WorkflowExecution);
      return 'inserted' as const;
    });
  }
  async get(namespace: string, name: string) {
    return this.executions.get(`${namespace}/${name}`);
  }
  async storedNames(names: readonly ExecutionName[]) {
    this.lookups++;
    if (this.lookupFailure) throw this.lookupFailure;
    return new Set(names.map((n) => `${n.namespace}/${n.name}`).filter((k) => this.executions.has(k)));
  }
  readonly reserved = new Set<string>();
  async reserveName(namespace: string, name: string) {
    this.lookups++;
    if (this.lookupFailure) throw this.lookupFailure;
    const key = `${namespace}/${name}`;
    if (this.executions.has(key) || this.reserved.has(key)) return false;
    this.reserved.add(key);
    return true;
  }
  releaseFailure: Error | undefined;
  async releaseName(namespace: string, name: string) {
    if (this.releaseFailure) throw this.releaseFailure;
    this.reserved.delete(`${namespace}/${name}`);
  }
  async taskDurationStats() {
    return [];
  }
  async recordRevision() {
    return {};
  }
  readonly revisions = new Map<string, WorkflowRevisionRecord>();
  revisionReads = 0;
  async getRevision(namespace: string, name: string) {
    this.revisionReads++;
    return this.revisions.get(`${namespace}/${name}`);
  }
  hold(namespace: string, name: string): void {
    this.executions.set(`${namespace}/${name}`, {
      metadata: { name, namespace, uid: 'stored' },
    } as WorkflowExecution);
  }
}

describe('ExecutionService', () => {
  let store: FakeStore;
  let executor: FakeExecutor;
  let writer: ExecutionWriter;
  let background: string[];
  const catalog = oneTaskCatalog();

  function service(random?: () => number, options: Partial<ExecutionServiceOptions> = {}): ExecutionService {
    return new ExecutionService({
      catalog,
      executor,
      history: writer,
      store,
      secrets: new StaticSecrets(new Map()),
      onBackgroundError: (error, what) => background.push(`${what}: ${(error as Error).message}`),
      ...(random ? { random } : {}),
      ...options,
    });
  }
  const request = (metadata: { name?: string; generateName?: string }): ExecutionCreateRequest => ({
    namespace: 'ns',
    name: metadata.name,
    generateName: metadata.generateName,
    labels: {},
    annotations: {},
    workflowName: 'wf',
    input: {},
  });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error as SyncflowError,
    );

  beforeEach(() => {
    store = new FakeStore();
    executor = new FakeExecutor();
    background = [];
    writer = new ExecutionWriter({
      sink: store,
      logger: new RecordingLogger(),
      metrics: createHistoryMetrics(new Registry(), () => 0),
    });
  });
  afterEach(async () => {
    executor.releaseAll();
    await writer.close();
  });

  describe('explicit names', () => {
    it('runs one of two concurrent creates with a name; the other is refused with AlreadyExists before it runs', async () => {
      executor.gated = true;
      const s = service();
      const first = s.run(request({ name: 'x' }), { user: 'u' });
      const second = await refusal(s.run(request({ name: 'x' }), { user: 'u' }));
      expect(second?.code).to.equal('AlreadyExists');
      expect(second?.message).to.equal('workflowexecutions.execution.syncflow.io "x" already exists');
      while (executor.calls === 0) await new Promise((resolve) => setImmediate(resolve));
      executor.releaseAll();
      expect((await first).metadata.name).to.equal('x');
      expect(executor.calls).to.equal(1);
    });

    it('refuses a name the writer has queued or the store has, and frees the name after every refusal', async () => {
      const s = service();
      await s.run(request({ name: 'queued' }), { user: 'u' });
      expect((await refusal(s.run(request({ name: 'queued' }), { user: 'u' })))?.code).to.equal(
        'AlreadyExists',
      );
      store.hold('ns', 'stored');
      expect((await refusal(s.run(request({ name: 'stored' }), { user: 'u' })))?.code).to.equal(
        'AlreadyExists',
      );
      store.executions.delete('ns/stored');
      expect((await s.run(request({ name: 'stored' }), { user: 'u' })).metadata.name).to.equal('stored');
      expect(executor.calls).to.equal(2);
    });

    it('refuses a name another replica reserved in the history database, running nothing', async () => {
      store.reserved.add('ns/elsewhere');
      expect((await refusal(service().run(request({ name: 'elsewhere' }), { user: 'u' })))?.code).to.equal(
        'AlreadyExists',
      );
      expect(executor.calls).to.equal(0);
    });

    it('runs nothing when the store cannot be asked, and frees the name and the history place', async () => {
      const s = service();
      store.lookupFailure = new Error('connection refused');
      expect((await refusal(s.run(request({ name: 'x' }), { user: 'u' })))?.message).to.equal(
        'connection refused',
      );
      expect(executor.calls).to.equal(0);
      expect(writer.depth).to.equal(0);
      store.lookupFailure = undefined;
      expect((await s.run(request({ name: 'x' }), { user: 'u' })).metadata.name).to.equal('x');
    });

    it('refuses a dry run of a taken name and plans a free one without running or holding it', async () => {
      const s = service();
      store.hold('ns', 'taken');
      expect((await refusal(s.run(request({ name: 'taken' }), { user: 'u', dryRun: true })))?.code).to.equal(
        'AlreadyExists',
      );
      const planned = await s.run(request({ name: 'free' }), { user: 'u', dryRun: true });
      expect(planned.status.phase).to.equal('Pending');
      expect(executor.calls).to.equal(0);
      expect((await s.run(request({ name: 'free' }), { user: 'u' })).metadata.name).to.equal('free');
    });
  });

  describe('generated names', () => {
    it('draws again while a name is held by a running execution', async () => {
      executor.gated = true;
      const s = service(scriptedRandom(['bbbbb', 'bbbbb', 'ccccc']));
      const first = s.run(request({ generateName: 'g-' }), { user: 'u' });
      const second = s.run(request({ generateName: 'g-' }), { user: 'u' });
      while (executor.calls < 2) await new Promise((resolve) => setImmediate(resolve));
      executor.releaseAll();
      expect([(await first).metadata.name, (await second).metadata.name]).to.deep.equal([
        'g-bbbbb',
        'g-ccccc',
      ]);
    });

    it(`refuses with AlreadyExists, running nothing, after ${GENERATE_NAME_ATTEMPTS} candidates all held`, async () => {
      executor.gated = true;
      // The fallback 0 draws `bbbbb` for ever.
      const s = service(scriptedRandom([], 0));
      const first = s.run(request({ generateName: 'g-' }), { user: 'u' });
      const second = await refusal(s.run(request({ generateName: 'g-' }), { user: 'u' }));
      expect(second?.code).to.equal('AlreadyExists');
      expect(second?.message).to.match(
        /could not generate a unique name from generateName "g-" in 8 attempts/,
      );
      while (executor.calls === 0) await new Promise((resolve) => setImmediate(resolve));
      executor.releaseAll();
      await first;
      expect(executor.calls).to.equal(1);
    });

    it('replaces a stored name after the run with one the store does not have', async () => {
      store.hold('ns', 'g-bbbbb');
      store.hold('ns', 'g-ccccc');
      const s = service(scriptedRandom(['bbbbb', 'ccccc', 'ddddd']));
      const object = await s.run(request({ generateName: 'g-' }), { user: 'u' });
      expect(object.metadata.name).to.equal('g-ddddd');
      expect(executor.calls).to.equal(1);
    });

    it('falls back to a UUID-suffixed name rather than losing an execution whose every candidate is stored', async () => {
      store.hold('ns', 'g-bbbbb');
      const s = service(scriptedRandom([], 0));
      const object = await s.run(request({ generateName: 'g-' }), { user: 'u' });
      expect(object.metadata.name).to.match(
        /^g-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      await writer.flush();
      expect(store.executions.has(`ns/${object.metadata.name}`)).to.equal(true);
    });

    it('keeps the drawn name when the store cannot say, and reports why', async () => {
      store.lookupFailure = new Error('connection refused');
      const s = service(scriptedRandom(['bbbbb']));
      const object = await s.run(request({ generateName: 'g-' }), { user: 'u' });
      expect(object.metadata.name).to.equal('g-bbbbb');
      expect(background).to.deep.equal([
        'checking a generated execution name against the history: connection refused',
      ]);
    });
  });

  describe('live watches', () => {
    it('gives the engine no observer while no watch of the namespace is open', async () => {
      const s = service();
      const stop = s.live.subscribe({ namespace: 'elsewhere' }, () => undefined);
      await s.run(request({ name: 'quiet' }), { user: 'u' });
      stop();
      expect(executor.observers).to.deep.equal([undefined]);
    });

    it('shows a watched execution live under the uid it is recorded with', async () => {
      const s = service();
      const seen: LiveChange[] = [];
      s.live.subscribe({ namespace: 'ns' }, (change) => seen.push(change));
      const object = await s.run(request({ name: 'shown' }), { user: 'u' });
      expect(seen.map((c) => `${c.kind} ${c.object.metadata.name} ${c.object.metadata.uid}`)).to.deep.equal([
        `progress shown ${object.metadata.uid}`,
        `finished shown ${object.metadata.uid}`,
      ]);
    });

    it('hands the caller that follows an execution its messages, ending with the recorded object, with nobody watching', async () => {
      const s = service();
      const followed: LiveMessage[] = [];
      const object = await s.run(request({ name: 'followed' }), {
        user: 'u',
        follow: (m) => followed.push(m),
      });
      expect(followed.map((m) => m.kind)).to.deep.equal(['event', 'finished']);
      const last = followed[1];
      expect(last?.kind === 'finished' && last.object).to.deep.equal(object);
      expect(s.bus.listening('ns')).to.equal(false);
    });

    it('takes back (gone) a live execution refused before it ran or renamed because its name was stored', async () => {
      const s = service(scriptedRandom(['bbbbb', 'ccccc']));
      const seen: string[] = [];
      s.live.subscribe({ namespace: 'ns' }, (c) => seen.push(`${c.kind} ${c.object.metadata.name}`));
      store.hold('ns', 'gen-bbbbb');
      const object = await s.run(request({ generateName: 'gen-' }), { user: 'u' });
      expect(object.metadata.name).to.equal('gen-ccccc');
      executor.failure = new SyncflowError('InvalidInput', 'spec.input: bad');
      await refusal(s.run(request({ name: 'refused' }), { user: 'u' }));
      expect(seen).to.deep.equal([
        'progress gen-bbbbb',
        'gone gen-bbbbb',
        'progress refused',
        'gone refused',
      ]);
    });
  });

  describe('answering the caller before the bookkeeping', () => {
    it('hands the finished execution to the caller before it is queued for the history and logged', async () => {
      const logger = new RecordingLogger();
      const svc = service(undefined, { logger });
      const seen: Array<{ name: string; queued: boolean; logged: number }> = [];
      const object = await svc.run(request({ generateName: 'wf-' }), {
        user: 'alice',
        answer: (execution) =>
          seen.push({
            name: execution.metadata.name,
            queued: svc.recentExecution('ns', execution.metadata.name) !== undefined,
            logged: logger.entries.length,
          }),
      });
      expect(seen).to.deep.equal([{ name: object.metadata.name, queued: false, logged: 0 }]);
      expect(svc.recentExecution('ns', object.metadata.name)?.metadata.uid).to.equal(object.metadata.uid);
      expect(logger.at('info')).to.deep.equal(['execution finished']);
    });

    it('still records and logs an execution whose answer failed, and then rejects with that failure', async () => {
      const logger = new RecordingLogger();
      const svc = service(undefined, { logger });
      let name = '';
      const error = await refusal(
        svc.run(request({ generateName: 'wf-' }), {
          user: 'alice',
          answer: (execution) => {
            name = execution.metadata.name;
            throw new Error('the socket is gone');
          },
        }),
      );
      expect((error as Error | undefined)?.message).to.equal('the socket is gone');
      expect(svc.recentExecution('ns', name)).not.to.equal(undefined);
      expect(logger.at('info')).to.deep.equal(['execution finished']);
    });

    it('reports a record that fails after the caller was answered, since the caller cannot be told', async () => {
      const refusing = {
        admit: () => ({
          record: () => {
            throw new SyncflowError('FieldInvalid', 'execution cannot be recorded');
          },
          release: () => undefined,
        }),
        flush: async () => undefined,
        pending: () => undefined,
      };
      const svc = service(undefined, { history: refusing });
      let answered = 0;
      const error = await refusal(
        svc.run(request({ generateName: 'wf-' }), { user: 'u', answer: () => answered++ }),
      );
      expect(error?.code).to.equal('FieldInvalid');
      expect(answered).to.equal(1);
      expect(background).to.deep.equal([
        'recording an execution its caller was already answered for: execution cannot be recorded',
      ]);
    });

    it('does not answer a run refused before it ran', async () => {
      executor.failure = new SyncflowError('InvalidInput', 'no');
      let answered = 0;
      const error = await refusal(
        service().run(request({ generateName: 'wf-' }), { user: 'u', answer: () => answered++ }),
      );
      expect(error?.code).to.equal('InvalidInput');
      expect(answered).to.equal(0);
    });
  });

  it('answers 503 for a workflow it cannot find while the definitions are still loading, and 404 once loaded', async () => {
    let synced = false;
    const s = new ExecutionService({
      catalog,
      executor,
      history: writer,
      store,
      secrets: new StaticSecrets(new Map()),
      definitionsSynced: () => synced,
    });
    const unknown = { ...request({ name: 'early' }), workflowName: 'not-loaded-yet' };
    const early = await refusal(s.run(unknown, { user: 'u' }));
    expect(early?.code).to.equal('ServiceUnavailable');
    expect(early?.message).to.match(/still loading the workflow definitions.*retry/);
    // A workflow that is loaded runs whether or not every definition is.
    expect((await s.run(request({ name: 'known' }), { user: 'u' })).status.phase).to.equal('Succeeded');
    synced = true;
    expect((await refusal(s.run(unknown, { user: 'u' })))?.code).to.equal('WorkflowNotFound');
  });

  it('refuses input the workflow does not accept with InvalidInput and frees the name and its database reservation', async () => {
    executor.failure = new SyncflowError('InvalidInput', 'input does not match the inputSchema');
    const s = service();
    expect((await refusal(s.run(request({ name: 'bad-input' }), { user: 'u' })))?.code).to.equal(
      'InvalidInput',
    );
    expect(store.reserved.has('ns/bad-input')).to.equal(false);
    expect(writer.depth).to.equal(0);
    store.releaseFailure = new Error('connection refused');
    expect((await refusal(s.run(request({ name: 'bad-again' }), { user: 'u' })))?.code).to.equal(
      'InvalidInput',
    );
    expect(background).to.deep.equal([
      'releasing the name reservation of ns/bad-again (it expires in 15 minutes): connection refused',
    ]);
    executor.failure = undefined;
    expect((await s.run(request({ name: 'bad-input' }), { user: 'u' })).metadata.name).to.equal('bad-input');
  });

  it('records an executor that rejects as a Failed execution with reason InternalError, without its message', async () => {
    executor.failure = new Error('secret-bearing internal detail');
    const s = service();
    const object = await s.run(request({ name: 'broken' }), { user: 'u' });
    expect(object.status).to.include({ phase: 'Failed', reason: 'InternalError' });
    expect(object.status.message).to.not.contain('secret-bearing');
    expect(background).to.deep.equal([
      'running an execution (recorded as Failed with reason InternalError): secret-bearing internal detail',
    ]);
    await writer.flush();
    expect(store.executions.has('ns/broken')).to.equal(true);
  });

  it("records a compiled workflow's revision until it is stored, then no longer asks the recorder", async () => {
    let failures = 1;
    const sink = {
      recordRevision: async () => {
        if (failures-- > 0) throw new Error('history down');
        return {};
      },
    };
    class CountingRecorder extends RevisionRecorder {
      calls = 0;
      override async record(workflow: Parameters<RevisionRecorder['record']>[0]): Promise<void> {
        this.calls++;
        return super.record(workflow);
      }
    }
    const revisions = new CountingRecorder(sink);
    const s = new ExecutionService({
      catalog,
      executor,
      history: writer,
      store,
      revisions,
      secrets: new StaticSecrets(new Map()),
      onBackgroundError: (error, what) => background.push(`${what}: ${(error as Error).message}`),
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    await s.run(request({ generateName: 'a-' }), { user: 'u' });
    await settle();
    expect(background).to.deep.equal(['recording a workflow revision: history down']);
    await s.run(request({ generateName: 'a-' }), { user: 'u' });
    await settle();
    await s.run(request({ generateName: 'a-' }), { user: 'u' });
    expect(revisions.calls).to.equal(2);
  });

  describe('spec.workflowRevision (re-running the revision an execution ran)', () => {
    /** A recorded revision of `wf` whose one step is `old`, calling another URL than the current one. */
    const recorded = (workflowName = 'wf'): WorkflowRevisionRecord => {
      const found = oneTaskCatalog({ step: 'old', url: 'http://old.svc/', workflow: workflowName }).lookup(
        'ns',
        workflowName,
      );
      if (found.kind !== 'ready') throw new Error('the fixture does not compile');
      return {
        namespace: 'ns',
        name: `${workflowName}-${found.workflow.revision.slice(7, 17)}`,
        workflowName,
        hash: found.workflow.revision,
        definition: found.workflow.revisionSnapshot,
        creationTimestamp: '2026-01-01T00:00:00Z',
        resourceVersion: '1',
      };
    };

    it('runs the recorded definition instead of the current one, and records which revision ran', async () => {
      const revision = recorded();
      store.revisions.set(`ns/${revision.name}`, revision);
      const s = service();
      const object = await s.run(
        { ...request({ name: 'again' }), workflowRevision: revision.name },
        { user: 'u' },
      );
      expect([...(executor.workflows[0]?.steps.keys() ?? [])]).to.deep.equal(['old']);
      expect(object.status.workflowRevision).to.equal(revision.hash);
      expect(object.spec.workflowRevision).to.equal(revision.name);
      const current = await s.run(request({ name: 'now' }), { user: 'u' });
      expect([...(executor.workflows[1]?.steps.keys() ?? [])]).to.deep.equal(['a']);
      expect(current.status.workflowRevision).not.to.equal(revision.hash);
      // A revision never changes: it is read and compiled once.
      await s.run({ ...request({ name: 'third' }), workflowRevision: revision.name }, { user: 'u' });
      expect(store.revisionReads).to.equal(1);
    });

    it('plans a dry run against the revision too', async () => {
      const revision = recorded();
      store.revisions.set(`ns/${revision.name}`, revision);
      const plan = await service().run(
        { ...request({ name: 'plan' }), workflowRevision: revision.name },
        { user: 'u', dryRun: true },
      );
      expect(plan.status.plan?.order).to.deep.equal(['old']);
      expect(executor.calls).to.equal(0);
    });

    it('refuses a revision that is not recorded with 404 naming spec.workflowRevision, running nothing', async () => {
      const error = await refusal(
        service().run({ ...request({ name: 'x' }), workflowRevision: 'wf-0000000000' }, { user: 'u' }),
      );
      expect(error?.status).to.equal(404);
      expect(error?.message).to.match(/workflowrevisions.execution.syncflow.io "wf-0000000000" not found/);
      expect(error?.causes.map((c) => c.field)).to.deep.equal(['spec.workflowRevision']);
      expect(executor.calls).to.equal(0);
      expect(writer.depth).to.equal(0);
    });

    it('refuses a revision of another workflow with 422 naming spec.workflowRevision and the fix', async () => {
      const foreign = recorded('other');
      store.revisions.set(`ns/${foreign.name}`, foreign);
      const error = await refusal(
        service().run({ ...request({ name: 'x' }), workflowRevision: foreign.name }, { user: 'u' }),
      );
      expect(error?.status).to.equal(422);
      expect(error?.causes[0]?.field).to.equal('spec.workflowRevision');
      expect(error?.causes[0]?.message).to.match(/is a revision of workflow other, not of wf/);
      expect(executor.calls).to.equal(0);
    });

    it('refuses a recorded revision that does not compile here (422), and every revision when the store keeps none (404)', async () => {
      const broken = { ...recorded(), name: 'wf-broken' };
      broken.definition = { workflow: { tasks: [{ id: 'a', taskRef: { name: 'gone' } }] }, tasks: {} };
      store.revisions.set('ns/wf-broken', broken);
      const error = await refusal(
        service().run({ ...request({ name: 'x' }), workflowRevision: 'wf-broken' }, { user: 'u' }),
      );
      expect(error?.status).to.equal(422);
      expect(error?.causes[0]?.message).to.match(/no longer compiles/);
      const { getRevision: _, ...withoutRevisions } = store as unknown as Record<string, unknown>;
      const bare = new ExecutionService({
        catalog,
        executor,
        history: writer,
        store: Object.assign(Object.create(FakeStore.prototype) as FakeStore, withoutRevisions, {
          getRevision: undefined,
        }),
        secrets: new StaticSecrets(new Map()),
      });
      expect(
        (await refusal(bare.run({ ...request({ name: 'y' }), workflowRevision: 'wf-broken' }, { user: 'u' })))
          ?.status,
      ).to.equal(404);
    });
  });
});
