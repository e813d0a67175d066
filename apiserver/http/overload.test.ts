import { expect } from 'chai';
import sinon from 'sinon';
import { EventLoopDelay, NO_DELAY, WorkLimiter, type LoadSignal } from './overload.ts';

/** A load signal the test sets. */
class FixedDelay implements LoadSignal {
  ms = 0;
  delayMs(): number {
    return this.ms;
  }
}

describe('WorkLimiter', () => {
  it('takes slots up to the limit, refuses beyond it naming the limit, and frees a slot on release', () => {
    const limiter = new WorkLimiter({ limit: 2, maxDelayMs: 0, signal: NO_DELAY });
    expect([limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()]).to.deep.equal([
      true,
      true,
      false,
    ]);
    expect(limiter.refusal('executions')).to.equal(
      'the server is running 2 executions, its limit; retry after 1 second',
    );
    limiter.release();
    expect(limiter.tryAcquire()).to.equal(true);
  });

  it('refuses new work while the event loop is later than allowed, with a message that says so', () => {
    const delay = new FixedDelay();
    const limiter = new WorkLimiter({ limit: 10, maxDelayMs: 100, signal: delay });
    delay.ms = 101;
    expect(limiter.tryAcquire()).to.equal(false);
    expect(limiter.refusal('executions')).to.contain('event loop is running late');
    delay.ms = 100;
    expect(limiter.tryAcquire()).to.equal(true);
    expect(limiter.inFlight).to.equal(1);
  });

  it('never refuses for delay when the delay limit is 0', () => {
    const delay = new FixedDelay();
    delay.ms = 10_000;
    expect(new WorkLimiter({ limit: 1, maxDelayMs: 0, signal: delay }).tryAcquire()).to.equal(true);
  });
});

describe('EventLoopDelay', () => {
  it('reports a run of callbacks while it lasts, before its timer can fire', () => {
    const delay = new EventLoopDelay();
    try {
      const until = performance.now() + 150;
      while (performance.now() < until);
      expect(delay.delayMs()).to.be.at.least(100);
    } finally {
      delay.stop();
    }
  });

  it('remembers a late tick after the block and forgets it over the following ticks', () => {
    // A fake clock: a blocked event loop is time that passes with the sampler's timer firing once,
    // late (clock.jump), whatever the machine's load.
    const clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const delay = new EventLoopDelay();
    try {
      clock.jump(150);
      const right = delay.delayMs();
      expect(right).to.be.at.least(100);
      clock.tick(100);
      const later = delay.delayMs();
      expect(later).to.be.below(right);
      clock.tick(300);
      expect(delay.delayMs()).to.be.below(later).and.below(1);
    } finally {
      delay.stop();
      clock.restore();
    }
  });
});
