import { expect } from 'chai';
import { compileCondition, CEL_COST_LIMIT, regexProblem, type CompiledCondition } from './condition.ts';
import { SyncflowError } from './errors.ts';
import { TaskSet, validateTask, validateWorkflow } from './validation/validate.ts';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `x${i}`, n: i, tags: ['a', 'b'] }));
const nested3 = 'input.items.all(a, input.items.all(b, input.items.all(c, a.n + b.n + c.n >= 0)))';

function compiled(source: string): CompiledCondition {
  const condition = compileCondition(source);
  if (condition instanceof Error) throw condition;
  return condition;
}

/** The validation errors of a one-step workflow with this `when` and workflow inputSchema. */
function whenErrors(
  when: string,
  inputSchema?: Record<string, unknown>,
  outputSchema?: Record<string, unknown>,
) {
  const tasks = new TaskSet();
  const task = validateTask({
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name: 't' },
    spec: { http: { method: 'GET', url: 'http://t.svc/' }, ...(outputSchema ? { outputSchema } : {}) },
  }).task;
  tasks.set('t', task ?? null);
  return validateWorkflow(
    {
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name: 'w' },
      spec: {
        ...(inputSchema ? { inputSchema } : {}),
        tasks: [
          { id: 'first', taskRef: { name: 't' } },
          { id: 'second', taskRef: { name: 't' }, when },
        ],
      },
    },
    tasks,
  ).errors;
}

const list = (extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties: {
    items: {
      type: 'array',
      ...extra,
      items: { type: 'object', properties: { n: { type: 'integer' }, id: { type: 'string' } } },
    },
    s: { type: 'string', maxLength: 64 },
    flag: { type: 'boolean' },
  },
});

describe('when conditions: static cost estimate (admission and validate)', () => {
  it('refuses nested comprehensions over lists without a declared bound, naming the field and the fix', () => {
    const errors = whenErrors(nested3, list());
    expect(errors.map((e) => `${e.code} ${e.field}`)).to.deep.equal(['WhenTooCostly spec.tasks[1].when']);
    expect(errors[0]?.message).to.match(/estimated cost [0-9,]+ exceeds the limit of 1,000,000/);
    expect(errors[0]?.suggestion).to.contain('maxItems').and.contain('input.items');
  });

  it('accepts the same expression when inputSchema maxItems bounds the lists', () => {
    expect(whenErrors(nested3, list({ maxItems: 20 }))).to.deep.equal([]);
    expect(whenErrors(nested3, list({ maxItems: 200 })).map((e) => e.code)).to.deep.equal(['WhenTooCostly']);
  });

  it('accepts ordinary conditions and one comprehension over an unbounded list', () => {
    for (const when of [
      'input.flag == true',
      'has(input.flag) && input.flag',
      'input.items.exists(i, i.id == "x" && i.n > 3)',
      'input.items.filter(i, i.n > 3).size() > 2 && input.s.startsWith("a")',
      'tasks.first.output.score >= 650',
      'input.s.matches("^[a-z0-9-]+$")',
    ]) {
      expect(whenErrors(when, list()), when).to.deep.equal([]);
    }
  });

  it('uses the producer outputSchema bounds for tasks.<id>.output', () => {
    const output = { type: 'object', properties: { rows: { type: 'array', items: { type: 'integer' } } } };
    const when =
      'tasks.first.output.rows.all(a, tasks.first.output.rows.all(b, tasks.first.output.rows.all(c, a + b + c > 0)))';
    expect(whenErrors(when, undefined, output).map((e) => e.code)).to.deep.equal(['WhenTooCostly']);
    const bounded = {
      type: 'object',
      properties: { rows: { type: 'array', maxItems: 10, items: { type: 'integer' } } },
    };
    expect(whenErrors(when, undefined, bounded)).to.deep.equal([]);
  });

  it('counts growth through cel.bind and concatenation', () => {
    const doubling = Array.from({ length: 30 }, (_, i) => i).reduceRight(
      (body, i) => `cel.bind(v${i + 1}, v${i} + v${i}, ${body})`,
      'v30.size() > 0',
    );
    expect(whenErrors(`cel.bind(v0, input.s, ${doubling})`, list()).map((e) => e.code)).to.deep.equal([
      'WhenTooCostly',
    ]);
  });

  it('refuses regular expressions that can backtrack catastrophically or come from data', () => {
    for (const [when, reason] of [
      ['input.s.matches("^(a+)+$")', /nested quantifier/],
      ['input.s.matches("^(a*)*$")', /nested quantifier/],
      ['input.s.matches("^(\\\\w+\\\\s?){3}$")', /nested quantifier/],
      ['input.s.matches("(a)\\\\1")', /back-reference/],
      ['input.s.matches("a(?=b)")', /lookaround/],
      ['input.s.matches(input.s)', /string literal/],
    ] as const) {
      const errors = whenErrors(when, list());
      expect(
        errors.map((e) => `${e.code} ${e.field}`),
        when,
      ).to.deep.equal(['InvalidWhen spec.tasks[1].when']);
      expect(errors[0]?.message, when).to.match(reason);
    }
  });
});

describe('when conditions: runtime cost budget', () => {
  it(`refuses to evaluate an expression whose cost on the actual data exceeds ${CEL_COST_LIMIT}, before running it`, () => {
    const four =
      'input.items.all(a, input.items.all(b, input.items.all(c, input.items.all(d, a.n + b.n + c.n + d.n >= 0))))';
    for (const source of [four, nested3]) {
      let error: unknown;
      try {
        compiled(source).evaluate({ input: { items: items(100) }, tasks: {} });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(SyncflowError);
      expect((error as SyncflowError).code).to.equal('WhenTooCostly');
      expect((error as SyncflowError).message).to.match(/cost limit/);
    }
  });

  it('evaluates the same expression on data small enough for the budget', () => {
    expect(compiled(nested3).evaluate({ input: { items: items(10) }, tasks: {} })).to.equal(true);
  });

  it('measures every list the expression reaches, including nested ones and task outputs', () => {
    const inner = compiled('input.items.all(a, a.tags.all(t, input.items.all(b, b.tags.exists(u, u == t))))');
    expect(inner.evaluate({ input: { items: items(5) }, tasks: {} })).to.equal(true);
    const wide = items(5).map((item) => ({ ...item, tags: Array.from({ length: 400 }, (_, i) => `t${i}`) }));
    expect(() => inner.evaluate({ input: { items: wide }, tasks: {} })).to.throw(SyncflowError, /cost limit/);
    const fromTask = compiled(
      'tasks.a.output.rows.all(x, tasks.a.output.rows.all(y, tasks.a.output.rows.all(z, x + y + z > 0)))',
    );
    const rows = Array.from({ length: 300 }, (_, i) => i + 1);
    expect(() => fromTask.evaluate({ input: {}, tasks: { a: { output: { rows } } } })).to.throw(
      SyncflowError,
      /cost limit/,
    );
    expect(fromTask.evaluate({ input: {}, tasks: { a: { output: { rows: rows.slice(0, 10) } } } })).to.equal(
      true,
    );
  });

  it('refuses a result that is not a boolean', () => {
    expect(() => compiled('input.s + "x"').evaluate({ input: { s: 'a' }, tasks: {} })).to.throw(
      /must be a boolean/,
    );
  });

  it('estimates a cost for each compiled condition', () => {
    expect(compiled('input.flag == true').estimatedCost).to.be.below(10);
    expect(compiled(nested3).estimatedCost).to.be.above(CEL_COST_LIMIT);
  });
});

describe('when conditions: every construct that grows with the data counts against the budget', () => {
  const small = { s: 'abc', l: ['a', 'b'], m: { a: 1 } };
  const l = Array.from({ length: 20_000 }, (_, i) => `v${i}`);
  const large = { s: 'x'.repeat(1_000), l, m: Object.fromEntries(l.map((key) => [key, 1])) };
  for (const source of [
    'input.l.all(x, input.s.split(",").size() > 0)',
    'input.l.all(x, [input.s, x].join("-").size() > 0)',
    'input.l.all(x, input.s.trim().size() > 0 && input.s.substring(1).size() >= 0)',
    'input.l.all(x, input.s.upperAscii() != input.s.lowerAscii() || true)',
    'input.l.all(x, (input.s + x).size() > 0)',
    'input.l.all(x, input.s.matches("^[a-z]+$") || true)',
    'input.l.all(x, input.s < input.s || true)',
    'input.l.all(x, string(input.s).size() > 0 && bytes(input.s).size() > 0)',
    'input.l.all(x, x in input.l)',
    'input.l.all(x, (x == "" ? input.s.trim() : input.s.upperAscii()).size() > 0)',
    'input.l.all(x, input.l.filter(y, y == x).size() == 1)',
    'input.l.map(x, input.s + x).all(y, y.size() > 0)',
    'input.m.all(k, input.s.endsWith(k) || true)',
  ]) {
    it(source, () => {
      expect(compiled(source).evaluate({ input: small, tasks: {} })).to.be.a('boolean');
      expect(() => compiled(source).evaluate({ input: large, tasks: {} })).to.throw(
        SyncflowError,
        /cost limit/,
      );
    });
  }

  it('counts equality of nested data at every depth', () => {
    const cube = (n: number) =>
      Array.from({ length: n }, () => Array.from({ length: n }, () => Array.from({ length: n }, () => 1)));
    const source = 'input.l.all(x, input.a == input.b)';
    expect(compiled(source).evaluate({ input: { l: ['x'], a: cube(3), b: cube(3) }, tasks: {} })).to.equal(
      true,
    );
    expect(() =>
      compiled(source).evaluate({
        input: { l: Array.from({ length: 100 }, String), a: cube(60), b: cube(60) },
        tasks: {},
      }),
    ).to.throw(SyncflowError, /cost limit/);
  });

  it('estimates literals, indexes and conditionals without growing', () => {
    for (const source of [
      '{"a": [1, 2, 3], "b": input.s}["a"].size() == 3',
      '[input.s, "x"][0].size() > 0 && input.m["a"] == 1 && input.m[input.s] == 1',
      '!(-input.m.a > 0) ? dyn(input.s).size() > 0 : false',
      'bytes(input.s).json().a == 1',
      'input.s.reverse() == "x"',
    ]) {
      expect(compiled(source).estimatedCost, source).to.be.below(1_000);
    }
  });
});

describe('regexProblem', () => {
  for (const [pattern, problem] of [
    ['^[a-z0-9-]+$', undefined],
    ['^[^)]+$', undefined],
    ['^[]a]+$', undefined],
    ['^(?:ab)+$', undefined],
    ['^(\\d{3}-)+\\d{4}$', undefined],
    ['^\\(a+\\)+$', undefined],
    ['^(a|b)*$', undefined],
    ['^(a+)?$', undefined],
    ['^(a){2,}$', undefined],
    ['^(a+)+$', /nested quantifier/],
    ['^((ab)c+)*$', /nested quantifier/],
    ['^((a+)b)*$', /nested quantifier/],
    ['^(a+){2}$', /nested quantifier/],
    ['^(a{1,3})+$', /nested quantifier/],
    ['(a)\\1', /back-reference/],
    ['(?<n>a)\\k<n>', /back-reference/],
    ['(?<=a)b', /lookaround/],
    ['a(?!b)', /lookaround/],
  ] as const) {
    it(`${pattern}: ${problem ? 'refused' : 'allowed'}`, () => {
      const found = regexProblem(pattern);
      if (problem) expect(found).to.match(problem);
      else expect(found).to.equal(undefined);
    });
  }
});
