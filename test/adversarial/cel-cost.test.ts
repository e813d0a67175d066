/**
 * CEL cost against the real executor: expressions that held one event-loop turn for 12–30 s on
 * ~1 MB inputs (nested comprehensions, a scan per element, backtracking regular expressions) are
 * refused at validation, or — when only the data makes them expensive — refused before evaluation
 * at run time. Either way the process stays responsive (timer lag measured) and nothing is called.
 */
import { expect } from 'chai';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { compileFixture } from '../../core/engine/testdata/fixtures.ts';
import { TestUpstream } from '../../core/engine/testdata/upstream.ts';
import type { TaskExecutionStatus } from '../../core/model/schema.ts';
import { validateDocuments } from '../../core/validation/validate.ts';
import { parseAllDocuments } from 'yaml';

function yaml(when: string, inputSchema = '{type: object}'): string {
  return `kind: WorkflowTask
metadata: {name: t}
spec:
  http: {method: GET, url: "\${BASE}/called"}
  timeout: 1s
---
kind: Workflow
spec:
  timeout: 2s
  inputSchema: ${inputSchema}
  tasks: [{id: t, taskRef: {name: t}, when: ${JSON.stringify(when)}}]
`;
}

/** Validation errors of the documents, as `code field`. */
function refusals(text: string): string[] {
  const docs = parseAllDocuments(text.replaceAll('${BASE}', 'http://t.svc')).map((d) => {
    const doc = d.toJS() as Record<string, unknown>;
    const name = doc.kind === 'Workflow' ? 'w' : 't';
    return { apiVersion: 'syncflow.io/v1alpha1', ...doc, metadata: { name, ...(doc.metadata as object) } };
  });
  return validateDocuments(docs).flatMap((r) => r.errors.map((e) => `${e.code} ${e.field}`));
}

/** Runs `work` while a 10 ms timer measures how long the event loop was held. */
async function withLag<T>(
  work: () => Promise<T>,
): Promise<{ result: T; maxLagMs: number; elapsedMs: number }> {
  let last = performance.now();
  let maxLagMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - 10);
    last = now;
  }, 10);
  const started = performance.now();
  try {
    const result = await work();
    return {
      result,
      maxLagMs: Math.max(maxLagMs, performance.now() - last - 10),
      elapsedMs: performance.now() - started,
    };
  } finally {
    clearInterval(timer);
  }
}

const strings = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const records = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i, id: `r${i}` }));

describe('CEL cost (real executor, loopback upstream)', function () {
  this.timeout(20_000);
  let upstream: TestUpstream;
  let client: UndiciTaskClient;
  let executor: DagExecutor;

  before(async () => {
    upstream = await new TestUpstream().start();
    upstream.route('GET /called', (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
    );
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
    executor = new DagExecutor({ http: client });
  });

  after(async () => {
    await client.close();
    await upstream.stop();
  });

  beforeEach(() => {
    upstream.requests.length = 0;
  });

  describe('refused at validation (admission and `syncflow validate` share the validator)', () => {
    const items =
      '{type: object, properties: {items: {type: array, items: {type: object, properties: {n: {type: integer}}}}, s: {type: string}}}';
    for (const [name, when, code] of [
      [
        'four nested comprehensions (the 20 s stall)',
        'input.items.all(a, input.items.all(b, input.items.all(c, input.items.all(d, a.n + b.n + c.n + d.n >= 0))))',
        'WhenTooCostly',
      ],
      [
        'three nested comprehensions',
        'input.items.all(a, input.items.all(b, input.items.all(c, a.n + b.n + c.n >= 0)))',
        'WhenTooCostly',
      ],
      [
        'map of maps',
        'input.items.map(a, input.items.map(b, input.items.map(c, c.n))).size() > 0',
        'WhenTooCostly',
      ],
      [
        'a list membership test per element of another list',
        'input.items.exists(a, a in input.items)',
        'WhenTooCostly',
      ],
      [
        'doubling a string through cel.bind',
        `cel.bind(a, input.s + input.s, ${'cel.bind(a, a + a, '.repeat(24)}a.size() > 0${')'.repeat(24)})`,
        'WhenTooCostly',
      ],
      ['an exponential regular expression', 'input.s.matches("^(a+)+$")', 'InvalidWhen'],
      [
        'a polynomial regular expression with a repeated group',
        'input.s.matches("^(a*b?)*c$")',
        'InvalidWhen',
      ],
      ['a regular expression taken from the data', 'input.s.matches(input.s)', 'InvalidWhen'],
    ] as const) {
      it(`${name}: ${code}`, () => {
        expect(refusals(yaml(when, items))).to.deep.equal([`${code} spec.tasks[0].when`]);
      });
    }
  });

  it('runs a nested comprehension whose lists the inputSchema bounds, quickly', async () => {
    const schema =
      '{type: object, properties: {items: {type: array, maxItems: 20, items: {type: object, properties: {n: {type: integer}}}}}}';
    const workflow = compileFixture(
      yaml('input.items.all(a, input.items.all(b, input.items.all(c, a.n + b.n + c.n >= 0)))', schema),
      upstream.base,
    );
    const { result, maxLagMs } = await withLag(() => executor.execute(workflow, { items: records(20) }));
    expect(result.phase, result.message).to.equal('Succeeded');
    expect(upstream.requests).to.have.length(1);
    expect(maxLagMs).to.be.below(500);
  });

  describe('refused at run time, before evaluation, when the data makes an accepted expression costly', () => {
    for (const [name, when, input] of [
      [
        'a substring scan per element over a 1 MB string (held the event loop 15–17 s before)',
        'input.items.all(a, !input.s.contains(a))',
        () => ({ items: strings(20_000, 'abx'), s: 'ab'.repeat(500_000) }),
      ],
      [
        'one comprehension with string work over a 200,000-element list',
        'input.items.exists(a, a.lowerAscii().startsWith("zz") && a.size() > 3 && a.endsWith("q") && a.contains("zzz"))',
        () => ({ items: strings(200_000, 'Item-') }),
      ],
    ] as const) {
      it(name, async () => {
        const workflow = compileFixture(yaml(when), upstream.base);
        const { result, maxLagMs, elapsedMs } = await withLag(() => executor.execute(workflow, input()));
        const task = result.tasks?.[0] as TaskExecutionStatus;
        expect(result.phase).to.equal('Failed');
        expect(task.error?.reason).to.equal('WhenTooCostly');
        expect(task.error?.message).to.match(/CEL cost limit exceeded: .* it was not evaluated/);
        expect(upstream.requests).to.deep.equal([]);
        expect(elapsedMs, 'answered within 2 s').to.be.below(2_000);
        expect(maxLagMs, 'event loop held').to.be.below(1_000);
      });
    }
  });
});
