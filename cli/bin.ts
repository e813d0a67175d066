/**
 * The `syncflow` command's entry point. Compiled, it is the image's entrypoint
 * (`node dist/cli/bin.js server`); from a checkout, bin/syncflow.js runs it through tsx.
 */
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
});
