import { expect } from 'chai';
import { jsonTextExceedsDepth, valueExceedsDepth } from './json-depth.ts';

describe('JSON depth limits', () => {
  describe('jsonTextExceedsDepth', () => {
    const cases: Array<[string, number, boolean]> = [
      ['1', 0, false],
      ['{}', 0, true],
      ['{}', 1, false],
      ['[[[]]]', 2, true],
      ['[[[]]]', 3, false],
      ['[{"a":[1]},{"b":2}]', 3, false],
      ['["[[[[", "\\"[[["]', 1, false],
      ['{"a\\\\":[[]]}', 2, true],
    ];
    for (const [text, limit, expected] of cases) {
      it(`${text} with limit ${limit} → ${String(expected)}`, () => {
        expect(jsonTextExceedsDepth(text, limit)).to.equal(expected);
      });
    }

    it('counts a million levels without the stack', () => {
      expect(jsonTextExceedsDepth('['.repeat(1_000_000), 64)).to.equal(true);
    });
  });

  describe('valueExceedsDepth', () => {
    it('measures objects and arrays; scalars have no depth', () => {
      expect(valueExceedsDepth('x', 0)).to.equal(false);
      expect(valueExceedsDepth(null, 0)).to.equal(false);
      expect(valueExceedsDepth({}, 0)).to.equal(true);
      expect(valueExceedsDepth({ a: [1, { b: 2 }] }, 3)).to.equal(false);
      expect(valueExceedsDepth({ a: [1, { b: [] }] }, 3)).to.equal(true);
    });

    it('walks any depth without recursion, and ends on cycles', () => {
      let deep: unknown = 1;
      for (let i = 0; i < 200_000; i++) deep = [deep];
      expect(valueExceedsDepth(deep, 64)).to.equal(true);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(valueExceedsDepth(cyclic, 64)).to.equal(true);
    });
  });
});
