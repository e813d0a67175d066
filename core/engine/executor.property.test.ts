import { expect } from 'chai';
import fc from 'fast-check';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { DagExecutor } from './executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { TestUpstream, delay, type RouteHandler } from './testdata/upstream.ts';

interface Behaviour {
  status: number;
  delayMs: number;
  body: 'json' | 'text' | 'empty' | 'huge' | 'reset';
}

interface StepShape {
  deps: number[];
  readsOutput: boolean;
  onError: 'fail' | 'continue';
  when: boolean;
  maxAttempts: number;
  behaviour: Behaviour;
}

const behaviour = fc.record<Behaviour>({
  status: fc.constantFrom(200, 200, 201, 204, 302, 400, 404, 429, 500, 503),
  delayMs: fc.integer({ min: 0, max: 60 }),
  body: fc.constantFrom('json', 'json', 'text', 'empty', 'huge', 'reset'),
});

const workflowShape = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.tuple(
    ...Array.from({ length: n }, (_, i) =>
      fc.record<StepShape>({
        deps: fc.subarray(Array.from({ length: i }, (_, j) => j)),
        readsOutput: fc.boolean(),
        onError: fc.constantFrom('fail', 'continue'),
        when: fc.boolean(),
        maxAttempts: fc.integer({ min: 1, max: 3 }),
        behaviour,
      }),
    ),
  ),
);

function handlerFor(b: Behaviour): RouteHandler {
  return async (_req, res) => {
    await delay(b.delayMs, res);
    if (res.destroyed) return;
    if (b.body === 'reset') {
      res.destroy();
      return;
    }
    const body =
      b.body === 'json'
        ? '{"v":1,"s":"x"}'
        : b.body === 'text'
          ? 'not json'
          : b.body === 'huge'
            ? 'x'.repeat(4_096)
            : '';
    res
      .writeHead(
        b.status,
        b.status === 302 ? { location: '/elsewhere' } : { 'content-type': 'application/json' },
      )
      .end(body);
  };
}

function yamlFor(steps: StepShape[]): string {
  let out = '';
  steps.forEach((s, i) => {
    out += `kind: WorkflowTask
metadata: {name: t${i}}
spec:
  http: {method: GET, url: "\${BASE}/s${i}", query: {x: "{{input.x}}"}}
  timeout: 40ms
  maxResponseBytes: 1024
  outputSchema: {type: object, properties: {v: {type: integer}}}
  retry: {maxAttempts: ${s.maxAttempts}, backoff: {initial: 1ms, max: 5ms}}
---
`;
  });
  out += 'kind: Workflow\nspec:\n  timeout: 300ms\n  maxConcurrency: 3\n  tasks:\n';
  steps.forEach((s, i) => {
    const input =
      s.readsOutput && s.deps.length ? `{x: "{{tasks.s${s.deps[0]}.output.v}}"}` : '{x: "{{input.x}}"}';
    out += `  - id: s${i}\n    taskRef: {name: t${i}}\n    input: ${input}\n    dependsOn: [${s.deps.map((d) => `s${d}`).join(', ')}]\n    onError: ${s.onError}\n`;
    if (s.when) out += `    when: "input.x == 1"\n`;
  });
  out += '  output: {all: [' + steps.map((_, i) => `"{{tasks.s${i}.output}}"`).join(', ') + ']}\n';
  return out;
}

describe('WorkflowExecutor (property)', function () {
  this.timeout(120_000);
  let upstream: TestUpstream;
  let client: UndiciTaskClient;

  before(async () => {
    upstream = await new TestUpstream().start();
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  });
  after(async () => {
    await client.close();
    await upstream.stop();
  });

  it('never crashes and leaves every task in a final phase, whatever the input and upstreams do', async () => {
    const executor = new DagExecutor({ http: client });
    await fc.assert(
      fc.asyncProperty(
        workflowShape,
        fc.record({ x: fc.jsonValue() }, { requiredKeys: [] }),
        async (steps, input) => {
          steps.forEach((s, i) => upstream.route(`GET /s${i}`, handlerFor(s.behaviour)));
          const workflow = compileFixture(yamlFor(steps), upstream.base);
          const status = await executor.execute(workflow, input);
          expect(['Succeeded', 'Failed']).to.include(status.phase);
          expect(status.tasks).to.have.length(steps.length);
          for (const t of status.tasks ?? []) {
            expect(['Succeeded', 'Failed', 'Skipped', 'Cancelled'], JSON.stringify(t)).to.include(t.phase);
            if (t.phase === 'Failed') expect(t.error?.reason).to.be.a('string');
          }
          const fatal = (status.tasks ?? []).some(
            (t, i) => t.phase === 'Failed' && steps[i]?.onError === 'fail',
          );
          expect(status.phase === 'Failed').to.equal(fatal || status.reason === 'DeadlineExceeded');
        },
      ),
      { numRuns: 60 },
    );
  });
});
