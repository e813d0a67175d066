import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { SyncflowError } from '../core/errors.ts';
import { execution } from '../test/integration/history/fixtures.ts';
import { describeDatabase, openHistory } from './index.ts';
import { RecordingLogger } from './testing.ts';

describe('openHistory', function () {
  this.timeout(180_000);

  it('without a database URL uses embedded PGlite and says it is a development default', async () => {
    const logger = new RecordingLogger();
    const history = await openHistory({ logger, registry: new Registry(), retention: false });
    try {
      const warning = logger.entries.find((e) => e.level === 'warn');
      expect(warning?.message).to.contain('embedded PGlite database: a development default');
      expect(warning?.message).to.contain('set DATABASE_URL');
      expect(history.target).to.equal('embedded PGlite (memory)');
      const x = execution();
      history.writer.record(x);
      await history.writer.flush();
      expect((await history.store.get('shop', x.metadata.name))?.metadata.uid).to.equal(x.metadata.uid);
    } finally {
      await history.close();
    }
  });

  it('keeps the embedded data in a directory across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncflow-pglite-'));
    try {
      const x = execution();
      const first = await openHistory({
        embeddedDataDir: dir,
        logger: new RecordingLogger(),
        registry: new Registry(),
      });
      first.writer.record(x);
      await first.close();
      const logger = new RecordingLogger();
      const second = await openHistory({ embeddedDataDir: dir, logger, registry: new Registry() });
      try {
        expect((await second.store.get('shop', x.metadata.name))?.status.tasks).to.have.length(5);
        expect(second.target).to.equal(`embedded PGlite (${dir})`);
        expect(logger.at('info')).to.not.include('applied history migration');
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails start-up with the cause when the database cannot be reached', async () => {
    try {
      await openHistory({
        databaseUrl: 'postgres://nobody:secret@127.0.0.1:1/none',
        logger: new RecordingLogger(),
        registry: new Registry(),
      });
      expect.fail('expected an error');
    } catch (error) {
      expect(error).to.be.instanceOf(SyncflowError);
      expect((error as SyncflowError).code).to.equal('ServiceUnavailable');
      expect((error as Error).message).to.contain(
        'cannot open the execution history at postgres://127.0.0.1:1/none',
      );
      expect((error as Error).message).to.contain('ECONNREFUSED');
      expect((error as Error).message).to.contain('check DATABASE_URL');
      expect((error as Error).message).to.not.contain('secret');
    }
  });
});

describe('describeDatabase', () => {
  it('leaves out user and password', () => {
    expect(describeDatabase('postgres://app:s3cret@db.example:5432/history?sslmode=require')).to.equal(
      'postgres://db.example:5432/history',
    );
  });

  it('does not echo a malformed URL', () => {
    expect(describeDatabase('app:s3cret@nowhere')).to.equal('a app: URL (expected postgres://)');
    expect(describeDatabase('::')).to.equal('a database URL that is not a valid URL');
  });
});
