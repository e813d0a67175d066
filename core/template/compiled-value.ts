/**
 * JSON values with templates inside, compiled once (every string parsed) so that the hot path only
 * walks a tree and looks values up.
 */
import {
  formatPath,
  parseTemplate,
  TemplateSyntaxError,
  type PathSegment,
  type TemplateRef,
} from './parser.ts';

/** A JSON value whose strings have been parsed for templates. */
export type CompiledValue =
  | { kind: 'const'; value: unknown }
  | { kind: 'exact'; ref: TemplateRef }
  | { kind: 'interpolated'; parts: Array<string | TemplateRef> }
  | { kind: 'object'; entries: Array<[string, CompiledValue]> }
  | { kind: 'array'; items: CompiledValue[] };

/** A template reference found in a value, with where it was found. */
export interface LocatedRef {
  ref: TemplateRef;
  /** Path within the compiled value (e.g. `['email']` for `input.email`). */
  at: PathSegment[];
  /** True when the whole string is the template, so the referenced JSON type is preserved. */
  exact: boolean;
}

/** A syntax error found while compiling, with where it was found. */
export interface LocatedSyntaxError {
  at: PathSegment[];
  error: TemplateSyntaxError;
}

/** Result of compiling: the value plus every syntax error (compilation never stops at the first). */
export interface CompileResult {
  value: CompiledValue;
  errors: LocatedSyntaxError[];
}

/** Compiles a JSON value; malformed template strings are reported and kept as constants. */
export function compileValue(value: unknown): CompileResult {
  const errors: LocatedSyntaxError[] = [];
  const compiled = compileAt(value, [], errors);
  return { value: compiled, errors };
}

function compileAt(value: unknown, at: PathSegment[], errors: LocatedSyntaxError[]): CompiledValue {
  if (typeof value === 'string') {
    try {
      const parsed = parseTemplate(value);
      if (parsed.kind === 'literal') return { kind: 'const', value };
      return parsed;
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      errors.push({ at, error });
      return { kind: 'const', value };
    }
  }
  if (Array.isArray(value)) {
    const items = value.map((item, index) => compileAt(item, [...at, index], errors));
    return items.every((item) => item.kind === 'const') ? { kind: 'const', value } : { kind: 'array', items };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(
      ([key, item]) => [key, compileAt(item, [...at, key], errors)] as [string, CompiledValue],
    );
    return entries.every(([, item]) => item.kind === 'const')
      ? { kind: 'const', value }
      : { kind: 'object', entries };
  }
  return { kind: 'const', value };
}

/** Every template reference inside a compiled value, in document order. */
export function collectRefs(
  value: CompiledValue,
  at: PathSegment[] = [],
  out: LocatedRef[] = [],
): LocatedRef[] {
  switch (value.kind) {
    case 'exact':
      out.push({ ref: value.ref, at, exact: true });
      break;
    case 'interpolated':
      for (const part of value.parts) if (typeof part !== 'string') out.push({ ref: part, at, exact: false });
      break;
    case 'object':
      for (const [key, item] of value.entries) collectRefs(item, [...at, key], out);
      break;
    case 'array':
      value.items.forEach((item, index) => collectRefs(item, [...at, index], out));
      break;
    case 'const':
      break;
  }
  return out;
}

/** Ids of the tasks a compiled value reads from, in first-seen order. */
export function referencedTasks(value: CompiledValue): string[] {
  const ids = new Set<string>();
  for (const { ref } of collectRefs(value)) if (ref.source === 'task') ids.add(ref.taskId);
  return [...ids];
}

/** Joins a base field path with a path inside a value: `spec.tasks[1].input` + `['email']`. */
export function joinField(base: string, at: readonly PathSegment[]): string {
  if (at.length === 0) return base;
  const rest = formatPath(at);
  return rest.startsWith('[') ? `${base}${rest}` : `${base}.${rest}`;
}
