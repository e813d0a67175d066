/** What the tests and benchmarks read of the image's Dockerfile. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './controlplane.ts';

/** The Dockerfile's text. */
export function dockerfileText(): string {
  return readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
}

/** The image's ENTRYPOINT from the Dockerfile (exec form). */
export function dockerEntrypoint(): string[] {
  const lines = [...dockerfileText().matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)];
  const last = lines.at(-1)?.[1];
  if (last === undefined) throw new Error('Dockerfile has no exec-form ENTRYPOINT');
  return JSON.parse(last) as string[];
}

/** The Node major of the image's runtime stage (the last FROM, e.g. distroless `nodejs24`). */
export function dockerNodeMajor(): number {
  const from = [...dockerfileText().matchAll(/^FROM\s+(\S+)/gm)].at(-1)?.[1] ?? '';
  const major = /node(?:js)?:?(\d+)/.exec(from)?.[1];
  if (major === undefined)
    throw new Error(`Dockerfile: cannot tell the Node major of the runtime image "${from}"`);
  return Number(major);
}
