/** Applies JSON patches (RFC 6902) and merge patches (RFC 7386) to a stored object. */
import fastJsonPatch from 'fast-json-patch';
import { SyncflowError } from '../../../core/errors.ts';

const { applyPatch, validate } = fastJsonPatch;

/** Patch formats the resource accepts, by Content-Type. */
export type PatchType = 'json' | 'merge';

/** The patch format of a Content-Type, or a 415 naming the ones supported. */
export function patchTypeOf(contentType: string | undefined): PatchType {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json-patch+json') return 'json';
  // Labels and annotations are plain maps, for which a strategic merge patch is a merge patch.
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') return 'merge';
  throw new SyncflowError(
    'UnsupportedMediaType',
    `patch type ${type || '(none)'} is not supported: use application/json-patch+json or application/merge-patch+json (server-side apply is not supported for executions)`,
  );
}

/** RFC 7386: objects merge recursively, `null` removes a member, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

/** Applies a patch to a copy of the object; malformed patches are 400, failed tests 422. */
export function applyObjectPatch(object: unknown, type: PatchType, patch: unknown): unknown {
  if (type === 'merge') {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new SyncflowError('BadRequest', 'a merge patch must be a JSON object');
    }
    return mergePatch(structuredClone(object), patch);
  }
  if (!Array.isArray(patch)) throw new SyncflowError('BadRequest', 'a JSON patch must be an array of operations');
  const document = structuredClone(object);
  const problem = validate(patch as never, document as never);
  if (problem) {
    throw new SyncflowError('BadRequest', `invalid JSON patch: ${problem.name} at operation ${problem.index ?? 0}: ${problem.message.split('\n')[0]}`);
  }
  try {
    return applyPatch(document as never, patch as never, false, false).newDocument;
  } catch (error) {
    throw new SyncflowError('InvalidInput', `the JSON patch could not be applied: ${(error as Error).message.split('\n')[0]}`);
  }
}
