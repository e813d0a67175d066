#!/usr/bin/env node
// Entry point of the `syncflow` CLI (package.json `bin`). It runs the compiled build in dist/
// (`npm run build`, what the image runs) when that build was made from the sources as they are now
// (bin/build-stamp.js); otherwise the TypeScript sources through tsx, a development dependency, and
// says so when a build exists but is stale. It runs the sources under coverage (NODE_V8_COVERAGE,
// set by c8: the report measures the sources) and when SYNCFLOW_SOURCES=1 asks for them.
import { fileURLToPath } from 'node:url';
import { buildState } from './build-stamp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const state =
  process.env.NODE_V8_COVERAGE || process.env.SYNCFLOW_SOURCES === '1' ? 'sources asked' : buildState(root);

if (state === 'fresh') {
  await import('../dist/cli/bin.js');
} else {
  if (state === 'stale') {
    process.stderr.write(
      'syncflow: dist/ was built from other sources; running the sources through tsx (`npm run build` refreshes dist/)\n',
    );
  }
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    process.stderr.write(
      'syncflow: no up-to-date build in dist/, and tsx (a development dependency) is not installed: run `npm install` and `npm run build`\n',
    );
    process.exitCode = 2;
  }
  if (tsx) {
    tsx.register();
    await import('../cli/bin.ts');
  }
}
