/** Substitutes data into compiled values. Pure data lookup: nothing is evaluated as code. */
import type { CompiledValue } from './compiled-value.ts';
import type { PathSegment, TemplateRef } from './parser.ts';

/** Where template references find their values during one execution. */
export interface TemplateScope {
  input: unknown;
  /** The task's output; `null` for a skipped task, `undefined` when it has not produced one. */
  taskOutput(taskId: string): unknown;
  /** The secret's value, or `undefined` when it is not declared. */
  secret(name: string): string | undefined;
  /** In a map step's input: the current element and its position. */
  item?: unknown;
  index?: number;
}

/** Follows a path through JSON data; `undefined` when any step is missing. */
export function lookupPath(root: unknown, path: readonly PathSegment[]): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[segment];
    } else {
      if (Array.isArray(current) || !Object.hasOwn(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return current;
}

/** The value a reference points at in the scope (`undefined` when absent). */
export function resolveRef(ref: TemplateRef, scope: TemplateScope): unknown {
  switch (ref.source) {
    case 'input':
      return lookupPath(scope.input, ref.path);
    case 'task': {
      const output = scope.taskOutput(ref.taskId);
      return output === null ? null : lookupPath(output, ref.path);
    }
    case 'secret':
      return scope.secret(ref.name);
    case 'item':
      return lookupPath(scope.item, ref.path);
    case 'index':
      return scope.index;
  }
}

/** How a value is written inside a longer string: strings as-is, absent as empty, objects as JSON. */
export function stringifyForInterpolation(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Resolves a compiled value. An exact template keeps the JSON type of what it references; object
 * members whose value is absent are omitted, so optional inputs stay optional.
 */
export function resolveValue(value: CompiledValue, scope: TemplateScope): unknown {
  switch (value.kind) {
    case 'const':
      return value.value;
    case 'exact':
      return resolveRef(value.ref, scope);
    case 'interpolated': {
      let out = '';
      for (const part of value.parts) {
        out += typeof part === 'string' ? part : stringifyForInterpolation(resolveRef(part, scope));
      }
      return out;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, item] of value.entries) {
        const resolved = resolveValue(item, scope);
        if (resolved !== undefined) out[key] = resolved;
      }
      return out;
    }
    case 'array':
      return value.items.map((item) => resolveValue(item, scope) ?? null);
  }
}
