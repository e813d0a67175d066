/**
 * Server-side field validation (`?fieldValidation=Strict|Warn|Ignore`), worded as kube-apiserver
 * words it: which fields of a request body an OpenAPI v3 schema does not know, and what each
 * directive makes of them. The schemas come from the caller (openapi.ts binds our document's).
 */
import type { OpenApiSchema } from '../../core/model/openapi.ts';
import { PRESERVE_UNKNOWN } from '../../core/model/schema.ts';

const V3_REF = '#/components/schemas/';

/** The three directives of `?fieldValidation=`. */
export type FieldValidationDirective = 'Strict' | 'Warn' | 'Ignore';

/**
 * Parses `?fieldValidation=`: absent or empty means Warn (kube's default since 1.27); anything other
 * than the three directives returns `undefined`, which the caller rejects.
 */
export function parseFieldValidation(value: string | undefined): FieldValidationDirective | undefined {
  if (value === undefined || value === '') return 'Warn';
  return value === 'Strict' || value === 'Warn' || value === 'Ignore' ? value : undefined;
}

/** Result of checking a request body for fields the schema does not know. */
export interface FieldValidationResult {
  /** Paths of unknown fields in document order, kube-style: `spec.foo`, `status.tasks[0].bar`. */
  unknown: string[];
}

function resolve(schema: OpenApiSchema, components: Readonly<Record<string, OpenApiSchema>>): OpenApiSchema {
  let s = schema;
  for (let depth = 0; depth < 8; depth++) {
    const allOf = s.allOf as OpenApiSchema[] | undefined;
    const target =
      typeof s.$ref === 'string'
        ? s.$ref
        : allOf?.length === 1
          ? (allOf[0]?.$ref as string | undefined)
          : undefined;
    if (!target) return s;
    s = components[target.replace(V3_REF, '')] ?? {};
  }
  return s;
}

function collectUnknown(
  value: unknown,
  schema: OpenApiSchema,
  path: string,
  components: Readonly<Record<string, OpenApiSchema>>,
  out: string[],
): void {
  const s = resolve(schema, components);
  if (s[PRESERVE_UNKNOWN] === true || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const items = s.items as OpenApiSchema | undefined;
    if (items) value.forEach((item, i) => collectUnknown(item, items, `${path}[${i}]`, components, out));
    return;
  }
  const properties = s.properties as Record<string, OpenApiSchema> | undefined;
  const additional = s.additionalProperties as OpenApiSchema | boolean | undefined;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const childPath = path ? `${path}.${key}` : key;
    const known =
      properties && Object.prototype.hasOwnProperty.call(properties, key) ? properties[key] : undefined;
    if (known) collectUnknown(child, known, childPath, components, out);
    else if (typeof additional === 'object') collectUnknown(child, additional, childPath, components, out);
    // Objects without properties (FieldsV1, Patch, RawExtension) accept anything.
    else if (properties && additional !== true) out.push(childPath);
  }
}

/**
 * Names the fields of `body` that `schema` does not know, following `$ref`s (plain or wrapped in a
 * one-element `allOf`, as kube-openapi writes them) into `schemas`, the document's
 * `components.schemas`. Values under `x-kubernetes-preserve-unknown-fields`, `additionalProperties:
 * true` or a schema without properties are free-form; wrong types are not unknown fields.
 */
export function unknownFields(
  body: unknown,
  schema: OpenApiSchema,
  schemas: Readonly<Record<string, OpenApiSchema>>,
): FieldValidationResult {
  const unknown: string[] = [];
  collectUnknown(body, schema, '', schemas, unknown);
  return { unknown };
}

/** `unknown field "spec.foo"`, the text kube-apiserver uses for one unknown field. */
export function unknownFieldMessage(path: string): string {
  return `unknown field ${JSON.stringify(path)}`;
}

/**
 * The Warning header value kube sends for one problem: `299 - "<text>"`, with `"` and `\` escaped.
 * Returns `undefined` where kube would drop the warning (control characters) or Node could not send
 * it (characters outside Latin-1).
 */
export function warningHeaderValue(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return undefined;
  const value = `299 - "${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return /[^\u0020-\u00ff]/.test(value) ? undefined : value;
}

/** What the handler does with unknown fields under a directive. */
export interface FieldValidationOutcome {
  /** Set under Strict when there are unknown fields: answer `400 BadRequest` with this message. */
  badRequest?: { code: 400; reason: 'BadRequest'; message: string };
  /** Under Warn: one `Warning` header value per unknown field. */
  warnings: string[];
}

/**
 * Applies a directive to unknown fields, worded as kube-apiserver: Strict fails with
 * `WorkflowExecution in version "v1alpha1" cannot be handled as a WorkflowExecution: strict decoding
 * error: unknown field "spec.foo", unknown field "spec.bar"` (400 BadRequest); Warn adds
 * `299 - "unknown field \"spec.foo\""` per field; Ignore does nothing. `bodyKind`/`bodyVersion` are
 * the kind and version the body declared (kube names them in the message).
 */
export function fieldValidationOutcome(
  directive: FieldValidationDirective,
  result: FieldValidationResult,
  declared: { kind: string; version: string; into?: string },
): FieldValidationOutcome {
  if (result.unknown.length === 0 || directive === 'Ignore') return { warnings: [] };
  const messages = result.unknown.map(unknownFieldMessage);
  if (directive === 'Warn') {
    return { warnings: messages.map(warningHeaderValue).filter((w): w is string => w !== undefined) };
  }
  const into = declared.into ?? declared.kind;
  return {
    badRequest: {
      code: 400,
      reason: 'BadRequest',
      message: `${declared.kind} in version ${JSON.stringify(declared.version)} cannot be handled as a ${into}: strict decoding error: ${messages.join(', ')}`,
    },
    warnings: [],
  };
}
