/**
 * The image's build context: every file the Dockerfile copies reaches the build (the .dockerignore
 * lets it through), and tests, test data and installed packages do not. Docker's rules: patterns
 * in order, the last one that matches a path (or one of its parent directories) decides; `!`
 * re-includes; `*` stays within one path segment, `**` spans any number.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/controlplane.ts';

interface Rule {
  exclude: boolean;
  pattern: RegExp;
}

function rules(text: string): Rule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const exclude = !line.startsWith('!');
      const glob = (exclude ? line : line.slice(1)).replace(/\/$/, '');
      const source = glob
        .split('/')
        .map((part) =>
          part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'),
        )
        .join('/');
      return { exclude, pattern: new RegExp(`^${source}$`) };
    });
}

/** Whether Docker sends `path` (a file, relative to the context) to the build. */
function included(path: string, list: Rule[]): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const rule of list) if (prefixes.some((p) => rule.pattern.test(p))) excluded = rule.exclude;
  return !excluded;
}

/** Sources of the build stage's COPY instructions (not those copying from another stage). */
function copiedSources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const line of dockerfile.split('\n')) {
    const match = /^COPY\s+(?!--from)(.+)$/.exec(line.trim());
    if (!match) continue;
    const words = (match[1] as string).split(/\s+/).filter((w) => !w.startsWith('--'));
    sources.push(...words.slice(0, -1));
  }
  return sources;
}

const tracked = execFileSync('git', ['ls-files'], { cwd: repoRoot, encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);
const ignore = rules(readFileSync(join(repoRoot, '.dockerignore'), 'utf8'));
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

describe('the image build context (.dockerignore)', () => {
  it('lets through every file the Dockerfile copies, except tests and test data', () => {
    const missing: string[] = [];
    for (const source of copiedSources(dockerfile)) {
      const files = source.endsWith('/') ? tracked.filter((f) => f.startsWith(source)) : [source];
      expect(files.length, `COPY ${source}: no tracked file`).to.be.above(0);
      for (const file of files) {
        if (/\.test\.ts$|\/testdata\//.test(file)) continue;
        if (!included(file, ignore)) missing.push(file);
      }
    }
    expect(missing, 'files the Dockerfile copies that .dockerignore leaves out').to.deep.equal([]);
  });

  it('leaves out tests, test data, installed packages and built output', () => {
    for (const path of [
      'core/engine/executor.test.ts',
      'core/definitions/testdata/one-task-catalog.ts',
      'console/node_modules/react/index.js',
      'console/dist/index.html',
      'node_modules/pg/package.json',
      'test/e2e/stream.e2e.test.ts',
      'docs/console.md',
    ])
      expect(included(path, ignore), path).to.equal(false);
  });
});
