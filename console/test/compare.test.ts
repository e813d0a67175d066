import { expect } from 'chai';
import type { Execution, TaskStatus } from '../src/api/types.ts';
import { fieldDiff, taskTimings } from '../src/compare.ts';

function run(workflow: string, tasks: Partial<TaskStatus>[], input: unknown = {}): Execution {
  return {
    metadata: { name: `${workflow}-x` },
    spec: { workflowRef: { name: workflow }, input },
    status: { phase: 'Succeeded', tasks: tasks as TaskStatus[] },
  };
}

describe('comparing two executions', () => {
  describe('fieldDiff', () => {
    it('aligns the fields of both sides by path, marking same, changed, removed and added ones', () => {
      expect(
        fieldDiff({ userId: '42', withOrders: true, n: 1 }, { userId: 'missing', n: 1, amount: 500 }),
      ).to.deep.equal([
        { path: 'userId', left: '"42"', right: '"missing"', kind: 'changed' },
        { path: 'withOrders', left: 'true', kind: 'removed' },
        { path: 'n', left: '1', right: '1', kind: 'same' },
        { path: 'amount', right: '500', kind: 'added' },
      ]);
    });

    it('walks nested objects and arrays into paths, and treats a scalar root as one field', () => {
      expect(fieldDiff({ a: { b: [1, { c: 2 }] } }, { a: { b: [1] } })).to.deep.equal([
        { path: 'a.b[0]', left: '1', right: '1', kind: 'same' },
        { path: 'a.b[1].c', left: '2', kind: 'removed' },
      ]);
      expect(fieldDiff(undefined, 3)).to.deep.equal([{ path: '(value)', right: '3', kind: 'added' }]);
      expect(fieldDiff({}, [])).to.deep.equal([]);
    });

    it('shows an empty object or array as a value of its own', () => {
      expect(fieldDiff({ a: {} }, { a: [] })).to.deep.equal([
        { path: 'a', left: '{}', right: '[]', kind: 'changed' },
      ]);
    });
  });

  describe('taskTimings', () => {
    it('pairs tasks by id when both ran the same workflow, with the duration difference', () => {
      const rows = taskTimings(
        run('w', [
          { id: 'a', phase: 'Succeeded', durationMs: 10 },
          { id: 'b', phase: 'Succeeded', durationMs: 5 },
        ]),
        run('w', [
          { id: 'b', phase: 'Failed', durationMs: 8 },
          { id: 'a', phase: 'Succeeded', durationMs: 4 },
        ]),
      );
      expect(rows.map((r) => [r.left?.id, r.right?.id, r.delta])).to.deep.equal([
        ['a', 'a', -6],
        ['b', 'b', 3],
      ]);
    });

    it('pairs tasks by the order they started when the workflows differ (their ids have nothing in common)', () => {
      const rows = taskTimings(
        run('user-profile', [
          { id: 'user', phase: 'Succeeded', startTime: '2026-01-01T00:00:00.000Z', durationMs: 4 },
          { id: 'recs', phase: 'Succeeded', startTime: '2026-01-01T00:00:00.001Z', durationMs: 3 },
          { id: 'orders', phase: 'Succeeded', startTime: '2026-01-01T00:00:00.010Z', durationMs: 2 },
        ]),
        run('loan-quote', [
          { id: 'quote', phase: 'Skipped' },
          { id: 'score', phase: 'Failed', startTime: '2026-01-01T00:00:05.000Z', durationMs: 900 },
        ]),
      );
      expect(rows.map((r) => [r.left?.id, r.right?.id, r.delta])).to.deep.equal([
        ['user', 'score', 896],
        ['recs', 'quote', undefined],
        ['orders', undefined, undefined],
      ]);
    });
  });
});
