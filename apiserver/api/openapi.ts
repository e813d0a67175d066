/**
 * OpenAPI documents of `execution.syncflow.io/v1alpha1`, built once from the TypeBox model:
 *
 * - `/openapi/v2` (swagger 2.0). kube-apiserver's aggregator downloads it (Accept application/json,
 *   If-None-Match with our ETag), keeps only paths under `/apis/`, and merges it into the cluster's
 *   `/openapi/v2`. Definitions with a name kube already has but different content are renamed
 *   (`…_v2`) and our `$ref`s rewritten, so merging is safe either way.
 * - `/openapi/v3` (index) and `/openapi/v3/apis/execution.syncflow.io/v1alpha1` (document). The
 *   aggregator reads only our index and then *proxies* each `GET /openapi/v3/apis/<group>/<version>`
 *   to us verbatim: nothing is merged, so the v3 document must be self-contained.
 *
 * Decision: both documents are self-contained. They carry their own copies of the
 * `io.k8s.apimachinery.pkg.apis.meta.v1.*` definitions they reference (ObjectMeta, ListMeta, Status,
 * DeleteOptions, Patch, …) under kube's names, so v3 clients (`kubectl explain`, kubectl's
 * fieldValidation support check) resolve every `$ref` within our document, and the v2 merge either
 * de-duplicates them or renames ours harmlessly. Those copies are Kubernetes' own, generated from the
 * OpenAPI the pinned release publishes (generated/meta-v1.ts, by hack/generate-openapi.ts).
 *
 * Paths are rendered once, as v3; the v2 document is derived from the v3 one (openapi-v2.ts).
 *
 * kubectl decides whether the server validates fields itself by finding, in the v3 document, the PATCH
 * operation whose `x-kubernetes-group-version-kind` is the object's kind and checking that it lists a
 * `fieldValidation` parameter; without it kubectl falls back to client-side validation with v2.
 */
import type { TSchema } from '@sinclair/typebox';
import { toStructural, type OpenApiSchema } from '../../core/model/openapi.ts';
import { WorkflowExecutionSpec, WorkflowExecutionStatus } from '../../core/model/schema.ts';
import { EXECUTION_GROUP, VERSION } from '../../core/model/resources.ts';
import { cacheDocument, sha512Hex, EXECUTION_RESOURCES, type ResourceDescription } from './discovery.ts';
import { unknownFields, type FieldValidationResult } from './field-validation.ts';
import { META_V1_SCHEMAS } from './generated/meta-v1.ts';
import { toV2Document, type OpenApiV3Document } from './openapi-v2.ts';
import { WorkflowRevision } from '../../core/model/revision.ts';

// Kept here for the callers that import field validation from this module (the execution registry).
export { fieldValidationOutcome, parseFieldValidation } from './field-validation.ts';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
/** Definition name prefix: the reversed group, as kube names CRD and aggregated types. */
const PREFIX = `${EXECUTION_GROUP.split('.').reverse().join('.')}.${VERSION}`;

/** Definition name of one of our kinds, e.g. `io.syncflow.execution.v1alpha1.WorkflowExecution`. */
export function definitionName(kind: string): string {
  return `${PREFIX}.${kind}`;
}

const V3_REF = '#/components/schemas/';

/** A `$ref` as kube-openapi writes it in v3 properties: wrapped in allOf so siblings are honoured. */
function ref(name: string, extra: OpenApiSchema = {}): OpenApiSchema {
  return { allOf: [{ $ref: V3_REF + name }], ...extra };
}
const plainRef = (name: string): OpenApiSchema => ({ $ref: V3_REF + name });

const str = (description: string, extra: OpenApiSchema = {}): OpenApiSchema => ({
  type: 'string',
  description,
  ...extra,
});
const API_VERSION_DOC =
  'Versioned schema of this representation of an object; e.g. execution.syncflow.io/v1alpha1.';
const KIND_DOC = 'REST resource this object represents, in CamelCase.';
const typeMeta = (): Record<string, OpenApiSchema> => ({
  apiVersion: str(API_VERSION_DOC),
  kind: str(KIND_DOC),
});

const gvk = (kind: string) => ({ group: EXECUTION_GROUP, kind, version: VERSION });

/** The kind schema of a resource: TypeMeta, ObjectMeta reference, then the model's own fields. */
function kindSchema(
  kind: string,
  description: string,
  fields: Record<string, OpenApiSchema>,
  required: string[],
): OpenApiSchema {
  return {
    type: 'object',
    description,
    ...(required.length > 0 ? { required } : {}),
    properties: {
      ...typeMeta(),
      metadata: ref(`${META}.ObjectMeta`, { default: {}, description: 'Standard object metadata.' }),
      ...fields,
    },
    'x-kubernetes-group-version-kind': [gvk(kind)],
  };
}

function listSchema(resource: ResourceDescription): OpenApiSchema {
  return {
    type: 'object',
    description: `A list of ${resource.kind} objects.`,
    required: ['items'],
    properties: {
      ...typeMeta(),
      items: {
        type: 'array',
        description: `The ${resource.name}.`,
        items: ref(definitionName(resource.kind), { default: {} }),
      },
      metadata: ref(`${META}.ListMeta`, { default: {}, description: 'Standard list metadata.' }),
    },
    'x-kubernetes-group-version-kind': [gvk(resource.listKind)],
  };
}

/** Model fields of a TypeBox object, structural, without the ones TypeMeta and ObjectMeta cover. */
function modelFields(schema: TSchema): { fields: Record<string, OpenApiSchema>; required: string[] } {
  const structural = toStructural(schema);
  const fields = { ...(structural.properties as Record<string, OpenApiSchema>) };
  delete fields.apiVersion;
  delete fields.kind;
  delete fields.metadata;
  const required = ((structural.required as string[] | undefined) ?? []).filter(
    (name) => !['apiVersion', 'kind', 'metadata'].includes(name),
  );
  return { fields, required };
}

const text = (description: string): OpenApiSchema => ({ type: 'string', description });
const number = (type: 'integer' | 'number', description: string): OpenApiSchema => ({ type, description });

/** Fields of a CircuitBreaker (apiserver/registry/circuitbreakers/rest.ts). */
const CIRCUIT_BREAKER_FIELDS: Record<string, OpenApiSchema> = {
  origin: text('Scheme, host and port of the upstream.'),
  replica: text('The server replica (pod, and worker process with --workers) whose breaker this is.'),
  state: text('closed, open or half-open.'),
  failureRatio: number(
    'number',
    'Failed calls over calls in the current window (0 to 1); while open or half-open, the ratio that opened it.',
  ),
  requests: number('integer', 'Calls counted in the current window.'),
  openedAt: { type: 'string', format: 'date-time', description: 'When the circuit last opened.' },
  settings: {
    type: 'object',
    description: 'The breaker settings the tasks calling this origin declared.',
    properties: {
      failureRatio: number('number', 'Failure ratio that opens the circuit.'),
      minimumRequests: number('integer', 'Calls in the window before it may open.'),
      windowMs: number('integer', 'Length of the window.'),
      openForMs: number('integer', 'Time open before trial calls.'),
      halfOpenProbes: number('integer', 'Trial calls that must succeed to close it.'),
    },
  },
};

/** Every schema of the v3 document, by definition name. */
function schemas(): Record<string, OpenApiSchema> {
  const [executions, revisions, breakers] = EXECUTION_RESOURCES as [
    ResourceDescription,
    ResourceDescription,
    ResourceDescription,
  ];
  const revision = modelFields(WorkflowRevision);
  return {
    [definitionName(executions.kind)]: kindSchema(
      executions.kind,
      'A synchronous run of a Workflow. Creating one runs the workflow; the response carries its status.',
      { spec: toStructural(WorkflowExecutionSpec), status: toStructural(WorkflowExecutionStatus) },
      ['spec'],
    ),
    [definitionName(executions.listKind)]: listSchema(executions),
    [definitionName(revisions.kind)]: kindSchema(
      revisions.kind,
      String(WorkflowRevision.description),
      revision.fields,
      revision.required,
    ),
    [definitionName(revisions.listKind)]: listSchema(revisions),
    [definitionName(breakers.kind)]: kindSchema(
      breakers.kind,
      'The circuit breaker of one upstream origin on the replica that answered (read-only).',
      CIRCUIT_BREAKER_FIELDS,
      ['origin', 'state', 'replica'],
    ),
    [definitionName(breakers.listKind)]: listSchema(breakers),
    ...META_V1_SCHEMAS,
  };
}

// ---------------------------------------------------------------------------------------------------
// Paths. Operations are described once, then rendered as v3; openapi-v2.ts derives v2 from that.

type Action = 'get' | 'list' | 'create' | 'delete' | 'deletecollection' | 'patch';
type Method = 'get' | 'post' | 'delete' | 'patch';

interface Param {
  name: string;
  in: 'path' | 'query';
  type: 'string' | 'integer' | 'boolean';
  description: string;
  required?: boolean;
}

interface Operation {
  method: Method;
  action: Action;
  operationId: string;
  description: string;
  kind: string;
  params: Param[];
  /** Definition name of the request body and the content types it accepts. */
  body?: { definition: string; contentTypes: string[]; required: boolean };
  /** Status code → definition name of the response. */
  responses: Record<string, string>;
}

interface PathItem {
  path: string;
  params: Param[];
  operations: Operation[];
}

const q = (name: string, type: Param['type'], description: string): Param => ({
  name,
  in: 'query',
  type,
  description,
});

const PRETTY = q('pretty', 'string', "If 'true', the output is pretty printed.");
const DRY_RUN = q(
  'dryRun',
  'string',
  'All: process the request (validate, plan) without running it or persisting anything.',
);
const FIELD_MANAGER = q('fieldManager', 'string', 'Name of the actor making the change.');
const FIELD_VALIDATION = q(
  'fieldValidation',
  'string',
  'How the server treats unknown fields in the request body: Ignore drops them silently; Warn (the default) drops them and returns a Warning header for each; Strict fails the request with a BadRequest error listing them.',
);
const LIST_PARAMS: Param[] = [
  q('allowWatchBookmarks', 'boolean', 'Ask for BOOKMARK watch events.'),
  q('continue', 'string', 'Token from a previous limited list, to fetch the next page.'),
  q(
    'fieldSelector',
    'string',
    'Restricts the list by fields: spec.workflowRef.name, status.phase, metadata.name, metadata.namespace.',
  ),
  q('labelSelector', 'string', 'Restricts the list by labels.'),
  q('limit', 'integer', 'Maximum number of items to return; use continue for the rest.'),
  q(
    'resourceVersion',
    'string',
    'Version to list or watch from; see the Kubernetes resourceVersion semantics.',
  ),
  q('resourceVersionMatch', 'string', 'How resourceVersion applies to list calls: Exact or NotOlderThan.'),
  q(
    'sendInitialEvents',
    'boolean',
    "Streaming lists are not supported: refused with 422; list, then watch from the list's resourceVersion.",
  ),
  q('timeoutSeconds', 'integer', 'Timeout of the list or watch call.'),
  q('watch', 'boolean', 'Watch for changes and stream them as WatchEvents.'),
];
const DELETE_PARAMS: Param[] = [
  DRY_RUN,
  q('gracePeriodSeconds', 'integer', 'Accepted for compatibility; deletion is immediate.'),
  q('ignoreStoreReadErrorWithClusterBreakingPotential', 'boolean', 'Accepted for compatibility.'),
  q('orphanDependents', 'boolean', 'Deprecated: use propagationPolicy.'),
  q('propagationPolicy', 'string', 'Accepted for compatibility: Orphan, Background or Foreground.'),
];

const pathParam = (name: string, description: string): Param => ({
  name,
  in: 'path',
  type: 'string',
  description,
  required: true,
});
const NAMESPACE_PARAM = pathParam('namespace', 'object name and auth scope, such as for teams and projects');

function groupCamel(): string {
  const parts = EXECUTION_GROUP.split('.').map((p) => p.charAt(0).toUpperCase() + p.slice(1));
  return `${parts.join('')}${VERSION.charAt(0).toUpperCase()}${VERSION.slice(1)}`;
}

/** The paths of one resource: all-namespaces list, namespaced collection, and the named object. */
function resourcePaths(resource: ResourceDescription): PathItem[] {
  const id = groupCamel();
  const base = `/apis/${EXECUTION_GROUP}/${VERSION}`;
  const kind = resource.kind;
  const can = (verb: string) => resource.verbs.includes(verb);
  const json = ['application/json'];
  const listResponses = { '200': definitionName(resource.listKind) };
  const items: PathItem[] = [];

  if (can('list')) {
    items.push({
      path: `${base}/${resource.name}`,
      params: [PRETTY],
      operations: [
        {
          method: 'get',
          action: 'list',
          operationId: resource.namespaced ? `list${id}${kind}ForAllNamespaces` : `list${id}${kind}`,
          description: `list or watch objects of kind ${kind}`,
          kind,
          params: LIST_PARAMS,
          responses: listResponses,
        },
      ],
    });
  }

  // A cluster-scoped resource (circuitbreakers) has the one collection above.
  if (!resource.namespaced) return items;
  const collection: Operation[] = [];
  if (can('list')) {
    collection.push({
      method: 'get',
      action: 'list',
      operationId: `list${id}Namespaced${kind}`,
      description: `list or watch objects of kind ${kind}`,
      kind,
      params: LIST_PARAMS,
      responses: listResponses,
    });
  }
  if (can('create')) {
    collection.push({
      method: 'post',
      action: 'create',
      operationId: `create${id}Namespaced${kind}`,
      description: `create a ${kind}`,
      kind,
      params: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
      body: { definition: definitionName(kind), contentTypes: json, required: true },
      responses: { '200': definitionName(kind), '201': definitionName(kind), '202': definitionName(kind) },
    });
  }
  if (can('deletecollection')) {
    collection.push({
      method: 'delete',
      action: 'deletecollection',
      operationId: `delete${id}CollectionNamespaced${kind}`,
      description: `delete collection of ${kind}`,
      kind,
      params: [
        ...LIST_PARAMS.filter((p) => p.name !== 'watch' && p.name !== 'allowWatchBookmarks'),
        ...DELETE_PARAMS,
      ],
      body: { definition: `${META}.DeleteOptions`, contentTypes: json, required: false },
      responses: { '200': `${META}.Status` },
    });
  }
  if (collection.length > 0) {
    items.push({
      path: `${base}/namespaces/{namespace}/${resource.name}`,
      params: [NAMESPACE_PARAM, PRETTY],
      operations: collection,
    });
  }

  const named: Operation[] = [];
  if (can('get')) {
    named.push({
      method: 'get',
      action: 'get',
      operationId: `read${id}Namespaced${kind}`,
      description: `read the specified ${kind}`,
      kind,
      params: [],
      responses: { '200': definitionName(kind) },
    });
  }
  if (can('delete')) {
    named.push({
      method: 'delete',
      action: 'delete',
      operationId: `delete${id}Namespaced${kind}`,
      description: `delete a ${kind}`,
      kind,
      params: DELETE_PARAMS,
      body: { definition: `${META}.DeleteOptions`, contentTypes: json, required: false },
      responses: { '200': `${META}.Status`, '202': `${META}.Status` },
    });
  }
  if (can('patch')) {
    named.push({
      method: 'patch',
      action: 'patch',
      operationId: `patch${id}Namespaced${kind}`,
      description: `partially update the specified ${kind} (metadata labels and annotations only)`,
      kind,
      params: [
        DRY_RUN,
        FIELD_MANAGER,
        FIELD_VALIDATION,
        q('force', 'boolean', 'Accepted for compatibility; apply patches are not supported.'),
      ],
      body: {
        definition: `${META}.Patch`,
        contentTypes: ['application/json-patch+json', 'application/merge-patch+json'],
        required: true,
      },
      responses: { '200': definitionName(kind), '201': definitionName(kind) },
    });
  }
  if (named.length > 0) {
    items.push({
      path: `${base}/namespaces/{namespace}/${resource.name}/{name}`,
      params: [pathParam('name', `name of the ${kind}`), NAMESPACE_PARAM, PRETTY],
      operations: named,
    });
  }
  return items;
}

function allPaths(): PathItem[] {
  const resources: PathItem = {
    path: `/apis/${EXECUTION_GROUP}/${VERSION}/`,
    params: [],
    operations: [
      {
        method: 'get',
        action: 'get',
        operationId: `get${groupCamel()}APIResources`,
        description: 'get available resources',
        kind: '',
        params: [],
        responses: { '200': `${META}.APIResourceList` },
      },
    ],
  };
  return [resources, ...EXECUTION_RESOURCES.flatMap(resourcePaths)];
}

const TAG = `${EXECUTION_GROUP.split('.')
  .map((p, i) => (i === 0 ? p : p.charAt(0).toUpperCase() + p.slice(1)))
  .join('')}_${VERSION}`;

function operationExtensions(op: Operation): OpenApiSchema {
  return {
    'x-kubernetes-action': op.action,
    ...(op.kind ? { 'x-kubernetes-group-version-kind': gvk(op.kind) } : {}),
  };
}

function v3Param(p: Param): OpenApiSchema {
  return {
    name: p.name,
    in: p.in,
    description: p.description,
    ...(p.required ? { required: true } : {}),
    schema: { type: p.type, uniqueItems: true },
  };
}

/** The paths of the v3 document; the v2 document derives its own from them. */
function renderPaths(): Record<string, OpenApiSchema> {
  const out: Record<string, OpenApiSchema> = {};
  for (const item of allPaths()) {
    const rendered: OpenApiSchema = {};
    for (const op of item.operations) {
      const responses: Record<string, OpenApiSchema> = {};
      for (const [code, definition] of Object.entries(op.responses)) {
        responses[code] = {
          description: code === '201' ? 'Created' : code === '202' ? 'Accepted' : 'OK',
          content: { 'application/json': { schema: plainRef(definition) } },
        };
      }
      responses['401'] = { description: 'Unauthorized' };
      const body = op.body;
      rendered[op.method] = {
        tags: [TAG],
        description: op.description,
        operationId: op.operationId,
        ...(op.params.length > 0 ? { parameters: op.params.map(v3Param) } : {}),
        ...(body
          ? {
              requestBody: {
                content: Object.fromEntries(
                  body.contentTypes.map((t) => [t, { schema: plainRef(body.definition) }]),
                ),
                ...(body.required ? { required: true } : {}),
              },
            }
          : {}),
        responses,
        ...operationExtensions(op),
      };
    }
    if (item.params.length > 0) rendered.parameters = item.params.map(v3Param);
    out[item.path] = rendered;
  }
  return out;
}

const SECURITY_SCHEME = {
  BearerToken: {
    type: 'apiKey',
    description: 'Bearer token authentication',
    name: 'authorization',
    in: 'header',
  },
};
const INFO = { title: 'syncflow execution API', version: VERSION };

/** `GET /openapi/v2`: the swagger 2.0 document of our group version. */
export function openApiV2(): object {
  return openApiV2Document().document;
}

/** The v3 index path of our group version, without a leading slash (as kube keys it). */
export const OPENAPI_V3_GROUP_VERSION_PATH = `apis/${EXECUTION_GROUP}/${VERSION}`;

/** `GET /openapi/v3`: the index the aggregator merges into the cluster's. */
export function openApiV3Index(): object {
  const { hash } = openApiV3GroupVersion();
  return {
    paths: {
      [OPENAPI_V3_GROUP_VERSION_PATH]: {
        serverRelativeURL: `/openapi/v3/${OPENAPI_V3_GROUP_VERSION_PATH}?hash=${hash}`,
      },
    },
  };
}

let v2Cache: ReturnType<typeof cacheDocument> | undefined;
let v3Cache: ReturnType<typeof openApiV3GroupVersion> | undefined;
let v3IndexCache: ReturnType<typeof cacheDocument> | undefined;

/** The v2 document serialised once, with its ETag (quoted upper-case hex sha512, like kube-openapi). */
export function openApiV2Document(): { document: object; json: string; etag: string } {
  v2Cache ??= cacheDocument(toV2Document(openApiV3GroupVersion().document));
  return v2Cache;
}

/**
 * `GET /openapi/v3/apis/execution.syncflow.io/v1alpha1`: the self-contained v3 document, its JSON,
 * its ETag (quoted) and the `hash` query value the index advertises (the same digest, unquoted).
 */
export function openApiV3GroupVersion(): {
  document: OpenApiV3Document;
  json: string;
  etag: string;
  hash: string;
} {
  if (!v3Cache) {
    const document: OpenApiV3Document = {
      openapi: '3.0.0',
      info: INFO,
      paths: renderPaths(),
      components: { schemas: schemas(), securitySchemes: SECURITY_SCHEME },
      security: [{ BearerToken: [] }],
    };
    const cached = cacheDocument(document);
    v3Cache = { document, json: cached.json, etag: cached.etag, hash: sha512Hex(cached.json) };
  }
  return v3Cache;
}

/** The v3 index serialised once, with its ETag. */
export function openApiV3IndexDocument(): { document: object; json: string; etag: string } {
  v3IndexCache ??= cacheDocument(openApiV3Index());
  return v3IndexCache;
}

/** How to answer a v3 group-version request, following kube-openapi's handler. */
export type OpenApiV3Answer =
  { status: 301; location: string } | { status: 200 | 304; headers: Record<string, string>; body?: string };

/**
 * Decides the answer to `GET /openapi/v3/apis/execution.syncflow.io/v1alpha1[?hash=…]` as kube-openapi
 * does: a stale `hash` redirects (301) to the current URL; a matching one makes the response
 * immutable (`Cache-Control: public, immutable`, `Expires` a year ahead); `If-None-Match` equal to the
 * ETag gives 304. Content negotiation (JSON only; 406 otherwise) stays with the caller.
 */
export function answerOpenApiV3(request: {
  hash?: string;
  ifNoneMatch?: string;
  now?: Date;
}): OpenApiV3Answer {
  const doc = openApiV3GroupVersion();
  if (request.hash && request.hash !== doc.hash) {
    return { status: 301, location: `/openapi/v3/${OPENAPI_V3_GROUP_VERSION_PATH}?hash=${doc.hash}` };
  }
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    ETag: doc.etag,
    Vary: 'Accept',
  };
  if (request.hash) {
    const expires = new Date(request.now ?? new Date());
    expires.setUTCFullYear(expires.getUTCFullYear() + 1);
    headers['Cache-Control'] = 'public, immutable';
    headers.Expires = expires.toUTCString();
  }
  if (request.ifNoneMatch === doc.etag) return { status: 304, headers };
  return { status: 200, headers, body: doc.json };
}

/** Names unknown fields of an object of one of our kinds (top level, metadata, spec, status). */
export function validateKnownFields(kind: string, body: unknown): FieldValidationResult {
  const { schemas } = openApiV3GroupVersion().document.components;
  const schema = schemas[definitionName(kind)];
  if (!schema) throw new Error(`no schema for kind ${kind}`);
  return unknownFields(body, schema, schemas);
}

/** Unknown fields of a WorkflowExecution create body (spec.input and status outputs are free-form). */
export function validateExecutionFields(body: unknown): FieldValidationResult {
  return validateKnownFields('WorkflowExecution', body);
}
