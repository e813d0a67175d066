import { expect } from 'chai';
import type { RetryPolicy } from '../definitions/compile.ts';
import { backoffDelayMs, retryAfterMs } from './retry.ts';

describe('retry timing', () => {
  const policy: RetryPolicy = {
    maxAttempts: 5,
    initialMs: 100,
    maxMs: 1_000,
    multiplier: 3,
    retryOn: new Set(['5xx']),
    retryNonIdempotent: false,
  };

  it('draws full-jitter delays under an exponentially growing, capped ceiling', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelayMs(policy, attempt, () => 0.999999))).to.deep.equal([
      99, 299, 899, 999,
    ]);
    expect(backoffDelayMs(policy, 3, () => 0)).to.equal(0);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('2', now)).to.equal(2_000);
    expect(retryAfterMs(['3', '9'], now)).to.equal(3_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).to.equal(5_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).to.equal(0);
    expect(retryAfterMs('soon', now)).to.equal(undefined);
    expect(retryAfterMs(undefined, now)).to.equal(undefined);
  });
});
