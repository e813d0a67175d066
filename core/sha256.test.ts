import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { sha256Hex } from './sha256.ts';

describe('sha256Hex', () => {
  it('matches node:crypto for empty, short, multi-block, block-boundary and non-ASCII input', () => {
    const inputs = [
      '',
      'abc',
      'x'.repeat(55),
      'x'.repeat(56),
      'x'.repeat(64),
      'y'.repeat(1000),
      'Grüße, 世界 🚀',
    ];
    for (const input of inputs) {
      expect(sha256Hex(input), JSON.stringify(input).slice(0, 20)).to.equal(
        createHash('sha256').update(input).digest('hex'),
      );
    }
  });
});
