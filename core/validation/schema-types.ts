/**
 * Static reasoning over user JSON Schemas: what schema sits at a data path, and whether a value
 * described by one schema is acceptable where another is expected.
 */
import type { PathSegment } from '../template/parser.ts';

/** A user JSON Schema as plain data. */
export type JsonSchema = Record<string, unknown>;

/** Where a path led inside a schema. */
export type SchemaLookup =
  | { found: true; schema: JsonSchema; optional: boolean }
  | { found: false; missing: PathSegment; at: number; candidates: string[] };

const ANY: JsonSchema = {};

function properties(schema: JsonSchema): Record<string, JsonSchema> {
  return (schema.properties as Record<string, JsonSchema> | undefined) ?? {};
}

function requiredOf(schema: JsonSchema): string[] {
  return Array.isArray(schema.required) ? (schema.required as string[]) : [];
}

/** The declared JSON types of a schema, or undefined when it accepts any type. */
export function typesOf(schema: JsonSchema): Set<string> | undefined {
  if (typeof schema.type === 'string') return new Set([schema.type]);
  if (Array.isArray(schema.type)) return new Set(schema.type as string[]);
  if ('const' in schema) return new Set([jsonTypeOf(schema.const)]);
  if (Array.isArray(schema.enum)) return new Set((schema.enum as unknown[]).map(jsonTypeOf));
  if (schema.properties) return new Set(['object']);
  if (schema.items) return new Set(['array']);
  return undefined;
}

/** JSON Schema type name of a JSON value (`integer` for whole numbers). */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Follows a data path through a schema's properties and items. */
export function schemaAt(root: JsonSchema, path: readonly PathSegment[]): SchemaLookup {
  let schema = root;
  let optional = false;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as PathSegment;
    const types = typesOf(schema);
    if (typeof segment === 'number') {
      if (types && !types.has('array')) return { found: false, missing: segment, at: i, candidates: [] };
      schema = (schema.items as JsonSchema | undefined) ?? ANY;
      optional = true; // an index may be out of range at run time
      continue;
    }
    if (types && !types.has('object')) return { found: false, missing: segment, at: i, candidates: [] };
    const props = properties(schema);
    if (Object.hasOwn(props, segment)) {
      if (!requiredOf(schema).includes(segment)) optional = true;
      schema = props[segment] as JsonSchema;
    } else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
      schema = schema.additionalProperties as JsonSchema;
      optional = true;
    } else if (schema.additionalProperties === false || Object.keys(props).length > 0) {
      // A schema that lists its properties documents the shape: an unlisted name is a typo.
      return { found: false, missing: segment, at: i, candidates: Object.keys(props) };
    } else {
      return { found: true, schema: ANY, optional: true };
    }
  }
  return { found: true, schema, optional };
}

/**
 * Why a value described by `source` may not satisfy `target`, or undefined when it always does
 * (as far as types, nested properties, required fields and array items tell).
 */
export function incompatibility(source: JsonSchema, target: JsonSchema, path = ''): string | undefined {
  const from = typesOf(source);
  const to = typesOf(target);
  if (to && from) {
    for (const type of from) {
      const accepted = to.has(type) || (type === 'integer' && to.has('number'));
      if (!accepted) {
        return `${path ? `${path}: ` : ''}expects ${[...to].join(' or ')}, got ${[...from].join(' or ')}`;
      }
    }
  }
  if (to?.has('object') && from?.has('object')) {
    const sourceProps = properties(source);
    const sourceRequired = requiredOf(source);
    for (const name of requiredOf(target)) {
      if (!sourceRequired.includes(name)) {
        const where = path ? `${path}.${name}` : name;
        return Object.hasOwn(sourceProps, name)
          ? `${where} is required but optional in the source`
          : `${where} is required but absent from the source`;
      }
    }
    for (const [name, targetProp] of Object.entries(properties(target))) {
      const sourceProp = sourceProps[name];
      if (!sourceProp) continue;
      const reason = incompatibility(sourceProp, targetProp, path ? `${path}.${name}` : name);
      if (reason) return reason;
    }
  }
  if (to?.has('array') && from?.has('array') && source.items && target.items) {
    return incompatibility(source.items as JsonSchema, target.items as JsonSchema, `${path}[]`);
  }
  return undefined;
}

/** Names of the properties a schema lists. */
export function propertyNames(schema: JsonSchema): string[] {
  return Object.keys(properties(schema));
}

/** Properties a schema requires. */
export function requiredProperties(schema: JsonSchema): string[] {
  return requiredOf(schema);
}

/** True when the schema forbids properties it does not list. */
export function isClosed(schema: JsonSchema): boolean {
  return schema.additionalProperties === false;
}
