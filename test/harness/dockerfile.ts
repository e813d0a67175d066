/** What the tests and benchmarks read of the image's Dockerfile. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './controlplane.ts';

/** The image's ENTRYPOINT from the Dockerfile (exec form). */
export function dockerEntrypoint(): string[] {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const lines = [...dockerfile.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)];
  const last = lines.at(-1)?.[1];
  if (last === undefined) throw new Error('Dockerfile has no exec-form ENTRYPOINT');
  return JSON.parse(last) as string[];
}
