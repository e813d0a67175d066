import { expect } from 'chai';
import { errorFields, SILENT_LOGGER } from './logger.ts';

describe('Logger', () => {
  it('has a silent implementation that accepts every level', () => {
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      expect(() => SILENT_LOGGER[level]({}, 'dropped')).not.to.throw();
    }
  });

  describe('errorFields', () => {
    it('keeps the message and a string or numeric code, never the rest of the error', () => {
      const error = Object.assign(new Error('review failed'), { code: 503, body: { token: 'secret' } });
      expect(errorFields(error)).to.deep.equal({ err: { message: 'review failed', code: 503 } });
      const pg = Object.assign(new Error('duplicate key'), { code: '23505', query: 'INSERT ...' });
      expect(errorFields(pg)).to.deep.equal({ err: { message: 'duplicate key', code: '23505' } });
    });

    it('turns a thrown non-error into its text', () => {
      expect(errorFields('boom')).to.deep.equal({ err: { message: 'boom' } });
    });
  });
});
