import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { SyncflowError } from '../../core/errors.ts';
import { parseJson, readBody } from './body.ts';

/** A request body stream with the headers readBody looks at. */
function request(chunks: string[], headers: Record<string, string> = {}): IncomingMessage {
  const stream = new PassThrough();
  setImmediate(() => {
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
  return Object.assign(stream, { headers }) as unknown as IncomingMessage;
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
  });

  it('refuses a streamed body once it passes the limit', async () => {
    const error = await refusal(readBody(request(['123456', '789012']), 10));
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
