/**
 * The behaviour every ExecutionStore backed by PostgreSQL must show, run against a real
 * PostgreSQL (store.integration.test.ts) and against embedded PGlite (history/pg-store.test.ts).
 */
import { expect } from 'chai';
import type pg from 'pg';
import { SyncflowError } from '../../../core/errors.ts';
import { WORKFLOW_LABEL } from '../../../core/model/resources.ts';
import { SILENT_LOGGER } from '../../../core/logger.ts';
import { applyMigrations, loadMigrations } from '../../../history/migrate.ts';
import { PgExecutionStore } from '../../../history/pg-store.ts';
import { isDataError } from '../../../history/writer.ts';
import { RetentionSweeper } from '../../../history/retention.ts';
import type { ExecutionWatch, WatchEvent } from '../../../history/store.ts';
import type { WorkflowExecution } from '../../../core/model/execution.ts';
import { execution } from './fixtures.ts';

/** How the contract reaches its database. */
export interface StoreHarness {
  /** A new pool to the test database; each pool plays one server replica. */
  newPool(): pg.Pool;
  /**
   * All pools share one database session (embedded PGlite): session advisory locks cannot exclude
   * one from another, so replicas starting together are not a case it can play.
   */
  sharedSession?: boolean;
}

/** Reads `n` events from a watch (the suite's timeout fails a watch that delivers fewer). */
export async function take(watch: ExecutionWatch, n: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  if (n === 0) return events;
  for await (const event of watch) {
    events.push(event);
    if (events.length === n) break;
  }
  return events;
}

/** Expects a promise to reject with a SyncflowError of `code`; returns it. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<SyncflowError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(SyncflowError);
    expect((error as SyncflowError).code).to.equal(code);
    return error as SyncflowError;
  }
  expect.fail(`expected a ${code} error`);
}

function names(items: { metadata: { name: string } }[]): string[] {
  return items.map((x) => x.metadata.name);
}

/** Drops and re-creates the schema, then migrates. */
export async function freshSchema(pool: pg.Pool): Promise<void> {
  await pool.query('DROP SCHEMA public CASCADE');
  await pool.query('CREATE SCHEMA public');
  await applyMigrations(pool, SILENT_LOGGER);
}

export function describeStoreContract(title: string, harness: () => StoreHarness): void {
  describe(title, function () {
    this.timeout(60_000);
    let pool: pg.Pool;
    let store: PgExecutionStore;
    const extraPools: pg.Pool[] = [];
    const stores: PgExecutionStore[] = [];

    function newStore(p: pg.Pool = pool): PgExecutionStore {
      const s = new PgExecutionStore({ pool: p, logger: SILENT_LOGGER, watchPollIntervalMs: 20 });
      stores.push(s);
      return s;
    }

    before(async () => {
      pool = harness().newPool();
      await freshSchema(pool);
    });

    beforeEach(async () => {
      await pool.query(
        'TRUNCATE executions, task_executions, execution_changes, workflow_revisions, execution_name_reservations',
      );
      await pool.query('UPDATE history_state SET compacted_rv = 0');
      store = newStore();
    });

    afterEach(() => {
      for (const s of stores.splice(0)) s.close();
    });

    after(async () => {
      await Promise.all(extraPools.splice(0).map((p) => p.end()));
      await pool.end();
    });

    describe('migrations', () => {
      it('applies nothing the second time', async () => {
        expect(await applyMigrations(pool, SILENT_LOGGER)).to.deep.equal([]);
      });

      it('lets replicas that start together migrate a fresh database exactly once', async () => {
        await pool.query('DROP SCHEMA public CASCADE');
        await pool.query('CREATE SCHEMA public');
        const other = harness().newPool();
        extraPools.push(other);
        const versions = (await loadMigrations()).map((m) => m.version);
        const applied = harness().sharedSession
          ? [await applyMigrations(pool, SILENT_LOGGER), await applyMigrations(other, SILENT_LOGGER)]
          : await Promise.all([applyMigrations(pool, SILENT_LOGGER), applyMigrations(other, SILENT_LOGGER)]);
        expect(applied.flat()).to.deep.equal(versions);
      });
    });

    describe('insertExecutions and get', () => {
      it('stores an execution with its tasks and serves it back with a resourceVersion', async () => {
        const x = execution({ annotations: { note: 'first' }, labels: { team: 'web' } });
        expect(await store.insertExecutions([x])).to.deep.equal(['inserted']);
        const got = await store.get('shop', x.metadata.name);
        expect(got?.metadata.resourceVersion).to.match(/^\d+$/);
        expect(got).to.deep.equal({
          ...x,
          metadata: { ...x.metadata, resourceVersion: got?.metadata.resourceVersion },
        });
        expect(got?.status.tasks).to.have.length(5);
      });

      it('adds the workflow label when the caller left it out', async () => {
        const x = execution({ workflow: 'checkout' });
        delete x.metadata.labels;
        await store.insertExecutions([x]);
        expect((await store.get('shop', x.metadata.name))?.metadata.labels).to.deep.equal({
          [WORKFLOW_LABEL]: 'checkout',
        });
      });

      it('keeps an execution without tasks without inventing any', async () => {
        const x = execution();
        delete x.status.tasks;
        await store.insertExecutions([x]);
        expect((await store.get('shop', x.metadata.name))?.status).to.not.have.property('tasks');
      });

      it('writes one task row per status task: id, phase, duration (none when absent), in order from 0', async () => {
        const x = execution({ taskDurations: [4.5, 6] });
        const tasks = x.status.tasks ?? [];
        (tasks[1] as { phase: string }).phase = 'Skipped';
        delete (tasks[1] as { durationMs?: number }).durationMs;
        await store.insertExecutions([x]);
        const rows = await pool.query(
          `SELECT t.ordinal, t.task_id, t.phase, t.duration_ms FROM task_executions t
           JOIN executions e ON e.id = t.execution_id WHERE e.name = $1 ORDER BY t.ordinal`,
          [x.metadata.name],
        );
        expect(rows.rows).to.deep.equal([
          { ordinal: 0, task_id: tasks[0]?.id, phase: 'Succeeded', duration_ms: 4.5 },
          { ordinal: 1, task_id: tasks[1]?.id, phase: 'Skipped', duration_ms: null },
        ]);
      });

      it('writes an execution recorded twice in one batch once', async () => {
        const x = execution();
        expect(await store.insertExecutions([x, x])).to.deep.equal(['inserted', 'inserted']);
        const rows = await pool.query('SELECT count(*)::int AS n FROM task_executions');
        expect(rows.rows[0].n).to.equal(5);
      });

      it('refuses as bad data, writing nothing, an execution whose name holds a control character', async () => {
        const good = execution();
        const bad = execution({ name: 'split\u0001name' });
        const failure = await store.insertExecutions([good, bad]).catch((error: unknown) => error);
        expect(isDataError(failure), String(failure)).to.equal(true);
        expect(String(failure)).to.contain('control character');
        const rows = await pool.query('SELECT count(*)::int AS n FROM executions');
        expect(rows.rows[0].n).to.equal(0);
        expect(await store.insertExecutions([good])).to.deep.equal(['inserted']);
      });

      it('tells which of a set of names are stored, in one query, namespace by namespace', async () => {
        const x = execution();
        await store.insertExecutions([x]);
        expect(await store.storedNames([])).to.deep.equal(new Set());
        const found = await store.storedNames([
          { namespace: 'shop', name: x.metadata.name },
          { namespace: 'other', name: x.metadata.name },
          { namespace: 'shop', name: 'nope' },
        ]);
        expect(found).to.deep.equal(new Set([`shop/${x.metadata.name}`]));
      });

      it('reserves a name once: refused while reserved by anyone or stored, free again once expired, purged by retention', async () => {
        expect(await store.reserveName('shop', 'r1', 60_000)).to.equal(true);
        expect(await store.reserveName('shop', 'r1', 60_000), 'reserved already').to.equal(false);
        expect(await store.reserveName('other', 'r1', 60_000), 'another namespace').to.equal(true);
        const x = execution();
        await store.insertExecutions([x]);
        expect(await store.reserveName('shop', x.metadata.name, 60_000), 'stored').to.equal(false);
        expect(await store.reserveName('shop', 'r2', -1_000)).to.equal(true);
        expect(
          await store.reserveName('shop', 'r2', 60_000),
          'an expired reservation is taken over',
        ).to.equal(true);
        expect(await store.reserveName('shop', 'r3', -1_000)).to.equal(true);
        expect(await store.reserveName('shop', 'r4', -1_000)).to.equal(true);
        expect(await store.purgeNameReservations(1)).to.equal(1);
        expect(await store.purgeNameReservations(10)).to.equal(1);
        expect(await store.purgeNameReservations(10)).to.equal(0);
        expect(await store.reserveName('shop', 'r1', 60_000), 'unexpired reservations are kept').to.equal(
          false,
        );
      });

      it('releases a reservation on request (an execution refused before it ran)', async () => {
        expect(await store.reserveName('shop', 'refused', 60_000)).to.equal(true);
        await store.releaseName('shop', 'refused');
        expect(await store.reserveName('shop', 'refused', 60_000)).to.equal(true);
      });

      it('frees the name of a deleted execution for a new reservation at once', async () => {
        const x = execution();
        expect(await store.reserveName('shop', x.metadata.name, 60_000)).to.equal(true);
        await store.insertExecutions([x]);
        expect(await store.reserveName('shop', x.metadata.name, 60_000)).to.equal(false);
        await store.delete('shop', x.metadata.name);
        expect(await store.reserveName('shop', x.metadata.name, 60_000)).to.equal(true);
        const y = execution();
        expect(await store.reserveName('shop', y.metadata.name, 60_000)).to.equal(true);
        await store.insertExecutions([y]);
        await store.deleteCollection({ namespace: 'shop' });
        expect(await store.reserveName('shop', y.metadata.name, 60_000)).to.equal(true);
      });

      it('lets exactly one of many concurrent reservations of a name win', async () => {
        const results = await Promise.all(
          Array.from({ length: 12 }, () => store.reserveName('shop', 'contended', 60_000)),
        );
        expect(results.filter(Boolean)).to.have.length(1);
      });

      it('returns undefined for an unknown execution', async () => {
        expect(await store.get('shop', 'nope')).to.equal(undefined);
      });

      it('reports a retried execution as duplicate and a different one with a taken name as conflict', async () => {
        const x = execution();
        await store.insertExecutions([x]);
        const clash = { ...execution(), metadata: { ...execution().metadata, name: x.metadata.name } };
        const fresh = execution();
        expect(await store.insertExecutions([x, clash, fresh])).to.deep.equal([
          'duplicate',
          'conflict',
          'inserted',
        ]);
        expect((await store.get('shop', x.metadata.name))?.metadata.uid).to.equal(x.metadata.uid);
        const taskRows = await pool.query('SELECT count(*)::int AS n FROM task_executions');
        expect(taskRows.rows[0].n).to.equal(10);
      });
    });

    describe('resourceVersion', () => {
      it('increases with every insert, metadata update and delete', async () => {
        const versions = [Number(await store.currentResourceVersion())];
        const x = execution();
        await store.insertExecutions([x]);
        versions.push(Number(await store.currentResourceVersion()));
        const current = (await store.get('shop', x.metadata.name)) as WorkflowExecution;
        await store.updateMetadata('shop', x.metadata.name, {
          labels: { ...current.metadata.labels, team: 'web' },
          annotations: {},
        });
        versions.push(Number(await store.currentResourceVersion()));
        await store.delete('shop', x.metadata.name);
        versions.push(Number(await store.currentResourceVersion()));
        for (let i = 1; i < versions.length; i++)
          expect(versions[i]).to.be.greaterThan(versions[i - 1] as number);
      });
    });

    describe('list', () => {
      let all: WorkflowExecution[];
      beforeEach(async () => {
        const base = Date.parse('2026-01-01T00:00:00Z');
        all = [
          execution({
            name: 'a',
            namespace: 'shop',
            workflow: 'profile',
            labels: { team: 'web', tier: 'gold' },
            createdAt: new Date(base),
          }),
          execution({
            name: 'b',
            namespace: 'shop',
            workflow: 'profile',
            phase: 'Failed',
            labels: { team: 'api' },
            createdAt: new Date(base + 1000),
          }),
          execution({
            name: 'c',
            namespace: 'shop',
            workflow: 'checkout',
            labels: { tier: 'silver' },
            createdAt: new Date(base + 2000),
          }),
          execution({
            name: 'd',
            namespace: 'bank',
            workflow: 'profile',
            labels: { team: 'web' },
            createdAt: new Date(base + 3000),
          }),
        ];
        for (const x of all) await store.insertExecutions([x]);
      });

      const cases: { title: string; options: Parameters<PgExecutionStore['list']>[0]; expected: string[] }[] =
        [
          { title: 'all namespaces, newest first', options: {}, expected: ['d', 'c', 'b', 'a'] },
          { title: 'one namespace', options: { namespace: 'shop' }, expected: ['c', 'b', 'a'] },
          { title: 'label equality', options: { labelSelector: 'team=web' }, expected: ['d', 'a'] },
          {
            title: 'label inequality (absent keys match)',
            options: { labelSelector: 'team!=web' },
            expected: ['c', 'b'],
          },
          { title: 'label in', options: { labelSelector: 'tier in (gold, silver)' }, expected: ['c', 'a'] },
          {
            title: 'label notin',
            options: { labelSelector: 'tier notin (gold)' },
            expected: ['d', 'c', 'b'],
          },
          { title: 'label exists', options: { labelSelector: 'tier' }, expected: ['c', 'a'] },
          { title: 'label does not exist', options: { labelSelector: '!tier' }, expected: ['d', 'b'] },
          {
            title: 'the workflow label',
            options: { labelSelector: `${WORKFLOW_LABEL}=profile` },
            expected: ['d', 'b', 'a'],
          },
          {
            title: 'workflow label in a set',
            options: { labelSelector: `${WORKFLOW_LABEL} in (checkout)` },
            expected: ['c'],
          },
          {
            title: 'parsed selector form',
            options: { labelSelector: [{ key: 'team', operator: 'eq', values: ['api'] }] },
            expected: ['b'],
          },
          {
            title: 'field spec.workflowRef.name',
            options: { fieldSelector: 'spec.workflowRef.name=checkout' },
            expected: ['c'],
          },
          { title: 'field status.phase', options: { fieldSelector: 'status.phase=Failed' }, expected: ['b'] },
          {
            title: 'field status.phase negated, with namespace',
            options: { namespace: 'shop', fieldSelector: 'status.phase!=Failed' },
            expected: ['c', 'a'],
          },
          { title: 'field metadata.name', options: { fieldSelector: 'metadata.name=d' }, expected: ['d'] },
          {
            title: 'time range [after, before)',
            options: {
              createdAfter: new Date('2026-01-01T00:00:01Z'),
              createdBefore: new Date('2026-01-01T00:00:03Z'),
            },
            expected: ['c', 'b'],
          },
          {
            title: 'combined label and field selectors',
            options: { labelSelector: 'team=web', fieldSelector: 'metadata.namespace=shop' },
            expected: ['a'],
          },
        ];
      for (const c of cases) {
        it(`filters by ${c.title}`, async () => {
          expect(names((await store.list(c.options)).items)).to.deep.equal(c.expected);
        });
      }

      it('reports the resourceVersion the listing is consistent with', async () => {
        const list = await store.list();
        expect(list.resourceVersion).to.equal(await store.currentResourceVersion());
        expect(list).to.not.have.property('continue');
      });

      it('rejects a malformed selector, naming the parameter', async () => {
        const error = await rejection(store.list({ labelSelector: 'team in ()' }), 'BadRequest');
        expect(error.causes[0]?.field).to.equal('labelSelector');
        await rejection(store.list({ fieldSelector: 'status.user=bob' }), 'BadRequest');
      });

      it('rejects a continue token it did not issue', async () => {
        const error = await rejection(store.list({ limit: 1, continue: 'garbage' }), 'BadRequest');
        expect(error.message).to.contain('continue');
      });

      it('rejects a negative limit', async () => {
        await rejection(store.list({ limit: -1 }), 'BadRequest');
      });
    });

    describe('pagination', () => {
      it('pages through everything once, in order, while inserts continue', async () => {
        const initial: WorkflowExecution[] = [];
        for (let i = 0; i < 5; i++) {
          const batch = Array.from({ length: 10 }, () => execution());
          await store.insertExecutions(batch);
          initial.push(...batch);
        }
        const otherPool = harness().newPool();
        extraPools.push(otherPool);
        const writer = newStore(otherPool);
        const seen: string[] = [];
        let page = await store.list({ namespace: 'shop', limit: 7 });
        const snapshot = page.resourceVersion;
        seen.push(...names(page.items));
        while (page.continue) {
          // Another replica inserts between pages: newer items must not shift or repeat any page.
          await writer.insertExecutions([execution(), execution()]);
          page = await store.list({ namespace: 'shop', limit: 7, continue: page.continue });
          expect(page.resourceVersion).to.equal(snapshot);
          seen.push(...names(page.items));
        }
        expect(seen).to.deep.equal(names(initial).reverse());
        expect((await store.list({ namespace: 'shop' })).items).to.have.length(50 + 2 * 7);
      });

      it('applies the filter on every page', async () => {
        for (let i = 0; i < 6; i++)
          await store.insertExecutions([execution({ phase: i % 2 ? 'Failed' : 'Succeeded' })]);
        const first = await store.list({ fieldSelector: 'status.phase=Failed', limit: 2 });
        const second = await store.list({
          fieldSelector: 'status.phase=Failed',
          limit: 2,
          continue: first.continue as string,
        });
        expect([...first.items, ...second.items].map((x) => x.status.phase)).to.deep.equal([
          'Failed',
          'Failed',
          'Failed',
        ]);
        expect(second).to.not.have.property('continue');
      });
    });

    describe('updateMetadata', () => {
      it('replaces labels and annotations and bumps the resourceVersion', async () => {
        const x = execution();
        await store.insertExecutions([x]);
        const before = (await store.get('shop', x.metadata.name)) as WorkflowExecution;
        const updated = await store.updateMetadata('shop', x.metadata.name, {
          labels: { [WORKFLOW_LABEL]: 'user-profile', team: 'web' },
          annotations: { reviewed: 'yes' },
          resourceVersion: before.metadata.resourceVersion,
        });
        expect(updated.metadata.labels).to.deep.equal({ [WORKFLOW_LABEL]: 'user-profile', team: 'web' });
        expect(updated.metadata.annotations).to.deep.equal({ reviewed: 'yes' });
        expect(Number(updated.metadata.resourceVersion)).to.be.greaterThan(
          Number(before.metadata.resourceVersion),
        );
        expect(updated.status).to.deep.equal(before.status);
        expect(await store.get('shop', x.metadata.name)).to.deep.equal(updated);
      });

      it('refuses a stale resourceVersion with Conflict', async () => {
        const x = execution();
        await store.insertExecutions([x]);
        const error = await rejection(
          store.updateMetadata('shop', x.metadata.name, {
            labels: x.metadata.labels ?? {},
            annotations: {},
            resourceVersion: '1',
          }),
          'Conflict',
        );
        expect(error.message).to.contain('metadata.resourceVersion');
      });

      it('refuses to change or drop the workflow label, naming it', async () => {
        const x = execution();
        await store.insertExecutions([x]);
        const error = await rejection(
          store.updateMetadata('shop', x.metadata.name, { labels: {}, annotations: {} }),
          'FieldInvalid',
        );
        expect(error.causes[0]?.field).to.equal(`metadata.labels[${WORKFLOW_LABEL}]`);
      });

      it('answers NotFound for an unknown execution', async () => {
        await rejection(store.updateMetadata('shop', 'nope', { labels: {}, annotations: {} }), 'NotFound');
      });
    });

    describe('delete', () => {
      it('deletes one execution with its tasks and returns it', async () => {
        const x = execution();
        await store.insertExecutions([x, execution()]);
        const deleted = await store.delete('shop', x.metadata.name);
        expect(deleted.metadata.uid).to.equal(x.metadata.uid);
        expect(deleted.status.tasks).to.have.length(5);
        expect(await store.get('shop', x.metadata.name)).to.equal(undefined);
        const rows = await pool.query('SELECT count(*)::int AS n FROM task_executions');
        expect(rows.rows[0].n).to.equal(5);
        await rejection(store.delete('shop', x.metadata.name), 'NotFound');
      });

      it('deletes every execution a selector matches, and only those', async () => {
        const keep = execution({ labels: { team: 'api' } });
        const gone = Array.from({ length: 3 }, () => execution({ labels: { team: 'web' } }));
        await store.insertExecutions([keep, ...gone]);
        const deleted = await store.deleteCollection({ namespace: 'shop', labelSelector: 'team=web' });
        expect(deleted.map((x) => x.metadata.uid).sort()).to.deep.equal(
          gone.map((x) => x.metadata.uid).sort(),
        );
        expect(names((await store.list()).items)).to.deep.equal([keep.metadata.name]);
      });
    });

    describe('watch', () => {
      it('replays ADDED, MODIFIED and DELETED events committed after an old resourceVersion, in order', async () => {
        // An execution created and deleted since then shows as DELETED only: its row is gone.
        const start = await store.currentResourceVersion();
        const [x, y] = [execution(), execution()];
        await store.insertExecutions([x, y]);
        await store.updateMetadata('shop', x.metadata.name, {
          labels: { ...x.metadata.labels, team: 'web' },
          annotations: {},
        });
        await store.delete('shop', y.metadata.name);
        const watch = await store.watch({ resourceVersion: start });
        const events = await take(watch, 3);
        watch.close();
        expect(events.map((e) => [e.type, e.object.metadata.name])).to.deep.equal([
          ['ADDED', x.metadata.name],
          ['MODIFIED', x.metadata.name],
          ['DELETED', y.metadata.name],
        ]);
        const versions = events.map((e) => Number(e.object.metadata.resourceVersion));
        expect([...versions].sort((a, b) => a - b)).to.deep.equal(versions);
        expect(events[1]?.object.metadata.labels?.team).to.equal('web');
        expect(events[1]?.object.status.tasks).to.have.length(5);
        expect(events[2]?.object.status.phase).to.equal('Succeeded');
        expect(events[2]?.object.metadata.uid).to.equal(y.metadata.uid);
      });

      it('delivers only later changes when started from the current resourceVersion', async () => {
        await store.insertExecutions([execution()]);
        const watch = await store.watch({ resourceVersion: await store.currentResourceVersion() });
        const later = execution();
        await store.insertExecutions([later]);
        const [event] = await take(watch, 1);
        watch.close();
        expect(event?.object.metadata.name).to.equal(later.metadata.name);
      });

      it('filters by namespace, label and field selectors', async () => {
        const watch = await store.watch({
          resourceVersion: await store.currentResourceVersion(),
          namespace: 'shop',
          labelSelector: 'team=web',
          fieldSelector: 'status.phase=Failed',
        });
        const wanted = execution({ labels: { team: 'web' }, phase: 'Failed' });
        await store.insertExecutions([
          execution({ namespace: 'bank', labels: { team: 'web' }, phase: 'Failed' }),
          execution({ labels: { team: 'api' }, phase: 'Failed' }),
          execution({ labels: { team: 'web' } }),
          wanted,
        ]);
        const [event] = await take(watch, 1);
        watch.close();
        expect(event?.object.metadata.name).to.equal(wanted.metadata.name);
      });

      it("sees another replica's writes, and two watchers at different points get no gap", async () => {
        const otherPool = harness().newPool();
        extraPools.push(otherPool);
        const replicaB = newStore(otherPool);
        const start = await store.currentResourceVersion();
        const early = Array.from({ length: 5 }, () => execution());
        await replicaB.insertExecutions(early);
        const fromStart = await store.watch({ resourceVersion: start });
        const fromNow = await store.watch({ resourceVersion: await store.currentResourceVersion() });
        const late = Array.from({ length: 5 }, () => execution());
        for (const x of late) await replicaB.insertExecutions([x]);
        const all = await take(fromStart, 10);
        const recent = await take(fromNow, 5);
        fromStart.close();
        fromNow.close();
        expect(names(all.map((e) => e.object))).to.deep.equal(names([...early, ...late]));
        expect(names(recent.map((e) => e.object))).to.deep.equal(names(late));
      });

      it('rejects a resourceVersion older than the compacted one with Gone', async () => {
        const x = execution();
        await store.insertExecutions([x]);
        const old = await store.currentResourceVersion();
        await store.delete('shop', x.metadata.name);
        await store.insertExecutions([execution()]);
        expect(await store.compactChanges(new Date(Date.now() + 60_000), 100)).to.equal(1);
        const error = await rejection(store.watch({ resourceVersion: old }), 'Gone');
        expect(error.message).to.contain('too old resource version');
        const watch = await store.watch({ resourceVersion: await store.currentResourceVersion() });
        watch.close();
      });

      it('rejects a resourceVersion newer than anything stored, and one that is not a number', async () => {
        const error = await rejection(store.watch({ resourceVersion: '999999999' }), 'BadRequest');
        expect(error.causes[0]?.field).to.equal('resourceVersion');
        await rejection(store.watch({ resourceVersion: 'abc' }), 'BadRequest');
      });

      it('ends watches when the store closes', async () => {
        const watch = await store.watch({ resourceVersion: await store.currentResourceVersion() });
        const pending = take(watch, 1);
        store.close();
        await rejection(pending, 'ServiceUnavailable');
      });
    });

    describe('revisions', () => {
      const hash = (c: string) => `sha256:${c.repeat(64)}`;

      it('records a revision once and returns the stored one afterwards', async () => {
        const first = await store.recordRevision({
          namespace: 'shop',
          workflowName: 'profile',
          hash: hash('a'),
          definition: { spec: 1 },
        });
        expect(first.created).to.equal(true);
        expect(first.revision).to.include({
          name: 'profile-aaaaaaaaaa',
          workflowName: 'profile',
          hash: hash('a'),
        });
        expect(first.revision.definition).to.deep.equal({ spec: 1 });
        const again = await store.recordRevision({
          namespace: 'shop',
          workflowName: 'profile',
          hash: hash('a'),
          definition: { spec: 1 },
        });
        expect(again).to.deep.equal({ revision: first.revision, created: false });
        const otherStore = newStore();
        const fromOtherReplica = await otherStore.recordRevision({
          namespace: 'shop',
          workflowName: 'profile',
          hash: hash('a'),
          definition: {},
        });
        expect(fromOtherReplica).to.deep.equal({ revision: first.revision, created: false });
        expect(await store.getRevision('shop', 'profile-aaaaaaaaaa')).to.deep.equal(first.revision);
        expect(await store.getRevision('shop', 'profile-bbbbbbbbbb')).to.equal(undefined);
      });

      it('lists the revisions of a workflow newest first, with pagination', async () => {
        for (const c of ['a', 'b', 'c']) {
          await store.recordRevision({
            namespace: 'shop',
            workflowName: 'profile',
            hash: hash(c),
            definition: {},
          });
        }
        await store.recordRevision({
          namespace: 'shop',
          workflowName: 'checkout',
          hash: hash('d'),
          definition: {},
        });
        const first = await store.listRevisions({
          namespace: 'shop',
          labelSelector: `${WORKFLOW_LABEL}=profile`,
          limit: 2,
        });
        expect(first.items.map((r) => r.name)).to.deep.equal(['profile-cccccccccc', 'profile-bbbbbbbbbb']);
        const second = await store.listRevisions({
          namespace: 'shop',
          labelSelector: `${WORKFLOW_LABEL}=profile`,
          limit: 2,
          continue: first.continue as string,
        });
        expect(second.items.map((r) => r.name)).to.deep.equal(['profile-aaaaaaaaaa']);
        expect(second).to.not.have.property('continue');
        expect((await store.listRevisions()).items).to.have.length(4);
      });

      it('rejects a hash that is not a sha256 revision, naming the field', async () => {
        const error = await rejection(
          store.recordRevision({ namespace: 'shop', workflowName: 'profile', hash: 'v1', definition: {} }),
          'FieldInvalid',
        );
        expect(error.causes[0]?.field).to.equal('hash');
      });
    });

    describe('taskDurationStats', () => {
      it('gives the median and p90 of each step over the recent successful runs', async () => {
        for (const d of [10, 20, 30, 40, 50]) {
          await store.insertExecutions([execution({ workflow: 'profile', taskDurations: [d, d * 2] })]);
        }
        await store.insertExecutions([execution({ workflow: 'other', taskDurations: [1000] })]);
        const stats = await store.taskDurationStats({ namespace: 'shop', workflowName: 'profile' });
        expect(stats.map((s) => [s.taskId, s.p50Ms, s.samples])).to.deep.equal([
          ['t0', 30, 5],
          ['t1', 60, 5],
        ]);
        expect(stats[0]?.p90Ms).to.be.closeTo(46, 0.001);
        const recent = await store.taskDurationStats({
          namespace: 'shop',
          workflowName: 'profile',
          recentExecutions: 2,
        });
        expect(recent[0]?.p50Ms).to.equal(45);
      });
    });

    describe('retention', () => {
      it('deletes executions older than the configured age in batches, telling watchers', async () => {
        const now = Date.parse('2026-06-10T00:00:00Z');
        const day = 24 * 3600 * 1000;
        const old = Array.from({ length: 5 }, (_, i) =>
          execution({ createdAt: new Date(now - 8 * day - i * 1000) }),
        );
        const recent = execution({ createdAt: new Date(now - 6 * day) });
        await store.insertExecutions([...old, recent]);
        const watch = await store.watch({ resourceVersion: await store.currentResourceVersion() });
        const sweeper = new RetentionSweeper({
          target: store,
          logger: SILENT_LOGGER,
          batchSize: 2,
          pauseMs: 1,
          now: () => now,
        });
        expect(await sweeper.sweep()).to.deep.equal({ executions: 5, changes: 0 });
        expect(names((await store.list()).items)).to.deep.equal([recent.metadata.name]);
        const events = await take(watch, 5);
        watch.close();
        expect(events.every((e) => e.type === 'DELETED')).to.equal(true);
        const tasks = await pool.query('SELECT count(*)::int AS n FROM task_executions');
        expect(tasks.rows[0].n).to.equal(5);
      });
    });
  });
}
