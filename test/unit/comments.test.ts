/**
 * Comments tell the truth about the tree: they cite no issue numbers (the code says what it is for,
 * not which ticket asked for it) and every repository path they name exists.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Paths in comments that are not this repository's: other projects' files and build outputs. */
const FOREIGN = [
  /^k8s\.io\//, // Kubernetes sources
  /^api\/openapi-spec\//, // Kubernetes' published OpenAPI
  /^hack\/lib\/version\.sh$/, // Kubernetes' build script
  /^staging\/publishing\//, // Kubernetes' import restrictions
  /^undici\//, // a dependency's module
  /^(DIR|OUT|dir|dist)\//, // placeholders and build output
];

/** Files written at run time (`hack/cp-up.sh` writes env.sh; migrations are NNN_name.sql). */
const GENERATED_NAMES = new Set(['env.sh', 'NNN_name.sql']);

const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean);
const trackedSet = new Set(tracked);
const folders = new Set(
  tracked.flatMap((file) =>
    file
      .split('/')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
  ),
);
const baseNames = new Set(tracked.map((file) => file.slice(file.lastIndexOf('/') + 1)));
const sources = tracked.filter(
  (file) => /\.(ts|tsx|js|mjs|cjs|sh|ya?ml)$/.test(file) && !file.includes('/generated/'),
);

/** Each comment line of a file with its line number (`//`, block comments, `#` in shell and YAML). */
function commentLines(file: string, text: string): Array<{ line: number; text: string }> {
  const lines: Array<{ line: number; text: string }> = [];
  if (/\.(sh|ya?ml)$/.test(file)) {
    text.split('\n').forEach((line, i) => {
      const hash = /(^|\s)#(.*)$/.exec(line);
      if (hash) lines.push({ line: i + 1, text: hash[2] ?? '' });
    });
    return lines;
  }
  for (const match of text.matchAll(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g)) {
    const start = match.index;
    const before = text.slice(text.lastIndexOf('\n', start) + 1, start);
    // `//` inside a string or a URL on the same line is not a comment.
    if (match[0].startsWith('//') && (/[:'"`]$/.test(before) || (before.split("'").length - 1) % 2 === 1))
      continue;
    const first = text.slice(0, start).split('\n').length;
    match[0].split('\n').forEach((line, i) => lines.push({ line: first + i, text: line }));
  }
  return lines;
}

const PATH =
  /(?<![\w@/.:-])((?:\.{1,2}\/)?(?:[\w.-]+\/)+[\w.-]+\.(?:ts|tsx|js|mjs|sh|ya?ml|json|md|sql)|(?:[\w.-]+\/)+)(?![\w/])/g;
const BARE_FILE = /(?<![\w/.@-])([A-Za-z][\w-]*(?:\.[\w-]+)*\.(?:ts|tsx|mjs|sh|sql|md))(?![\w/])/g;
const ISSUE = /\bissues? #?\d+/i;

/** Top-level folders: a folder-only token (`core/`, `apiserver/http/`) is a citation only under one of them. */
const TOP = new Set([...folders].filter((folder) => !folder.includes('/')));

function exists(file: string, path: string): boolean {
  if (path.endsWith('/') && !TOP.has(path.split('/')[0] ?? '')) return true;
  const clean = path.replace(/\/$/, '');
  if (trackedSet.has(clean) || folders.has(clean)) return true;
  const relative = normalize(join(dirname(file), clean));
  return trackedSet.has(relative) || folders.has(relative) || existsSync(join(ROOT, clean));
}

describe('comments', () => {
  const findings = { issues: [] as string[], paths: [] as string[] };
  for (const file of sources) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const { line, text: comment } of commentLines(file, text)) {
      if (ISSUE.test(comment)) findings.issues.push(`${file}:${line}: ${comment.trim()}`);
      for (const [, path = ''] of comment.matchAll(PATH)) {
        if (!FOREIGN.some((re) => re.test(path)) && !exists(file, path))
          findings.paths.push(`${file}:${line}: ${path}`);
      }
      for (const [, name = ''] of comment.matchAll(BARE_FILE)) {
        if (!baseNames.has(name) && !GENERATED_NAMES.has(name))
          findings.paths.push(`${file}:${line}: ${name}`);
      }
    }
  }

  it('cite no issue numbers', () => {
    expect(findings.issues).to.deep.equal([]);
  });

  it('name only files and folders the repository has', () => {
    expect(findings.paths).to.deep.equal([]);
  });
});
