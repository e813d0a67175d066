import { expect } from 'chai';
import {
  EXECUTION_COLUMNS,
  REVISION_COLUMNS,
  executionTable,
  formatAge,
  formatDuration,
  humanDuration,
  negotiateTable,
  parseIncludeObject,
  revisionTable,
  shortHash,
  wantsTable,
  type WorkflowExecutionLike,
} from './table.ts';

// Field names are those of meta.k8s.io/v1 Table, TableColumnDefinition and TableRow.
interface Table {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: Array<{
    name: string;
    type: string;
    format: string;
    description: string;
    priority: number;
  }>;
  rows: Array<{
    cells: unknown[];
    object?: { kind?: string; apiVersion?: string; metadata?: Record<string, unknown>; spec?: unknown };
  }>;
}

const KUBECTL_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const HASH = `sha256:${'0123456789abcdef'.repeat(4)}`;
const NOW = new Date('2026-03-01T12:00:00Z');

const succeeded: WorkflowExecutionLike = {
  apiVersion: 'execution.syncflow.io/v1alpha1',
  kind: 'WorkflowExecution',
  metadata: {
    name: 'user-profile-x7k2p',
    namespace: 'shop',
    uid: 'u1',
    resourceVersion: '41',
    creationTimestamp: '2026-03-01T11:57:00Z',
    labels: { 'syncflow.io/workflow': 'user-profile' },
  },
  spec: { workflowRef: { name: 'user-profile' }, input: { userId: '42' } },
  status: {
    phase: 'Succeeded',
    durationMs: 12,
    workflowRevision: HASH,
    user: 'alice',
    tasks: [
      { id: 'user', phase: 'Succeeded' },
      { id: 'orders', phase: 'Skipped' },
      { id: 'recs', phase: 'Succeeded' },
    ],
  },
};
const running: WorkflowExecutionLike = {
  metadata: { name: 'slow', namespace: 'shop', creationTimestamp: '2026-03-01T11:59:58Z' },
  spec: { workflowRef: { name: 'slow-wf' } },
  status: { phase: 'Running' },
};

describe('executionTable', () => {
  it('has the columns kubectl prints, with the wide-only ones at priority 1', () => {
    const table = executionTable({ items: [] }, { now: NOW }) as Table;
    expect(table.kind).to.equal('Table');
    expect(table.apiVersion).to.equal('meta.k8s.io/v1');
    const normal = table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name.toUpperCase());
    const wide = table.columnDefinitions.map((c) => c.name.toUpperCase());
    expect(normal).to.deep.equal(['NAME', 'WORKFLOW', 'PHASE', 'DURATION', 'AGE']);
    expect(wide).to.deep.equal(['NAME', 'WORKFLOW', 'PHASE', 'DURATION', 'AGE', 'REVISION', 'TASKS', 'USER']);
    for (const column of table.columnDefinitions) {
      expect(column).to.have.all.keys('name', 'type', 'format', 'description', 'priority');
      expect(column.description).to.not.equal('');
    }
    expect(table.columnDefinitions[0]).to.include({ name: 'Name', type: 'string', format: 'name' });
    expect(table.columnDefinitions[4]).to.include({ name: 'Age', type: 'date' });
    expect(table.rows).to.deep.equal([]);
    expect(EXECUTION_COLUMNS).to.have.length(8);
  });

  it('renders one row per execution, cells in column order, null where there is no value', () => {
    const table = executionTable(
      { items: [succeeded, running], resourceVersion: '57' },
      { now: NOW },
    ) as Table;
    expect(table.rows.map((r) => r.cells)).to.deep.equal([
      ['user-profile-x7k2p', 'user-profile', 'Succeeded', '12ms', '3m', '0123456789ab', '2/3', 'alice'],
      ['slow', 'slow-wf', 'Running', null, '2s', null, null, null],
    ]);
    expect(table.metadata).to.deep.equal({ resourceVersion: '57' });
  });

  it('carries PartialObjectMetadata by default, in the Table version', () => {
    const v1 = executionTable({ items: [succeeded] }, { now: NOW }) as Table;
    expect(v1.rows[0]?.object).to.deep.equal({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: succeeded.metadata,
    });
    const beta = executionTable(
      { items: [succeeded] },
      { now: NOW, version: 'v1beta1', includeObject: 'Metadata' },
    ) as Table;
    expect(beta.apiVersion).to.equal('meta.k8s.io/v1beta1');
    expect(beta.rows[0]?.object?.apiVersion).to.equal('meta.k8s.io/v1beta1');
  });

  it('carries the full object with includeObject=Object and none with None', () => {
    const full = executionTable({ items: [succeeded] }, { now: NOW, includeObject: 'Object' }) as Table;
    expect(full.rows[0]?.object).to.deep.equal(succeeded);
    const none = executionTable({ items: [succeeded] }, { now: NOW, includeObject: 'None' }) as Table;
    expect(none.rows[0]).to.deep.equal({ cells: none.rows[0]?.cells });
  });

  it('repeats list metadata: resourceVersion, continue and remainingItemCount', () => {
    const table = executionTable(
      { items: [succeeded], resourceVersion: '9', continue: 'tok', remainingItemCount: 4 },
      { now: NOW },
    ) as Table;
    expect(table.metadata).to.deep.equal({ resourceVersion: '9', continue: 'tok', remainingItemCount: 4 });
    const zero = executionTable({ items: [], remainingItemCount: 0 }, { now: NOW }) as Table;
    expect(zero.metadata).to.deep.equal({ remainingItemCount: 0 });
  });

  it('omits column definitions with noHeaders', () => {
    const table = executionTable({ items: [succeeded] }, { now: NOW, noHeaders: true }) as Table;
    expect(table.columnDefinitions).to.deep.equal([]);
    expect(table.rows).to.have.length(1);
  });

  it('renders records with missing parts without throwing', () => {
    const table = executionTable({ items: [{ metadata: {} }] }) as Table;
    expect(table.rows[0]?.cells).to.deep.equal(['', null, null, null, '<unknown>', null, null, null]);
  });
});

describe('revisionTable', () => {
  it('prints NAME, WORKFLOW, HASH (short) and AGE', () => {
    const table = revisionTable(
      {
        items: [
          {
            apiVersion: 'execution.syncflow.io/v1alpha1',
            kind: 'WorkflowRevision',
            metadata: {
              name: 'user-profile-0123456789',
              namespace: 'shop',
              creationTimestamp: '2026-02-27T09:00:00Z',
            },
            workflow: 'user-profile',
            hash: HASH,
          },
          { metadata: {} },
        ],
        resourceVersion: '3',
      },
      { now: NOW },
    ) as Table;
    expect(table.columnDefinitions.map((c) => c.name.toUpperCase())).to.deep.equal([
      'NAME',
      'WORKFLOW',
      'HASH',
      'AGE',
    ]);
    expect(table.rows[0]?.cells).to.deep.equal([
      'user-profile-0123456789',
      'user-profile',
      '0123456789ab',
      '2d3h',
    ]);
    expect(table.rows[1]?.cells).to.deep.equal(['', null, null, '<unknown>']);
    expect(table.rows[0]?.object?.kind).to.equal('PartialObjectMetadata');
    expect(REVISION_COLUMNS.every((c) => c.priority === 0)).to.equal(true);
  });
});

describe('wantsTable / negotiateTable', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['kubectl get', KUBECTL_ACCEPT, 'v1'],
    ['v1beta1 only', 'application/json;as=Table;v=v1beta1;g=meta.k8s.io', 'v1beta1'],
    ['parameters in another order, with spaces', 'application/json; g=meta.k8s.io; v=v1; as=Table', 'v1'],
    ['plain JSON first', `application/json,${KUBECTL_ACCEPT}`, undefined],
    ['no Accept', undefined, undefined],
    ['wildcard', '*/*', undefined],
    [
      'an unknown Table version, then v1beta1',
      'application/json;as=Table;v=v2;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io',
      'v1beta1',
    ],
    ['Table of another group', 'application/json;as=Table;v=v1;g=example.com', undefined],
    ['PartialObjectMetadata', 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io', undefined],
    ['protobuf Table', 'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io', undefined],
  ];
  for (const [name, accept, expected] of cases) {
    it(`${name} → ${expected ?? 'no Table'}`, () => {
      expect(negotiateTable(accept)).to.equal(expected);
      expect(wantsTable(accept)).to.equal(expected !== undefined);
    });
  }

  it('parses includeObject with Metadata as the default', () => {
    expect(parseIncludeObject(undefined)).to.equal('Metadata');
    expect(parseIncludeObject('')).to.equal('Metadata');
    expect(parseIncludeObject('Object')).to.equal('Object');
    expect(parseIncludeObject('None')).to.equal('None');
    expect(parseIncludeObject('Metadata')).to.equal('Metadata');
    expect(parseIncludeObject('all')).to.equal(undefined);
  });
});

describe('formatDuration', () => {
  const cases: Array<[number | undefined, string | null]> = [
    [0, '0ms'],
    [12, '12ms'],
    [12.6, '13ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1549, '1.5s'],
    [9999, '9.9s'],
    [10_000, '10s'],
    [42_700, '42s'],
    [60_000, '1m'],
    [200_000, '3m20s'],
    [3_600_000, '1h'],
    [3_900_000, '1h5m'],
    [undefined, null],
    [-1, null],
    [Number.NaN, null],
  ];
  for (const [ms, expected] of cases) {
    it(`${String(ms)} → ${String(expected)}`, () => expect(formatDuration(ms)).to.equal(expected));
  }
});

describe('formatAge (kubectl HumanDuration)', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const y = 365 * d;
  const cases: Array<[number, string]> = [
    [-3 * s, '<invalid>'],
    [-1500, '0s'],
    [0, '0s'],
    [5 * s, '5s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [3 * m + 20 * s, '3m20s'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [5 * h + 30 * m, '5h30m'],
    [8 * h + 30 * m, '8h'],
    [47 * h, '47h'],
    [2 * d, '2d'],
    [3 * d + 4 * h, '3d4h'],
    [8 * d, '8d'],
    [400 * d, '400d'],
    [2 * y, '2y'],
    [2 * y + 10 * d, '2y10d'],
    [9 * y, '9y'],
  ];
  for (const [ms, expected] of cases) {
    it(`${ms}ms → ${expected}`, () => {
      expect(humanDuration(ms)).to.equal(expected);
      expect(formatAge(new Date(NOW.getTime() - ms).toISOString(), NOW)).to.equal(expected);
    });
  }

  it('is <unknown> without a parsable timestamp', () => {
    expect(formatAge(undefined, NOW)).to.equal('<unknown>');
    expect(formatAge('yesterday', NOW)).to.equal('<unknown>');
  });

  it('defaults now to the current time', () => {
    expect(formatAge(new Date().toISOString())).to.equal('0s');
  });
});

describe('shortHash', () => {
  it('strips the algorithm and keeps 12 hex digits', () => {
    expect(shortHash(HASH)).to.equal('0123456789ab');
    expect(shortHash('abc')).to.equal('abc');
    expect(shortHash(undefined)).to.equal(null);
    expect(shortHash('')).to.equal(null);
  });
});
