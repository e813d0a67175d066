// Preloaded by bench/cli/run.ts (`node --import bench/cli/module-count.mjs ...`): prints every module
// the process loads to stderr as `module-count: URL` (ESM through a loader hook, CommonJS through
// the require cache at exit).
import Module, { register } from 'node:module';
import process from 'node:process';

const hook = `export async function load(url, context, next) {
  process.stderr.write('module-count: ' + url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
process.on('exit', () => {
  for (const file of Object.keys(Module._cache)) process.stderr.write(`module-count: ${file}\n`);
});
