#!/usr/bin/env node
// Entry point for the `syncflow` CLI: runs the TypeScript sources through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
});
