import { expect } from 'chai';
import type { Execution } from '../src/api/types.ts';
import {
  criticalPath,
  edgeValues,
  exampleOutput,
  loadBreakpoints,
  outputReferences,
  saveBreakpoints,
  shortValue,
  skipReason,
  stateAt,
  stopsAt,
  templateResolution,
  timelineOf,
  type KeyValueStore,
  type RecordedTask,
} from '../src/debugger/model.ts';
import type { GraphEdge } from '../src/graph/model.ts';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** user (503, retried after 50 ms, then 200) → orders; recs in parallel; audit skipped by its `when`. */
const EXECUTION: Execution = {
  metadata: { name: 'user-profile-abc' },
  spec: { workflowRef: { name: 'user-profile' }, input: { userId: 'flaky' } },
  status: {
    phase: 'Succeeded',
    startTime: at(0),
    completionTime: at(200),
    durationMs: 200,
    tasks: [
      {
        id: 'user',
        phase: 'Succeeded',
        startTime: at(0),
        completionTime: at(100),
        attempts: 2,
        output: { id: 'flaky', email: 'userflaky@example.com' },
        input: { userId: 'flaky' },
        attemptLog: [
          { attempt: 1, startTime: at(0), durationMs: 10, httpStatus: 503, reason: 'HTTPError' },
          { attempt: 2, startTime: at(60), durationMs: 40, httpStatus: 200 },
        ],
      } as RecordedTask,
      {
        id: 'recs',
        phase: 'Succeeded',
        startTime: at(0),
        completionTime: at(30),
        output: { items: [1, 2] },
        attemptLog: [{ attempt: 1, startTime: at(0), durationMs: 30, httpStatus: 200 }],
      } as RecordedTask,
      {
        id: 'orders',
        phase: 'Succeeded',
        startTime: at(100),
        completionTime: at(200),
        output: { orders: [] },
        input: { email: 'userflaky@example.com', user: { id: 'flaky', email: 'userflaky@example.com' } },
        attemptLog: [{ attempt: 1, startTime: at(100), durationMs: 100, httpStatus: 200 }],
      } as RecordedTask,
      { id: 'audit', phase: 'Skipped' },
    ],
  },
};

const EDGES: GraphEdge[] = [
  { from: 'user', to: 'orders' },
  { from: 'recs', to: 'audit', when: 'input.audit == true' },
];

const INPUTS = new Map<string, unknown>([
  ['user', { userId: '{{input.userId}}' }],
  ['orders', { email: '{{tasks.user.output.email}}', user: '{{tasks.user.output}}' }],
  ['recs', { userId: '{{input.userId}}' }],
]);

const IDS = ['user', 'recs', 'orders', 'audit'];

describe('timelineOf (the events time travel steps through)', () => {
  const timeline = timelineOf(EXECUTION, EDGES);

  it('lists every attempt start, the failed attempt, each finish and the skip, in time order', () => {
    expect(timeline.map((e) => [e.at - T0, e.task, e.state])).to.deep.equal([
      [0, 'user', 'running'],
      [0, 'recs', 'running'],
      [10, 'user', 'retrying'],
      [30, 'recs', 'done'],
      // Skipped when its dependency ended: the record has no time of its own for a skip.
      [30, 'audit', 'skipped'],
      [60, 'user', 'running'],
      [100, 'user', 'done'],
      [100, 'orders', 'running'],
      [200, 'orders', 'done'],
    ]);
    expect(timeline[2]?.detail).to.equal('attempt 1 failed: HTTP 503 HTTPError; retrying');
  });

  it('puts ends before starts at the same instant, so a consumer never runs before its producer is done', () => {
    const i = timeline.findIndex((e) => e.task === 'orders');
    expect(stateAt(IDS, timeline, i).user).to.equal('done');
  });
});

describe('stateAt (each task at the instant under the cursor)', () => {
  const timeline = timelineOf(EXECUTION, EDGES);

  it('shows every task pending before the first event', () => {
    expect(stateAt(IDS, timeline, -1)).to.deep.equal({
      user: 'pending',
      recs: 'pending',
      orders: 'pending',
      audit: 'pending',
    });
  });

  it('shows "retrying" between the two attempts of a retried task', () => {
    const failed = timeline.findIndex((e) => e.state === 'retrying');
    expect(stateAt(IDS, timeline, failed).user).to.equal('retrying');
    expect(stateAt(IDS, timeline, failed + 1).user).to.equal('retrying');
    expect(stateAt(IDS, timeline, failed + 3).user).to.equal('running');
  });

  it('ends with each task in its recorded phase', () => {
    expect(stateAt(IDS, timeline, timeline.length - 1)).to.deep.equal({
      user: 'done',
      recs: 'done',
      orders: 'done',
      audit: 'skipped',
    });
  });
});

describe('edgeValues (what flowed along each edge by the instant)', () => {
  const tasks = EXECUTION.status?.tasks as RecordedTask[];

  it('carries the producer output as the consumer reads it, once the producer is done', () => {
    const done = stateAt(IDS, timelineOf(EXECUTION, EDGES), 99);
    expect(edgeValues(EDGES, INPUTS, tasks, done)).to.deep.equal([
      {
        from: 'user',
        to: 'orders',
        value: { email: 'userflaky@example.com', output: { id: 'flaky', email: 'userflaky@example.com' } },
      },
    ]);
  });

  it('carries nothing before the producer finished, nor along an edge that only orders tasks', () => {
    const timeline = timelineOf(EXECUTION, EDGES);
    const retrying = timeline.findIndex((e) => e.state === 'retrying');
    expect(edgeValues(EDGES, INPUTS, tasks, stateAt(IDS, timeline, retrying))).to.deep.equal([]);
  });

  it('carries nothing into a skipped task', () => {
    const inputs = new Map([['audit', { n: '{{tasks.recs.output.items}}' }]]);
    const states = { recs: 'done', audit: 'skipped' } as const;
    expect(edgeValues(EDGES, inputs, tasks, states)).to.deep.equal([]);
    expect(edgeValues(EDGES, inputs, tasks, { ...states, audit: 'pending' })).to.deep.equal([
      { from: 'recs', to: 'audit', value: [1, 2] },
    ]);
  });

  it('gives a single read path its value alone', () => {
    const inputs = new Map([['orders', { email: '{{ tasks.user.output.email }}' }]]);
    const states = { user: 'done', orders: 'pending' } as const;
    expect(edgeValues(EDGES, inputs, tasks, states)[0]?.value).to.equal('userflaky@example.com');
  });

  it('finds output paths with indexes and nested fields', () => {
    expect([
      ...outputReferences({ a: '{{tasks.x.output.items[0].id}}', b: 'x {{tasks.y.output}}' }),
    ]).to.deep.equal([
      ['x', ['items[0].id']],
      ['y', ['']],
    ]);
  });
});

describe('templateResolution (definition template → recorded input)', () => {
  it('pairs each templated field with the value the run recorded', () => {
    expect(
      templateResolution(
        { email: '{{tasks.user.output.email}}', tags: ['a', '{{input.tag}}'], fixed: 3 },
        { email: 'u@x', tags: ['a', 'vip'], fixed: 3 },
      ),
    ).to.deep.equal([
      { field: 'email', template: '{{tasks.user.output.email}}', resolved: 'u@x' },
      { field: 'tags[0]', template: 'a', resolved: 'a' },
      { field: 'tags[1]', template: '{{input.tag}}', resolved: 'vip' },
      { field: 'fixed', template: 3, resolved: 3 },
    ]);
  });

  it('says when the recorded input was too large to keep', () => {
    expect(
      templateResolution({ a: '{{input.a}}' }, { truncated: true, bytes: 9000, preview: '{…' }),
    ).to.deep.equal([{ field: 'a', template: '{{input.a}}', resolved: '(not recorded: 9000 bytes)' }]);
  });
});

describe('criticalPath (what decided the duration)', () => {
  it('runs back from the task that ended last through its latest dependency', () => {
    expect(criticalPath(EXECUTION.status?.tasks as RecordedTask[], EDGES)).to.deep.equal({
      tasks: ['user', 'orders'],
      edges: ['user->orders'],
    });
  });
});

describe('breakpoints (remembered per workflow in the browser)', () => {
  const memory = (): KeyValueStore & { data: Map<string, string> } => {
    const data = new Map<string, string>();
    return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
  };

  it('are kept per namespace and workflow, forgetting tasks the workflow no longer has', () => {
    const store = memory();
    saveBreakpoints(store, 'shop', 'checkout', { every: false, tasks: ['pay', 'gone'] });
    expect(loadBreakpoints(store, 'shop', 'checkout', ['reserve', 'pay'])).to.deep.equal({
      every: false,
      tasks: ['pay'],
    });
    expect(loadBreakpoints(store, 'other', 'checkout', ['pay'])).to.deep.equal({ every: false, tasks: [] });
  });

  it('survive a damaged entry as none', () => {
    const store = memory();
    store.setItem('syncflow-debugger-breakpoints/shop/checkout', '{not json');
    expect(loadBreakpoints(store, 'shop', 'checkout', ['pay'])).to.deep.equal({ every: false, tasks: [] });
  });

  it('stop at a breakpoint task, at every task, or at the "run to" target only', () => {
    expect(stopsAt('pay', { every: false, tasks: ['pay'] }, undefined)).to.equal(true);
    expect(stopsAt('email', { every: false, tasks: ['pay'] }, undefined)).to.equal(false);
    expect(stopsAt('email', { every: false, tasks: [] }, 'email')).to.equal(true);
    expect(stopsAt('sms', { every: true, tasks: [] }, undefined)).to.equal(true);
  });
});

describe('shortValue (edge labels)', () => {
  it('cuts long values with an ellipsis and keeps short ones whole', () => {
    expect(shortValue('abc')).to.equal('"abc"');
    expect(shortValue({ long: 'x'.repeat(100) }, 20)).to.equal('{"long":"xxxxxxxxxx…');
  });
});

describe('exampleOutput (where the substitute-output editor starts)', () => {
  it('fills the required fields with an empty value of their type, an enum with its first value', () => {
    expect(
      exampleOutput({
        type: 'object',
        required: ['paymentId', 'status', 'n', 'tags'],
        properties: {
          paymentId: { type: 'string' },
          status: { type: 'string', enum: ['captured', 'declined'] },
          n: { type: 'integer' },
          tags: { type: 'array' },
          optional: { type: 'string' },
        },
      }),
    ).to.deep.equal({ paymentId: '', status: 'captured', n: 0, tags: [] });
    expect(exampleOutput(undefined)).to.equal(null);
  });
});

describe('skipReason (what dimmed a skipped branch)', () => {
  const edges: GraphEdge[] = [
    { from: 'score', to: 'quote', when: 'tasks.score.output.score >= 650' },
    { from: 'score', to: 'review', when: 'tasks.score.output.score < 650' },
  ];

  it('names the `when` that was false when every dependency succeeded', () => {
    const tasks = [{ id: 'score', phase: 'Succeeded' }] as RecordedTask[];
    expect(skipReason('review', 'tasks.score.output.score < 650', edges, tasks)).to.equal(
      'skipped: when tasks.score.output.score < 650 was false',
    );
  });

  it('names the dependency that did not succeed, even when the task has a `when`', () => {
    const tasks = [{ id: 'score', phase: 'Failed' }] as RecordedTask[];
    expect(skipReason('quote', 'tasks.score.output.score >= 650', edges, tasks)).to.equal(
      'skipped: score did not succeed',
    );
  });
});
