/**
 * The `syncflow` command's entry point. Compiled, it is the image's entrypoint
 * (`node dist/cli/bin.js server`); from a checkout, bin/syncflow.js runs the compiled build when it
 * is up to date, else this file through tsx.
 */
import { setFlagsFromString } from 'node:v8';
import { main } from './main.ts';

// `when` expressions may use regular expressions; CEL means RE2 (linear time), V8's engine
// backtracks. Past a backtracking budget V8 then reruns the match on its linear-time engine, so no
// pattern and input can hold the process (the static checks in core/condition.ts refuse the worst
// patterns at admission; polynomial ones like `a*a*b` pass them). Set before any pattern compiles.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const [command] = process.argv.slice(2);
if (command !== 'server') {
  // A one-shot command makes a few HTTP calls at most. With V8's default tiering, the TurboFan
  // compilation of undici's llhttp WebAssembly continues in the background and the process waits
  // for it before exiting: 100-250 ms of a `syncflow run` here (bench/README.md, CLI). Liftoff's
  // code parses a handful of responses just as well. The long-running server keeps the default.
  setFlagsFromString('--liftoff-only');
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  // A getter: creating process.stdin costs start-up time that only `run --step` needs.
  get stdin() {
    return process.stdin;
  },
});
