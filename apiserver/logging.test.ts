import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import { LOG_FLUSH_MS, serverLogger } from './logging.ts';

async function lines(path: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('serverLogger', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'syncflow-log-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('buffers lines and writes them on the periodic flush, as JSON at the level asked', async () => {
    const path = join(dir, 'server.log');
    const logger = serverLogger('info', path);
    // The server's pino logger is the one Logger every layer takes, with no adapter.
    const asLogger: Logger = logger;
    asLogger.debug({}, 'not at info');
    logger.info({ execution: 'shop/a-1' }, 'execution finished');
    // Polled, not timed: the line arrives with the periodic flush (LOG_FLUSH_MS), whatever the load.
    const deadline = Date.now() + 20 * LOG_FLUSH_MS;
    let written = await lines(path);
    while (written.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      written = await lines(path);
    }
    expect(written.map((l) => [l.level, l.execution, l.msg])).to.deep.equal([
      [30, 'shop/a-1', 'execution finished'],
    ]);
  });

  it('writes what is buffered when flushed (as shutdown does)', async () => {
    const path = join(dir, 'server.log');
    const logger = serverLogger('info', path);
    logger.info('one');
    logger.info('two');
    await new Promise<void>((resolve, reject) =>
      logger.flush((error) => (error ? reject(error) : resolve())),
    );
    expect((await lines(path)).map((l) => l.msg)).to.deep.equal(['one', 'two']);
  });
});
