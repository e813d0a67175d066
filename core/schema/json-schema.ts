/**
 * JSON Schema compilation for user schemas (inputSchema/outputSchema), strict ajv, cached by
 * content so that identical schemas are compiled once per process.
 */
import { Ajv, type CodeOptions, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from '../errors.ts';
import { PRESERVE_UNKNOWN } from '../model/literals.ts';

// ajv-formats ships CommonJS; its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Builds a strict ajv instance that knows the Kubernetes extension keywords. `code` is for
 * hack/generate-validators.ts, which emits standalone validators with the same options.
 */
export function createAjv(options: { allErrors?: boolean; code?: CodeOptions } = {}): Ajv {
  const ajv = new Ajv({
    strict: true,
    allErrors: options.allErrors ?? true,
    allowUnionTypes: true,
    ...(options.code ? { code: options.code } : {}),
  });
  addFormats(ajv);
  for (const keyword of [PRESERVE_UNKNOWN, 'x-kubernetes-int-or-string', 'x-kubernetes-list-type']) {
    ajv.addKeyword({ keyword });
  }
  return ajv;
}

/** A compiled user schema and the source it came from. */
export interface CompiledSchema {
  source: Record<string, unknown>;
  validate: ValidateFunction;
}

// Created on first use: `syncflow validate` of documents without JSON Schemas never needs it.
let userSchemaAjv: Ajv | undefined;
const cache = new Map<string, CompiledSchema | Error>();
const CACHE_LIMIT = 5_000;

/** Compiles a user JSON Schema; returns the ajv error message when the schema is invalid. */
export function compileJsonSchema(schema: Record<string, unknown>): CompiledSchema | Error {
  const key = JSON.stringify(schema);
  const cached = cache.get(key);
  if (cached) return cached;
  let result: CompiledSchema | Error;
  try {
    result = { source: schema, validate: (userSchemaAjv ??= createAjv()).compile(schema) };
  } catch (error) {
    result = error instanceof Error ? error : new Error(String(error));
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, result);
  return result;
}

/** Converts ajv errors into field errors under a base path (e.g. `spec.input`). */
export function schemaErrorsToFieldErrors(
  errors: readonly ErrorObject[] | null | undefined,
  base: string,
  code: FieldError['code'],
): FieldError[] {
  return (errors ?? []).map((e) => {
    let field = base + pointerToPath(e.instancePath);
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      field += `.${String((e.params as { missingProperty: string }).missingProperty)}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      field += `.${String((e.params as { additionalProperty: string }).additionalProperty)}`;
      message = 'is not a known field';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return { code, field, message };
  });
}

/** `/items/0/id` → `.items[0].id`. */
export function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) =>
      /^[0-9]+$/.test(p) ? `[${p}]` : /^[A-Za-z0-9_-]+$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`,
    )
    .join('');
}
