/**
 * The `syncflow` command's entry point. Compiled, it is the image's entrypoint
 * (`node dist/cli/bin.js server`); from a checkout, bin/syncflow.js runs it through tsx.
 */
import { setFlagsFromString } from 'node:v8';
import { main } from './main.ts';

// `when` expressions may use regular expressions; CEL means RE2 (linear time), V8's engine
// backtracks. Past a backtracking budget V8 then reruns the match on its linear-time engine, so no
// pattern and input can hold the process (the static checks in core/condition.ts refuse the worst
// patterns at admission; polynomial ones like `a*a*b` pass them). Set before any pattern compiles.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
});
