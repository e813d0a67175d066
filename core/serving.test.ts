import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { releaseWhenDone, retryAfterSeconds, setRetryAfter } from './serving.ts';

describe('serving helpers shared by every HTTP boundary', () => {
  describe('Retry-After', () => {
    const cases: Array<{ status: number; header: string | undefined }> = [
      { status: 429, header: '1' },
      { status: 503, header: '1' },
      { status: 500, header: undefined },
      { status: 422, header: undefined },
    ];
    for (const c of cases) {
      it(`is ${c.header ? `${c.header} second` : 'not set'} for HTTP ${c.status}`, () => {
        const headers = new Map<string, string>();
        const seconds = setRetryAfter(
          { setHeader: (name: string, value: string) => headers.set(name, value) },
          c.status,
        );
        expect(headers.get('Retry-After')).to.equal(c.header);
        expect(seconds).to.equal(retryAfterSeconds(c.status));
      });
    }
  });

  describe('releaseWhenDone', () => {
    for (const events of [['finish', 'close'], ['close'], ['close', 'finish']]) {
      it(`releases exactly once when the response emits ${events.join(' then ')}`, () => {
        const res = new EventEmitter();
        let releases = 0;
        releaseWhenDone(res, () => releases++);
        expect(releases).to.equal(0);
        for (const event of events) res.emit(event);
        expect(releases).to.equal(1);
      });
    }
  });
});
