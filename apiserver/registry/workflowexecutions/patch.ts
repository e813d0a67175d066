/** Applies JSON patches (RFC 6902) and merge patches (RFC 7386) to a stored object. */
import fastJsonPatch from 'fast-json-patch';
import { SyncflowError, type FieldError } from '../../../core/errors.ts';

const { applyPatch, validate } = fastJsonPatch;

/** Patch formats the resource accepts, by Content-Type. */
export type PatchType = 'json' | 'merge';

/** The patch format of a Content-Type, or a 415 naming the ones supported. */
export function patchTypeOf(contentType: string | undefined): PatchType {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json-patch+json') return 'json';
  // Labels and annotations are plain maps, for which a strategic merge patch is a merge patch.
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json')
    return 'merge';
  throw new SyncflowError(
    'UnsupportedMediaType',
    `patch type ${type || '(none)'} is not supported: use application/json-patch+json or application/merge-patch+json (server-side apply is not supported for executions)`,
  );
}

/** RFC 7386: objects merge recursively, `null` removes a member, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

/**
 * Names that reach an object's prototype rather than its own members. No field of an execution
 * has one of these names (`__proto__` is not even a valid label key), so a patch naming one is
 * refused wherever it appears, in every patch format, before the patch library sees it.
 */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function prototypeKeyError(field: string, key: string): FieldError {
  return {
    code: 'FieldInvalid',
    field,
    message: `\`${key}\` names a JavaScript prototype member, not a field of a WorkflowExecution`,
    suggestion:
      'patch only metadata.labels and metadata.annotations, with keys other than __proto__, constructor and prototype',
  };
}

/** The decoded segments of a JSON pointer (RFC 6901: `~1` is `/`, `~0` is `~`). */
function pointerSegments(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Field errors for every JSON patch operation whose `path` or `from` names a prototype key. */
function jsonPatchPrototypeErrors(operations: readonly unknown[]): FieldError[] {
  const errors: FieldError[] = [];
  operations.forEach((operation, index) => {
    if (operation === null || typeof operation !== 'object') return;
    for (const member of ['path', 'from'] as const) {
      const pointer = (operation as Record<string, unknown>)[member];
      if (typeof pointer !== 'string') continue;
      const key = pointerSegments(pointer).find((segment) => PROTOTYPE_KEYS.has(segment));
      if (key !== undefined) errors.push(prototypeKeyError(`patch[${index}].${member}`, key));
    }
  });
  return errors;
}

/** Field errors for every member of a merge patch, at any depth, named by a prototype key (iterative walk). */
function mergePatchPrototypeErrors(patch: object): FieldError[] {
  const errors: FieldError[] = [];
  const stack: { value: object; at: string }[] = [{ value: patch, at: '' }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    for (const [key, value] of Object.entries(next.value)) {
      const field = next.at ? `${next.at}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key)) errors.push(prototypeKeyError(field, key));
      else if (value !== null && typeof value === 'object' && !Array.isArray(value))
        stack.push({ value, at: field });
    }
  }
  return errors;
}

function refusePrototypeKeys(errors: FieldError[]): void {
  if (errors.length > 0) {
    throw new SyncflowError(
      'InvalidInput',
      'the patch names a JavaScript prototype member (__proto__, constructor or prototype); only labels and annotations can be patched',
      { causes: errors },
    );
  }
}

/** Applies a patch to a copy of the object; malformed patches are 400, failed tests and prototype keys 422. */
export function applyObjectPatch(object: unknown, type: PatchType, patch: unknown): unknown {
  if (type === 'merge') {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new SyncflowError('BadRequest', 'a merge patch must be a JSON object');
    }
    refusePrototypeKeys(mergePatchPrototypeErrors(patch));
    return mergePatch(structuredClone(object), patch);
  }
  if (!Array.isArray(patch))
    throw new SyncflowError('BadRequest', 'a JSON patch must be an array of operations');
  refusePrototypeKeys(jsonPatchPrototypeErrors(patch));
  const document = structuredClone(object);
  const problem = validate(patch as never, document as never);
  if (problem) {
    throw new SyncflowError(
      'BadRequest',
      `invalid JSON patch: ${problem.name} at operation ${problem.index ?? 0}: ${problem.message.split('\n')[0]}`,
    );
  }
  try {
    return applyPatch(document as never, patch as never, false, false).newDocument;
  } catch (error) {
    throw new SyncflowError(
      'InvalidInput',
      `the JSON patch could not be applied: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}
