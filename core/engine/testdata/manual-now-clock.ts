import { SYSTEM_CLOCK, type Clock } from '../collaborators.ts';

/** A clock whose `now` the test moves by setting `at`; its timers are real. */
export class ManualNowClock implements Clock {
  at = 1_000_000;
  now(): number {
    return this.at;
  }
  setTimer = SYSTEM_CLOCK.setTimer;
  clearTimer = SYSTEM_CLOCK.clearTimer;
}
