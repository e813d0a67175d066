import { expect } from 'chai';
import { jsonTextExceedsDepth } from './json-depth.ts';

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
});
