/**
 * Swagger 2.0 derived from an OpenAPI 3.0 document, for `/openapi/v2`: the v3 document is the one
 * source (paths are rendered once, as v3), and this conversion is all v2 adds. It covers what
 * kube-style documents use: parameters with a `schema`, a request body, response `content`,
 * `allOf`-wrapped `$ref`s and `nullable`.
 */
import type { OpenApiSchema } from '../../core/model/openapi.ts';

const V3_REF = '#/components/schemas/';
const V2_REF = '#/definitions/';
const OPERATIONS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch']);

/** The parts of an OpenAPI 3.0 document the conversion reads. */
export interface OpenApiV3Document {
  openapi: string;
  info: OpenApiSchema;
  paths: Record<string, OpenApiSchema>;
  components: { schemas: Readonly<Record<string, OpenApiSchema>>; securitySchemes?: OpenApiSchema };
  security?: unknown[];
}

/**
 * Converts a v3 schema to swagger 2.0: `#/components/schemas/` refs become `#/definitions/`, an
 * `allOf` wrapping a single `$ref` becomes the `$ref` itself (as kube's v2 writes it), and `nullable`
 * (not part of swagger 2.0) is dropped.
 */
export function toV2Schema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toV2Schema);
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as OpenApiSchema;
  const out: OpenApiSchema = {};
  const allOf = s.allOf as OpenApiSchema[] | undefined;
  if (allOf?.length === 1 && typeof allOf[0]?.$ref === 'string') {
    out.$ref = (allOf[0].$ref as string).replace(V3_REF, V2_REF);
  }
  for (const [key, value] of Object.entries(s)) {
    if (key === 'nullable' || (key === 'allOf' && out.$ref)) continue;
    if (key === '$ref' && typeof value === 'string') out.$ref = value.replace(V3_REF, V2_REF);
    // Property names are data, not keywords: recurse into their schemas only.
    else if (key === 'properties' || key === 'definitions') out[key] = mapValues(value, toV2Schema);
    else if (typeof value === 'object' && key !== 'enum' && key !== 'default' && key !== 'example') {
      out[key] = toV2Schema(value);
    } else out[key] = value;
  }
  return out;
}

function mapValues(record: unknown, f: (value: OpenApiSchema) => unknown): OpenApiSchema {
  return Object.fromEntries(
    Object.entries(record as OpenApiSchema).map(([k, v]) => [k, f(v as OpenApiSchema)]),
  );
}

/** A v3 parameter in v2 form: its `schema` keywords (type, uniqueItems) move onto the parameter. */
function toV2Parameter(parameter: OpenApiSchema): OpenApiSchema {
  const { schema, ...rest } = parameter;
  return { ...rest, ...(toV2Schema(schema ?? {}) as OpenApiSchema) };
}

type Content = Record<string, { schema?: unknown }>;

/**
 * A v3 operation in v2 form: the request body becomes a leading `body` parameter and its content
 * types `consumes` (any type when there is no body, as kube writes it); response schemas leave `content`, whose
 * types become `produces`.
 */
function toV2Operation(operation: OpenApiSchema): OpenApiSchema {
  const { requestBody, parameters, responses, ...rest } = operation;
  const body = requestBody as { content: Content; required?: boolean } | undefined;
  const v2Parameters = ((parameters as OpenApiSchema[] | undefined) ?? []).map(toV2Parameter);
  if (body) {
    v2Parameters.unshift({
      name: 'body',
      in: 'body',
      ...(body.required ? { required: true } : {}),
      schema: toV2Schema(Object.values(body.content)[0]?.schema ?? {}),
    });
  }
  const produces = new Set<string>();
  const v2Responses = mapValues(responses ?? {}, (response) => {
    const { content, ...kept } = response as { content?: Content };
    if (!content) return kept;
    for (const type of Object.keys(content)) produces.add(type);
    const schema = Object.values(content)[0]?.schema;
    return schema === undefined ? kept : { ...kept, schema: toV2Schema(schema) };
  });
  return {
    ...rest,
    consumes: body ? Object.keys(body.content) : ['*/*'],
    produces: produces.size > 0 ? [...produces] : ['application/json'],
    schemes: ['https'],
    ...(v2Parameters.length > 0 ? { parameters: v2Parameters } : {}),
    responses: v2Responses,
  };
}

function toV2PathItem(item: OpenApiSchema): OpenApiSchema {
  const out: OpenApiSchema = {};
  for (const [key, value] of Object.entries(item)) {
    if (key === 'parameters') out[key] = (value as OpenApiSchema[]).map(toV2Parameter);
    else if (OPERATIONS.has(key)) out[key] = toV2Operation(value as OpenApiSchema);
    else out[key] = value;
  }
  return out;
}

/**
 * The swagger 2.0 document of a v3 document. Copies of Kubernetes' own types (`io.k8s.*`) lose their
 * GVK extensions: the aggregator merges our v2 into the cluster's, keeping a copy that differs from
 * kube's under a renamed key (`…Status_v2`), and a second definition claiming `v1 Status` would make
 * kubectl's GVK → model lookup ambiguous. In v3 (proxied, not merged) they keep them, as kube's own
 * per-group documents do.
 */
export function toV2Document(v3: OpenApiV3Document): object {
  const definitions = mapValues(v3.components.schemas, toV2Schema) as Record<string, OpenApiSchema>;
  for (const [name, definition] of Object.entries(definitions)) {
    if (name.startsWith('io.k8s.')) delete definition['x-kubernetes-group-version-kind'];
  }
  return {
    swagger: '2.0',
    info: v3.info,
    paths: mapValues(v3.paths, toV2PathItem),
    definitions,
    ...(v3.components.securitySchemes ? { securityDefinitions: v3.components.securitySchemes } : {}),
    ...(v3.security ? { security: v3.security } : {}),
  };
}
