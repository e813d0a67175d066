import { expect } from 'chai';
import { jsonTextDepth, valueDepth } from './depth.ts';

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

describe('jsonTextDepth', () => {
  const cases: Array<[string, number]> = [
    ['1', 0],
    ['{}', 1],
    ['[[[]]]', 3],
    ['[{"a":[1]},{"b":2}]', 3],
    ['["[[[[", "\\"[[["]', 1],
    ['{"a\\\\":[[]]}', 3],
  ];
  for (const [text, depth] of cases)
    it(`measures ${text} as ${depth}`, () => expect(jsonTextDepth(text)).to.equal(depth));

  it('counts a million levels without the stack, and stops just past the limit', () => {
    expect(jsonTextDepth('['.repeat(1_000_000))).to.equal(1_000_000);
    expect(jsonTextDepth('['.repeat(1_000_000), 64)).to.equal(65);
  });
});
