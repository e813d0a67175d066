#!/usr/bin/env node
// Entry point for the `syncflow` CLI from a checkout: runs the TypeScript sources through tsx's ESM
// loader. The image runs the compiled dist/cli/bin.js instead (`npm run build`).
import { register } from 'tsx/esm/api';

register();
await import('../cli/bin.ts');
