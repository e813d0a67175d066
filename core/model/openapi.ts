/**
 * Converts the TypeBox model into Kubernetes structural OpenAPI v3 schemas (for CRDs and for the
 * aggregated API server's OpenAPI documents).
 */
import type { TSchema } from '@sinclair/typebox';
import { PRESERVE_UNKNOWN } from './schema.ts';

/** A plain JSON Schema object as Kubernetes stores it. */
export type OpenApiSchema = Record<string, unknown>;

/** Keywords Kubernetes' JSONSchemaProps understands; anything else is dropped. */
const KEPT = new Set([
  'type',
  'format',
  'description',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'enum',
  'required',
  'default',
  PRESERVE_UNKNOWN,
]);

/**
 * Returns the structural form of a TypeBox schema: unions of literals become `enum`, `const` becomes
 * a one-value `enum`, records become `additionalProperties`, closed objects lose
 * `additionalProperties: false` (the API server prunes unknown fields instead).
 */
export function toStructural(schema: TSchema | OpenApiSchema): OpenApiSchema {
  const s = schema as OpenApiSchema;
  if (Array.isArray(s.anyOf)) {
    const members = s.anyOf as OpenApiSchema[];
    if (members.every((m) => 'const' in m)) {
      const types = new Set(members.map((m) => typeof m.const));
      const out: OpenApiSchema =
        types.size === 1
          ? { type: typeof members[0]?.const, enum: members.map((m) => m.const) }
          : { 'x-kubernetes-int-or-string': true, enum: members.map((m) => m.const) };
      if (s.description) out.description = s.description;
      return out;
    }
    throw new Error('structural schemas support only unions of literals');
  }
  const out: OpenApiSchema = {};
  for (const [key, value] of Object.entries(s)) {
    if (KEPT.has(key)) out[key] = value;
  }
  if ('const' in s) {
    out.type = typeof s.const;
    out.enum = [s.const];
  }
  if (s.properties) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties as Record<string, OpenApiSchema>).map(([k, v]) => [k, toStructural(v)]),
    );
  }
  if (s.patternProperties) {
    const [value] = Object.values(s.patternProperties as Record<string, OpenApiSchema>);
    out.type = 'object';
    out.additionalProperties = toStructural(value as OpenApiSchema);
  }
  if (s.items) out.items = toStructural(s.items as OpenApiSchema);
  if (out[PRESERVE_UNKNOWN] && out.type === undefined) {
    // Free-form JSON of any type: structural schemas express it with preserve-unknown alone.
    delete out.type;
  }
  return out;
}
