import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { SyncflowError } from '../../core/errors.ts';
import { parseJson, readBody } from './body.ts';
import { LIMITS } from '../../core/model/resources.ts';

/** A request body stream with the headers readBody looks at. */
function request(chunks: string[], headers: Record<string, string> = {}): IncomingMessage {
  const stream = new PassThrough();
  setImmediate(() => {
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
  return Object.assign(stream, { headers }) as unknown as IncomingMessage;
}

/** A request whose whole body the HTTP parser has received already (`complete`), none of it read yet. */
function received(chunks: string[]): IncomingMessage {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return Object.assign(stream, { headers: {}, complete: true }) as unknown as IncomingMessage;
}

async function refusal(promise: Promise<unknown>): Promise<SyncflowError> {
  try {
    await promise;
  } catch (error) {
    return error as SyncflowError;
  }
  throw new Error('expected a refusal');
}

describe('readBody', () => {
  it('joins the chunks of a body', async () => {
    expect((await readBody(request(['{"a":', '1}']))).toString()).to.equal('{"a":1}');
  });

  it('reads an empty body as empty', async () => {
    expect((await readBody(request([]))).length).to.equal(0);
  });

  it('refuses a declared length over the limit before reading, with 413 naming the limit', async () => {
    const error = await refusal(readBody(request(['x'], { 'content-length': '11' }), 10));
    expect(error.code).to.equal('RequestTooLarge');
    expect(error.message).to.contain('11 bytes; the limit is 10 bytes');
    expect(error.message).not.to.contain('MiB');
  });

  it('names the default limit in MiB as well, and the fix', async () => {
    const declared = String(LIMITS.maxRequestBytes + 1);
    const error = await refusal(readBody(request(['x'], { 'content-length': declared })));
    expect(error.message).to.contain(`the limit is ${LIMITS.maxRequestBytes} bytes (3 MiB)`);
    expect(error.message).to.contain('send a smaller body');
  });

  it('refuses a streamed body once it passes the limit', async () => {
    const error = await refusal(readBody(request(['123456', '789012']), 10));
    expect(error.code).to.equal('RequestTooLarge');
    expect(error.message).to.contain('exceeds the limit of 10 bytes');
    expect(error.message).not.to.contain('MiB');
    expect(error.message).to.contain('send a smaller body');
  });

  it('answers a body that is in already at once, without waiting for stream events', async () => {
    const req = received(['{"a":', '1}']);
    const later = Promise.resolve('later');
    expect(String(await Promise.race([readBody(req), later]))).to.equal('{"a":1}');
    // The declared length is in, the parser not done with the message yet.
    const declared = Object.assign(new PassThrough(), { headers: { 'content-length': '7' } });
    declared.write('{"a":1}');
    expect(String(await Promise.race([readBody(declared as unknown as IncomingMessage), later]))).to.equal(
      '{"a":1}',
    );
    expect(received([]).readableLength).to.equal(0);
    expect((await readBody(received([]))).length).to.equal(0);
  });

  it('refuses a body that is in already and over the limit (no declared length), with 413', async () => {
    const error = await refusal(readBody(received(['123456', '789012']), 10));
    expect(error.code).to.equal('RequestTooLarge');
    expect(error.message).to.contain('exceeds the limit of 10 bytes');
  });

  it('rejects when the request stream fails', async () => {
    const stream = new PassThrough();
    const req = Object.assign(stream, { headers: {} }) as unknown as IncomingMessage;
    setImmediate(() => stream.destroy(new Error('socket hang up')));
    expect((await refusal(readBody(req))).message).to.equal('socket hang up');
  });
});

describe('parseJson', () => {
  it('parses JSON and names what was malformed, empty or too deep', () => {
    expect(parseJson(Buffer.from('{"userId":"42"}'), 'input')).to.deep.equal({ userId: '42' });
    expect(() => parseJson(Buffer.from('  '), 'input')).to.throw(/input is empty/);
    expect(() => parseJson(Buffer.from('{"a":'), 'input')).to.throw(/input is not valid JSON/);
    expect(() => parseJson(Buffer.from(`${'['.repeat(70)}${']'.repeat(70)}`), 'input')).to.throw(
      /input nests 70 levels deep/,
    );
  });
});
