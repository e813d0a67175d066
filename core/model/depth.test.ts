import { expect } from 'chai';
import { valueDepth } from './depth.ts';

/** An array nested `levels` deep, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('valueDepth', () => {
  const cases: Array<[string, unknown, number]> = [
    ['a scalar', 'x', 0],
    ['null', null, 0],
    ['an empty array', [], 1],
    ['an object of scalars', { a: 1, b: 'x' }, 1],
    ['mixed objects and arrays', { a: [{ b: [] }], c: {} }, 4],
  ];
  for (const [name, value, depth] of cases)
    it(`measures ${name} as ${depth}`, () => expect(valueDepth(value)).to.equal(depth));

  it('measures 100,000 levels without overflowing the stack', () => {
    expect(valueDepth(nested(100_000))).to.equal(100_000);
  });

  it('stops counting just past the limit', () => {
    expect(valueDepth(nested(10_000), 64)).to.equal(65);
    expect(valueDepth(nested(64), 64)).to.equal(64);
  });
});
