import { expect } from 'chai';
import { collectRefs, compileValue, joinField, referencedTasks } from './compiled-value.ts';
import { resolveValue, stringifyForInterpolation, type TemplateScope } from './resolve.ts';

const scope = (over: Partial<TemplateScope> = {}): TemplateScope => ({
  input: { userId: '42', n: 7, items: [{ id: 'a' }], flag: true },
  taskOutput: (id) =>
    id === 'user' ? { email: 'a@b.c', age: 30, tags: ['x'] } : id === 'skipped' ? null : undefined,
  secret: (name) => (name === 'token' ? 's3cr3t' : undefined),
  ...over,
});

describe('compileValue and resolveValue', () => {
  it('keeps the JSON type of an exact template and stringifies interpolation', () => {
    const { value, errors } = compileValue({
      n: '{{input.n}}',
      flag: '{{input.flag}}',
      obj: '{{tasks.user.output}}',
      text: 'n={{input.n}} tags={{tasks.user.output.tags}}',
      list: ['{{input.items[0].id}}', 3],
      constant: { a: 1 },
    });
    expect(errors).to.deep.equal([]);
    expect(resolveValue(value, scope())).to.deep.equal({
      n: 7,
      flag: true,
      obj: { email: 'a@b.c', age: 30, tags: ['x'] },
      text: 'n=7 tags=["x"]',
      list: ['a', 3],
      constant: { a: 1 },
    });
  });

  it('omits absent members, gives null for skipped tasks and for absent array items', () => {
    const { value } = compileValue({
      missing: '{{input.nope}}',
      skipped: '{{tasks.skipped.output.x}}',
      arr: ['{{input.nope}}'],
    });
    expect(resolveValue(value, scope())).to.deep.equal({ skipped: null, arr: [null] });
  });

  it('reports every syntax error with its location and keeps compiling', () => {
    const { errors } = compileValue({ a: '{{input.a', b: ['ok', '{{nope}}'] });
    expect(errors.map((e) => e.at)).to.deep.equal([['a'], ['b', 1]]);
  });

  it('collects references and the tasks a value reads', () => {
    const { value } = compileValue({
      a: '{{tasks.x.output.a}}',
      b: 'x {{tasks.y.output}} {{tasks.x.output.b}}',
      c: '{{secrets.token}}',
    });
    expect(referencedTasks(value)).to.deep.equal(['x', 'y']);
    expect(collectRefs(value).map((r) => [r.at, r.exact])).to.deep.equal([
      [['a'], true],
      [['b'], false],
      [['b'], false],
      [['c'], true],
    ]);
  });

  it('resolves secrets only through the scope', () => {
    const { value } = compileValue('Bearer {{secrets.token}}');
    expect(resolveValue(value, scope())).to.equal('Bearer s3cr3t');
    expect(resolveValue(value, scope({ secret: () => undefined }))).to.equal('Bearer ');
  });

  it('formats field paths', () => {
    expect(joinField('spec.tasks[1].input', ['email'])).to.equal('spec.tasks[1].input.email');
    expect(joinField('spec.output', [0, 'a'])).to.equal('spec.output[0].a');
    expect(joinField('spec.output', [])).to.equal('spec.output');
    expect(stringifyForInterpolation(null)).to.equal('');
    expect(stringifyForInterpolation(false)).to.equal('false');
  });

  it('does not follow paths through the wrong kind of container', () => {
    const { value } = compileValue(['{{input.items.id}}', '{{input[0]}}', '{{input.userId.x}}']);
    expect(resolveValue(value, scope())).to.deep.equal([null, null, null]);
  });
});
