import { expect } from 'chai';
import { Outbox, type OutboxSocket } from './outbox.ts';

/** A socket whose writes complete only when the test flushes them (a reader that stopped reading). */
class StalledSocket implements OutboxSocket {
  readonly sent: string[] = [];
  private pending: { bytes: number; done: () => void }[] = [];
  get bufferedAmount(): number {
    return this.pending.reduce((sum, p) => sum + p.bytes, 0);
  }
  send(data: string, done: (error?: Error) => void): void {
    this.sent.push(data);
    this.pending.push({ bytes: data.length, done: () => done() });
  }
  /** The reader reads everything written so far. */
  flush(): void {
    for (const p of this.pending.splice(0)) p.done();
  }
}

const limits = { maxBufferedBytes: 100, maxQueuedBytes: 100, maxEssentialBytes: 300 };
const text = (n: number, fill = 'x') => fill.repeat(n);

describe('Outbox (bounded per-connection sending)', () => {
  it('hands messages to the socket while its buffer is below the limit', () => {
    const socket = new StalledSocket();
    const outbox = new Outbox(socket, limits, () => {});
    outbox.push('a', text(60));
    outbox.push('a', text(30));
    expect(socket.sent).to.have.length(2);
    expect(outbox.queuedBytes).to.equal(0);
  });

  it('queues within its budget while the reader is slow and sends in order once it reads', () => {
    const socket = new StalledSocket();
    const outbox = new Outbox(socket, limits, () => {});
    outbox.push('a', text(120, '1'));
    outbox.push('a', text(40, '2'));
    outbox.push('b', text(40, '3'));
    expect(socket.sent).to.have.length(1);
    expect(outbox.queuedBytes).to.equal(80);
    socket.flush();
    expect(socket.sent.map((s) => s[0])).to.deep.equal(['1', '2', '3']);
  });

  it('counts a dropped batch as the events it carried', () => {
    const socket = new StalledSocket();
    const outbox = new Outbox(socket, limits, () => {});
    outbox.push('a', text(120, '1')); // on the socket
    outbox.push('a', text(90, '2')); // queued
    outbox.push('a', text(50, '3'), { count: 7 }); // dropped: a batch of 7 events
    expect(outbox.dropped).to.equal(7);
    socket.flush();
    socket.flush();
    expect(JSON.parse(socket.sent.at(-1) as string)).to.deep.equal({ type: 'overflow', id: 'a', dropped: 7 });
  });

  it('drops beyond the budget, counting per request, and tells each request how many it lost, in order', () => {
    const socket = new StalledSocket();
    const outbox = new Outbox(socket, limits, () => {});
    outbox.push('a', text(120, '1')); // on the socket
    outbox.push('a', text(90, '2')); // queued
    for (let i = 0; i < 5; i++) outbox.push('a', text(50, '3')); // dropped
    outbox.push(7, text(50, '4')); // dropped
    outbox.push(undefined, text(50, 'h')); // dropped silently (a heartbeat)
    expect(outbox.queuedBytes).to.be.at.most(limits.maxQueuedBytes + 2 * 64);
    socket.flush();
    socket.flush();
    socket.flush();
    const rest = socket.sent.slice(1);
    expect(rest[0]?.[0]).to.equal('2');
    expect(rest.slice(1).map((s) => JSON.parse(s))).to.deep.equal([
      { type: 'overflow', id: 'a', dropped: 5 },
      { type: 'overflow', id: 7, dropped: 1 },
    ]);
    expect(outbox.dropped).to.equal(7);
    // Messages after the notice go out again.
    outbox.push('a', text(10, '5'));
    expect(socket.sent.at(-1)?.[0]).to.equal('5');
  });

  it('keeps essential messages past the budget, and gives up on a reader that lets them pile up', () => {
    const socket = new StalledSocket();
    let gaveUp = 0;
    const outbox = new Outbox(socket, limits, () => gaveUp++);
    outbox.push('a', text(120));
    outbox.push('a', text(100));
    outbox.push('a', text(150), { essential: true });
    expect(outbox.queuedBytes).to.equal(250);
    expect(gaveUp).to.equal(0);
    outbox.push('a', text(100), { essential: true });
    expect(gaveUp).to.equal(1);
  });

  it('sends nothing more once closed', () => {
    const socket = new StalledSocket();
    const outbox = new Outbox(socket, limits, () => {});
    outbox.push('a', text(120));
    outbox.push('a', text(10));
    outbox.close();
    socket.flush();
    outbox.push('a', text(10));
    expect(socket.sent).to.have.length(1);
  });
});
