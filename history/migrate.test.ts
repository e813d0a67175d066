import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncflowError } from '../core/errors.ts';
import { loadMigrations } from './migrate.ts';

describe('loadMigrations', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncflow-migrations-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ships the initial schema as version 1', async () => {
    const [first] = await loadMigrations();
    expect(first).to.include({ version: 1, name: 'initial' });
    expect(first?.sql).to.contain('CREATE TABLE executions');
  });

  it('orders files by version and ignores other files', async () => {
    await writeFile(join(dir, '002_second.sql'), 'SELECT 2');
    await writeFile(join(dir, '001_first.sql'), 'SELECT 1');
    await writeFile(join(dir, 'README.md'), '');
    expect((await loadMigrations(dir)).map((m) => m.name)).to.deep.equal(['first', 'second']);
  });

  it('rejects a misnamed file, saying how to name it', async () => {
    await writeFile(join(dir, '1_first.sql'), 'SELECT 1');
    try {
      await loadMigrations(dir);
      expect.fail('expected an error');
    } catch (error) {
      expect(error).to.be.instanceOf(SyncflowError);
      expect((error as Error).message).to.contain('must be named NNN_name.sql');
    }
  });

  it('rejects two files with one version', async () => {
    await writeFile(join(dir, '001_a.sql'), 'SELECT 1');
    await writeFile(join(dir, '001_b.sql'), 'SELECT 1');
    try {
      await loadMigrations(dir);
      expect.fail('expected an error');
    } catch (error) {
      expect((error as Error).message).to.contain('migration version 001 appears twice');
    }
  });
});
