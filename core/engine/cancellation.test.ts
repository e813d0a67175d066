import { expect } from 'chai';
import { Cancellation } from './cancellation.ts';

describe('Cancellation', () => {
  it('calls function and object listeners once, in order, with the reason readable', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    c.once('abort', () => calls.push(`fn ${String(c.reason)}`));
    c.addEventListener('abort', { handleEvent: () => calls.push(`object ${String(c.aborted)}`) });
    c.abort('first');
    c.abort('second');
    expect(calls).to.deep.equal(['fn first', 'object true']);
    expect(c.reason).to.equal('first');
  });

  it('does not call removed listeners, nor listeners added after the abort', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    const fn = () => calls.push('fn');
    const object = { handleEvent: () => calls.push('object') };
    c.on('abort', fn);
    c.addEventListener('abort', object);
    c.removeListener('abort', fn);
    c.removeEventListener('abort', object);
    c.removeEventListener('abort', object);
    c.abort('now');
    c.once('abort', () => calls.push('late'));
    c.addEventListener('abort', { handleEvent: () => calls.push('late object') });
    expect(calls).to.deep.equal([]);
  });
});
