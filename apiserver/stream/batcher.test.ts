import { expect } from 'chai';
import sinon from 'sinon';
import type { StreamMessage } from '../../core/model/stream.ts';
import { EventBatcher } from './batcher.ts';

describe('EventBatcher (subscribe with batchMs)', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({
      now: 1_000_000,
      toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'],
    });
  });
  afterEach(() => clock.restore());

  function recorder(options: { maxBatchBytes?: number } = {}) {
    const sent: { message: StreamMessage; count: number; at: number }[] = [];
    const batcher = new EventBatcher('sub', {
      intervalMs: 100,
      ...options,
      send: (text, count) =>
        sent.push({ message: JSON.parse(text) as StreamMessage, count, at: Date.now() - 1_000_000 }),
    });
    const event = (seq: number) =>
      JSON.stringify({
        type: 'TaskStarted',
        id: 'sub',
        seq,
        time: 't',
        task: `t${seq}`,
        attempt: 1,
        request: 'GET /',
      });
    return { sent, batcher, event };
  }

  it('sends the events of a quiet subscription one by one, at once', () => {
    const { sent, batcher, event } = recorder();
    batcher.push(event(1));
    clock.tick(150);
    batcher.push(event(2));
    expect(sent.map((s) => [s.message.type, s.at])).to.deep.equal([
      ['TaskStarted', 0],
      ['TaskStarted', 150],
    ]);
  });

  it('coalesces events faster than one per interval into one batch per interval, in order, losing none', () => {
    const { sent, batcher, event } = recorder();
    for (let seq = 1; seq <= 25; seq++) {
      batcher.push(event(seq));
      clock.tick(10);
    }
    clock.tick(200);
    // The first goes at once; then at most one message per 100 ms.
    expect(sent[0]?.message.type).to.equal('TaskStarted');
    for (const s of sent.slice(1)) expect(s.message.type).to.equal('batch');
    const gaps = sent.slice(1).map((s, i) => s.at - (sent[i] as { at: number }).at);
    for (const gap of gaps) expect(gap).to.be.at.least(100);
    const seqs = sent.flatMap((s) =>
      s.message.type === 'batch'
        ? s.message.messages.map((m) => (m as { seq: number }).seq)
        : [(s.message as { seq: number }).seq],
    );
    expect(seqs).to.deep.equal(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(sent.reduce((n, s) => n + s.count, 0)).to.equal(25);
    const batch = sent[1]?.message as Extract<StreamMessage, { type: 'batch' }>;
    expect(batch.id).to.equal('sub');
  });

  it('sends a batch early when it reaches its byte limit', () => {
    const { sent, batcher, event } = recorder({ maxBatchBytes: 400 });
    for (let seq = 1; seq <= 12; seq++) batcher.push(event(seq));
    expect(sent.length).to.be.at.least(3);
    expect(sent.slice(1).every((s) => JSON.stringify(s.message).length <= 400 + 100)).to.equal(true);
  });

  it('flush sends what waits at once (before an unsubscribed answer); close drops it and cancels the timer', () => {
    const { sent, batcher, event } = recorder();
    batcher.push(event(1));
    batcher.push(event(2));
    batcher.push(event(3));
    batcher.flush();
    expect(sent.map((s) => s.count)).to.deep.equal([1, 2]);
    batcher.push(event(4));
    batcher.close();
    clock.tick(1000);
    batcher.push(event(5));
    expect(sent).to.have.length(2);
  });
});
