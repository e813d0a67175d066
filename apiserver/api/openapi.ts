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
 * de-duplicates them or renames ours harmlessly.
 *
 * kubectl decides whether the server validates fields itself by finding, in the v3 document, the PATCH
 * operation whose `x-kubernetes-group-version-kind` is the object's kind and checking that it lists a
 * `fieldValidation` parameter; without it kubectl falls back to client-side validation with v2.
 */
import type { TSchema } from '@sinclair/typebox';
import { toStructural, type OpenApiSchema } from '../../core/model/openapi.ts';
import { PRESERVE_UNKNOWN, WorkflowExecutionSpec, WorkflowExecutionStatus } from '../../core/model/schema.ts';
import { EXECUTION_GROUP, VERSION } from '../../core/model/resources.ts';
import { cacheDocument, sha512Hex, EXECUTION_RESOURCES, type ResourceDescription } from './discovery.ts';
import { WorkflowRevision } from './revision-schema.ts';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
/** Definition name prefix: the reversed group, as kube names CRD and aggregated types. */
const PREFIX = `${EXECUTION_GROUP.split('.').reverse().join('.')}.${VERSION}`;

/** Definition name of one of our kinds, e.g. `io.syncflow.execution.v1alpha1.WorkflowExecution`. */
export function definitionName(kind: string): string {
  return `${PREFIX}.${kind}`;
}

const V3_REF = '#/components/schemas/';
const V2_REF = '#/definitions/';

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
const int = (description: string, format = 'int64'): OpenApiSchema => ({
  type: 'integer',
  format,
  description,
});
const bool = (description: string): OpenApiSchema => ({ type: 'boolean', description });
const strings = (description: string): OpenApiSchema => ({
  type: 'array',
  items: { type: 'string', default: '' },
  description,
});

const API_VERSION_DOC =
  'Versioned schema of this representation of an object; e.g. execution.syncflow.io/v1alpha1.';
const KIND_DOC = 'REST resource this object represents, in CamelCase.';
const typeMeta = (): Record<string, OpenApiSchema> => ({
  apiVersion: str(API_VERSION_DOC),
  kind: str(KIND_DOC),
});

/** The apimachinery definitions our operations and kinds reference, in kube's shape. */
function metaSchemas(): Record<string, OpenApiSchema> {
  return {
    [`${META}.Time`]: {
      type: 'string',
      format: 'date-time',
      description: 'RFC 3339 timestamp, serialised in UTC.',
    },
    [`${META}.FieldsV1`]: { type: 'object', description: 'Set of fields in the managedFields format.' },
    [`${META}.ManagedFieldsEntry`]: {
      type: 'object',
      description: 'A field manager, the fields it owns and the version they apply to.',
      properties: {
        apiVersion: str('Version of the resource this field set applies to.'),
        fieldsType: str('Format of fieldsV1; only FieldsV1.'),
        fieldsV1: ref(`${META}.FieldsV1`, { description: 'The field set.' }),
        manager: str('Identifier of the field manager.'),
        operation: str('Apply or Update.'),
        subresource: str('Subresource used to update the object, if any.'),
        time: ref(`${META}.Time`, { description: 'When the fields were last changed.' }),
      },
    },
    [`${META}.OwnerReference`]: {
      type: 'object',
      description: 'Identifies an owning object in the same namespace.',
      required: ['apiVersion', 'kind', 'name', 'uid'],
      properties: {
        apiVersion: str('API version of the owner.'),
        blockOwnerDeletion: bool('Owner cannot be deleted from storage before this object is removed.'),
        controller: bool('The owner is the managing controller.'),
        kind: str('Kind of the owner.'),
        name: str('Name of the owner.'),
        uid: str('UID of the owner.'),
      },
      'x-kubernetes-map-type': 'atomic',
    },
    [`${META}.ObjectMeta`]: {
      type: 'object',
      description: 'Metadata every persisted resource has.',
      properties: {
        annotations: {
          type: 'object',
          additionalProperties: { type: 'string', default: '' },
          description: 'Unstructured key-value map stored with the object.',
        },
        creationTimestamp: ref(`${META}.Time`, {
          description: 'When the object was created; set by the server.',
        }),
        deletionGracePeriodSeconds: int('Seconds allowed for graceful termination.'),
        deletionTimestamp: ref(`${META}.Time`, {
          description: 'When the object will be deleted; set by the server.',
        }),
        finalizers: {
          ...strings('Must be empty before the object is deleted.'),
          'x-kubernetes-list-type': 'set',
          'x-kubernetes-patch-strategy': 'merge',
        },
        generateName: str('Prefix the server uses to generate a unique name when name is empty.'),
        generation: int('Sequence number of a specific generation of the desired state.'),
        labels: {
          type: 'object',
          additionalProperties: { type: 'string', default: '' },
          description: 'Key-value pairs used to organise and select objects.',
        },
        managedFields: {
          type: 'array',
          items: ref(`${META}.ManagedFieldsEntry`, { default: {} }),
          description: 'Field managers and the fields they own.',
          'x-kubernetes-list-type': 'atomic',
        },
        name: str('Name, unique within the namespace.'),
        namespace: str('Namespace of the object.'),
        ownerReferences: {
          type: 'array',
          items: ref(`${META}.OwnerReference`, { default: {} }),
          description: 'Objects this object depends on.',
          'x-kubernetes-list-map-keys': ['uid'],
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-patch-merge-key': 'uid',
          'x-kubernetes-patch-strategy': 'merge',
        },
        resourceVersion: str('Opaque version of the object, for concurrency control and watch.'),
        selfLink: str('Deprecated; not set.'),
        uid: str('Unique id of this object in time and space; set by the server.'),
      },
    },
    [`${META}.ListMeta`]: {
      type: 'object',
      description: 'Metadata of synthetic list resources.',
      properties: {
        continue: str('Opaque token to fetch the next page of a limited list.'),
        remainingItemCount: int('Number of items after this page, when known.'),
        resourceVersion: str('Version of the list, for watch and consistent reads.'),
        selfLink: str('Deprecated; not set.'),
      },
    },
    [`${META}.StatusCause`]: {
      type: 'object',
      description: 'One cause of an error, often a field.',
      properties: {
        field: str('Path of the field that caused the error, e.g. spec.input.userId.'),
        message: str('Human-readable description of the cause.'),
        reason: str('Machine-readable description of the cause.'),
      },
    },
    [`${META}.StatusDetails`]: {
      type: 'object',
      description: 'Extended data of a Status.',
      properties: {
        causes: {
          type: 'array',
          items: ref(`${META}.StatusCause`, { default: {} }),
          description: 'Causes of the error.',
          'x-kubernetes-list-type': 'atomic',
        },
        group: str('Group of the resource.'),
        kind: str('Kind of the resource.'),
        name: str('Name of the resource.'),
        retryAfterSeconds: int('Seconds to wait before retrying.', 'int32'),
        uid: str('UID of the resource.'),
      },
    },
    [`${META}.Status`]: {
      type: 'object',
      description: 'Return value of calls that do not return other objects.',
      properties: {
        ...typeMeta(),
        code: int('HTTP status code.', 'int32'),
        details: ref(`${META}.StatusDetails`, { description: 'Extended data of the error.' }),
        message: str('Human-readable description of the status.'),
        metadata: ref(`${META}.ListMeta`, { default: {}, description: 'Standard list metadata.' }),
        reason: str('Machine-readable reason, e.g. Invalid or NotFound.'),
        status: str('Success or Failure.'),
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'Status', version: 'v1' }],
    },
    [`${META}.Preconditions`]: {
      type: 'object',
      description: 'Must be fulfilled before an operation is carried out.',
      properties: { resourceVersion: str('Target resourceVersion.'), uid: str('Target UID.') },
    },
    [`${META}.DeleteOptions`]: {
      type: 'object',
      description: 'Options for a delete.',
      properties: {
        ...typeMeta(),
        dryRun: {
          ...strings('All: process the request without persisting it.'),
          'x-kubernetes-list-type': 'atomic',
        },
        gracePeriodSeconds: int('Seconds before the object is deleted.'),
        ignoreStoreReadErrorWithClusterBreakingPotential: bool('Delete corrupt objects that cannot be read.'),
        orphanDependents: bool('Deprecated: use propagationPolicy.'),
        preconditions: ref(`${META}.Preconditions`, { description: 'Must be fulfilled before deleting.' }),
        propagationPolicy: str('Orphan, Background or Foreground.'),
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'DeleteOptions', version: 'v1' }],
    },
    [`${META}.Patch`]: {
      type: 'object',
      description: 'A JSON patch or JSON merge patch body.',
    },
    [`${META}.WatchEvent`]: {
      type: 'object',
      description: 'One event of a watch stream.',
      required: ['type', 'object'],
      properties: {
        object: ref('io.k8s.apimachinery.pkg.runtime.RawExtension', {
          description: 'The object, or a Status for ERROR.',
        }),
        type: str('ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.'),
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'WatchEvent', version: 'v1' }],
    },
    'io.k8s.apimachinery.pkg.runtime.RawExtension': {
      type: 'object',
      description: 'An embedded object.',
    },
  };
}

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

/** Every schema of the v3 document, by definition name. */
function schemas(): Record<string, OpenApiSchema> {
  const [executions, revisions] = EXECUTION_RESOURCES as [ResourceDescription, ResourceDescription];
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
    [`${META}.APIResource`]: {
      type: 'object',
      description: 'A resource of a group version.',
      required: ['name', 'singularName', 'namespaced', 'kind', 'verbs'],
      properties: {
        categories: strings('Categories the resource belongs to.'),
        group: str('Preferred group of the resource.'),
        kind: str('Kind of the resource.'),
        name: str('Plural name of the resource.'),
        namespaced: bool('Whether the resource is namespaced.'),
        shortNames: strings('Short names of the resource.'),
        singularName: str('Singular name of the resource.'),
        storageVersionHash: str('Hash of the storage version.'),
        verbs: strings('Supported verbs.'),
        version: str('Preferred version of the resource.'),
      },
    },
    [`${META}.APIResourceList`]: {
      type: 'object',
      description: 'The resources of a group version.',
      required: ['groupVersion', 'resources'],
      properties: {
        ...typeMeta(),
        groupVersion: str('The group version.'),
        resources: {
          type: 'array',
          items: ref(`${META}.APIResource`, { default: {} }),
          description: 'The resources.',
        },
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'APIResourceList', version: 'v1' }],
    },
    ...metaSchemas(),
  };
}

// ---------------------------------------------------------------------------------------------------
// Paths. Operations are described once, neutrally, then rendered as v2 and as v3.

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
  q('sendInitialEvents', 'boolean', 'With watch: start with synthetic ADDED events for the current state.'),
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
          operationId: `list${id}${kind}ForAllNamespaces`,
          description: `list or watch objects of kind ${kind}`,
          kind,
          params: LIST_PARAMS,
          responses: listResponses,
        },
      ],
    });
  }

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

function v2Param(p: Param): OpenApiSchema {
  return {
    uniqueItems: true,
    type: p.type,
    description: p.description,
    name: p.name,
    in: p.in,
    ...(p.required ? { required: true } : {}),
  };
}

function renderV3Paths(): Record<string, OpenApiSchema> {
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

function renderV2Paths(): Record<string, OpenApiSchema> {
  const out: Record<string, OpenApiSchema> = {};
  for (const item of allPaths()) {
    const rendered: OpenApiSchema = {};
    for (const op of item.operations) {
      const responses: Record<string, OpenApiSchema> = {};
      for (const [code, definition] of Object.entries(op.responses)) {
        responses[code] = {
          description: code === '201' ? 'Created' : code === '202' ? 'Accepted' : 'OK',
          schema: { $ref: V2_REF + definition },
        };
      }
      responses['401'] = { description: 'Unauthorized' };
      const parameters = op.params.map(v2Param);
      if (op.body) {
        parameters.unshift({
          name: 'body',
          in: 'body',
          ...(op.body.required ? { required: true } : {}),
          schema: { $ref: V2_REF + op.body.definition },
        });
      }
      rendered[op.method] = {
        description: op.description,
        consumes: op.body ? op.body.contentTypes : ['*/*'],
        produces: ['application/json'],
        schemes: ['https'],
        tags: [TAG],
        operationId: op.operationId,
        ...(parameters.length > 0 ? { parameters } : {}),
        responses,
        ...operationExtensions(op),
      };
    }
    if (item.params.length > 0) rendered.parameters = item.params.map(v2Param);
    out[item.path] = rendered;
  }
  return out;
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
    else if (key === 'properties' || key === 'definitions') {
      out[key] = Object.fromEntries(
        Object.entries(value as OpenApiSchema).map(([k, v]) => [k, toV2Schema(v)]),
      );
    } else if (typeof value === 'object' && key !== 'enum' && key !== 'default' && key !== 'example') {
      out[key] = toV2Schema(value);
    } else out[key] = value;
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

/**
 * v2 definitions. Our copies of apimachinery types lose their GVK extensions here: when they differ
 * from kube's, the aggregator keeps them under a renamed key (`…Status_v2`), and a second definition
 * claiming `v1 Status` would make kubectl's GVK → model lookup ambiguous. In v3 (not merged) they keep
 * them, as kube's own per-group documents do.
 */
function v2Definitions(): Record<string, OpenApiSchema> {
  const definitions = toV2Schema(schemas()) as Record<string, OpenApiSchema>;
  for (const [name, definition] of Object.entries(definitions)) {
    if (name.startsWith('io.k8s.')) delete definition['x-kubernetes-group-version-kind'];
  }
  return definitions;
}

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
let v3Cache: (ReturnType<typeof cacheDocument> & { hash: string }) | undefined;
let v3IndexCache: ReturnType<typeof cacheDocument> | undefined;

/** The v2 document serialised once, with its ETag (quoted upper-case hex sha512, like kube-openapi). */
export function openApiV2Document(): { document: object; json: string; etag: string } {
  v2Cache ??= cacheDocument({
    swagger: '2.0',
    info: INFO,
    paths: renderV2Paths(),
    definitions: v2Definitions(),
    securityDefinitions: SECURITY_SCHEME,
    security: [{ BearerToken: [] }],
  });
  return v2Cache;
}

/**
 * `GET /openapi/v3/apis/execution.syncflow.io/v1alpha1`: the self-contained v3 document, its JSON,
 * its ETag (quoted) and the `hash` query value the index advertises (the same digest, unquoted).
 */
export function openApiV3GroupVersion(): { document: object; json: string; etag: string; hash: string } {
  if (!v3Cache) {
    const cachedDoc = cacheDocument({
      openapi: '3.0.0',
      info: INFO,
      paths: renderV3Paths(),
      components: { schemas: schemas(), securitySchemes: SECURITY_SCHEME },
      security: [{ BearerToken: [] }],
    });
    v3Cache = { ...cachedDoc, hash: sha512Hex(cachedDoc.json) };
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

// ---------------------------------------------------------------------------------------------------
// Server-side field validation (fieldValidation=Strict|Warn|Ignore), worded as kube-apiserver words it.

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

function resolve(schema: OpenApiSchema, components: Record<string, OpenApiSchema>): OpenApiSchema {
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
  components: Record<string, OpenApiSchema>,
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

/** Names unknown fields of an object of one of our kinds (top level, metadata, spec, status). */
export function validateKnownFields(kind: string, body: unknown): FieldValidationResult {
  const components = (
    openApiV3GroupVersion().document as { components: { schemas: Record<string, OpenApiSchema> } }
  ).components.schemas;
  const schema = components[definitionName(kind)];
  if (!schema) throw new Error(`no schema for kind ${kind}`);
  const unknown: string[] = [];
  collectUnknown(body, schema, '', components, unknown);
  return { unknown };
}

/** Unknown fields of a WorkflowExecution create body (spec.input and status outputs are free-form). */
export function validateExecutionFields(body: unknown): FieldValidationResult {
  return validateKnownFields('WorkflowExecution', body);
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
