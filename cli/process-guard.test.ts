import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { guardServerProcess } from './process-guard.ts';

describe('guardServerProcess', () => {
  function setup() {
    const process = new EventEmitter();
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const exits: number[] = [];
    guardServerProcess({
      process,
      logger: { error: (fields, message) => lines.push({ fields, message }) },
      exit: (code) => exits.push(code),
    });
    return { process, lines, exits };
  }

  it('logs an unhandled rejection and keeps the server running', () => {
    const { process, lines, exits } = setup();
    process.emit('unhandledRejection', new TypeError('boom'), Promise.resolve());
    expect(exits).to.deep.equal([]);
    expect(lines).to.have.length(1);
    expect(lines[0]?.message).to.equal('unhandled promise rejection (a defect); the server keeps running');
    expect(lines[0]?.fields).to.deep.include({ kind: 'TypeError' });
  });

  it('logs where an uncaught exception came from, never its message, and exits 1', () => {
    const { process, lines, exits } = setup();
    const error = new Error('upstream said token=s3cr3t-value');
    process.emit('uncaughtException', error);
    expect(exits).to.deep.equal([1]);
    expect(JSON.stringify(lines)).not.to.contain('s3cr3t-value');
    expect(lines[0]?.fields).to.deep.include({ kind: 'Error' });
    expect(String(lines[0]?.fields.at)).to.match(/process-guard\.test\.ts/);
  });

  it('names a rejection with a value that is not an Error by its type', () => {
    const { process, lines } = setup();
    process.emit('unhandledRejection', 'a string with a secret s3cr3t-value', Promise.resolve());
    expect(lines[0]?.fields).to.deep.include({ kind: 'string' });
    expect(JSON.stringify(lines)).not.to.contain('s3cr3t-value');
  });
});
