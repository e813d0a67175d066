// Whether a compiled build (dist/, from hack/build.sh) was made from the sources as they are now.
//
// The fingerprint covers every file the build compiles or copies (the `include` folders of the
// tsconfig, without its test and testdata exclusions and docs), the tsconfigs and package.json: each
// file's path, size and modification time. hack/build.sh takes it before compiling (an edit during
// the build then reads as stale) and writes it to OUT/build-stamp.json; bin/syncflow.js runs dist/
// only while the fingerprint is the same. Any edit, added or deleted file, checkout or pull changes
// it. Plain JavaScript: it runs before any TypeScript loader, in a few ms for the whole tree.
//
//   node bin/build-stamp.js print [TSCONFIG]   (hack/build.sh)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** File name of the stamp inside the build's output folder. */
const STAMP = 'build-stamp.json';

// The tsconfig excludes, as names: `**/*.test.ts` (a suffix) and `**/testdata`, `**/.cache`,
// `node_modules` (folders). A pattern of another form is not understood and makes the check fail
// safe (nothing excluded: a test edit then reads as stale). Markdown is documentation, never built.
function exclusions(patterns) {
  const suffixes = ['.md'];
  const folders = new Set(['node_modules']);
  for (const pattern of patterns) {
    const name = pattern.replace(/^\*\*\//, '');
    if (/^\*\.[\w.]+$/.test(name)) suffixes.push(name.slice(1));
    else if (/^[\w.-]+$/.test(name)) folders.add(name);
  }
  return { suffixes, folders };
}

function walk(root, folder, skip, out) {
  for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!skip.folders.has(entry.name)) walk(root, path, skip, out);
    } else if (!skip.suffixes.some((suffix) => entry.name.endsWith(suffix))) {
      out.push(path);
    }
  }
}

/** The fingerprint of the sources a build with `tsconfig` (relative to `root`) compiles. */
function sourceFingerprint(root, tsconfig = 'tsconfig.build.json') {
  const configs = [tsconfig];
  let include = [];
  let exclude = [];
  // Follow `extends` for the include and exclude lists, as tsc does (the nearest one wins).
  for (let name = tsconfig; name;) {
    const config = JSON.parse(readFileSync(join(root, name), 'utf8'));
    if (include.length === 0 && config.include) include = config.include;
    if (exclude.length === 0 && config.exclude) exclude = config.exclude;
    name = config.extends ? config.extends.replace(/^\.\//, '') : undefined;
    if (name) configs.push(name);
  }
  const files = [...configs, 'package.json'];
  const skip = exclusions(exclude);
  for (const entry of include) {
    if (statSync(join(root, entry)).isDirectory()) walk(root, entry, skip, files);
    else files.push(entry);
  }
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    const info = statSync(join(root, file));
    hash.update(`${file}\0${info.size}\0${info.mtimeMs}\n`);
  }
  return { tsconfig, files: files.length, sha256: hash.digest('hex') };
}

/** `fresh`, `stale` (a build from other sources, or an unreadable stamp) or `missing` (no build). */
export function buildState(root, out = 'dist') {
  try {
    statSync(join(root, out, 'cli', 'bin.js'));
  } catch {
    return 'missing';
  }
  try {
    const stamp = JSON.parse(readFileSync(join(root, out, STAMP), 'utf8'));
    return stamp.sha256 === sourceFingerprint(root).sha256 ? 'fresh' : 'stale';
  } catch {
    return 'stale';
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, tsconfig] = process.argv.slice(2);
  if (command !== 'print') {
    process.stderr.write('usage: node bin/build-stamp.js print [TSCONFIG]\n');
    process.exitCode = 2;
  } else {
    const root = fileURLToPath(new URL('..', import.meta.url));
    process.stdout.write(`${JSON.stringify(sourceFingerprint(root, tsconfig))}\n`);
  }
}
