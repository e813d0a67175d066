import { expect } from 'chai';
import { compileCondition } from './condition.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { describeFieldError, SyncflowError } from './errors.ts';
import { compileJsonSchema, pointerToPath, schemaErrorsToFieldErrors } from './schema/json-schema.ts';
import { closestName, editDistance } from './suggest.ts';

describe('durations', () => {
  const cases: Array<[string, number | undefined]> = [
    ['250ms', 250],
    ['2s', 2000],
    ['1m', 60000],
    ['1h', 3600000],
    ['2 s', undefined],
    ['1.5s', undefined],
    ['10', undefined],
    ['99999999999999999999h', undefined],
  ];
  for (const [text, ms] of cases)
    it(`parses ${JSON.stringify(text)} as ${ms}`, () => expect(parseDuration(text)).to.equal(ms));
  it('formats milliseconds in the largest whole unit', () => {
    expect([0, 250, 2000, 60000, 7200000, 1500].map(formatDuration)).to.deep.equal([
      '0ms',
      '250ms',
      '2s',
      '1m',
      '2h',
      '1500ms',
    ]);
  });
});

describe('suggestions', () => {
  it('suggests close names and nothing for distant ones', () => {
    expect(editDistance('kitten', 'sitting')).to.equal(3);
    expect(closestName('get-usr', ['get-user', 'list-orders'])).to.equal('get-user');
    expect(closestName('completely-different', ['get-user'])).to.equal(undefined);
  });
});

describe('when conditions', () => {
  it('compiles, reports the tasks it reads and evaluates to a boolean', () => {
    const condition = compileCondition('tasks.score.output.score >= 650 && tasks["other-step"].output.ok');
    if (condition instanceof Error) throw condition;
    expect(condition.taskRefs).to.deep.equal(['score', 'other-step']);
    expect(
      condition.evaluate({
        input: {},
        tasks: { score: { output: { score: 700 } }, 'other-step': { output: { ok: true } } },
      }),
    ).to.equal(true);
  });
  it('returns an Error for bad syntax and throws for a non-boolean result', () => {
    expect(compileCondition('input.x ==')).to.be.instanceOf(Error);
    const numeric = compileCondition('1 + 1');
    if (numeric instanceof Error) throw numeric;
    expect(() => numeric.evaluate({ input: {}, tasks: {} })).to.throw(/must be a boolean/);
  });
});

describe('user JSON Schemas', () => {
  it('compiles once per distinct schema and reports strict-mode mistakes', () => {
    const a = compileJsonSchema({ type: 'object', properties: { a: { type: 'string' } } });
    const b = compileJsonSchema({ type: 'object', properties: { a: { type: 'string' } } });
    expect(a).to.equal(b);
    expect(compileJsonSchema({ type: 'object', requird: ['a'] })).to.be.instanceOf(Error);
  });
  it('turns validation errors into field errors under a base path', () => {
    const compiled = compileJsonSchema({
      type: 'object',
      required: ['userId'],
      additionalProperties: false,
      properties: {
        userId: { type: 'string' },
        kind: { enum: ['a', 'b'] },
        items: { type: 'array', items: { type: 'integer' } },
      },
    });
    if (compiled instanceof Error) throw compiled;
    compiled.validate({ kind: 'c', extra: 1, items: [1, 'x'] });
    const errors = schemaErrorsToFieldErrors(compiled.validate.errors, 'spec.input', 'InvalidInput');
    expect(errors.map((e) => `${e.field}: ${e.message}`)).to.have.members([
      'spec.input.userId: is required',
      'spec.input.extra: is not a known field',
      'spec.input.kind: must be one of "a", "b"',
      'spec.input.items[1]: must be integer',
    ]);
    expect(pointerToPath('/a~1b/odd key/0')).to.equal('["a/b"]["odd key"][0]');
  });
});

describe('SyncflowError', () => {
  it('carries a catalogue code, its HTTP status, causes and the original cause', () => {
    const cause = new Error('low level');
    const error = new SyncflowError('InvalidInput', 'bad input', {
      causes: [{ code: 'InvalidInput', field: 'spec.input.a', message: 'is required', suggestion: 'add it' }],
      cause,
    });
    expect(error.status).to.equal(422);
    expect(error.cause).to.equal(cause);
    expect(describeFieldError(error.causes[0] as never)).to.equal('spec.input.a: is required (add it)');
    expect(new SyncflowError('WorkflowNotFound', 'x').status).to.equal(404);
  });
});
