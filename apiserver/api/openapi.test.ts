import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import { META_V1_SCHEMAS } from './generated/meta-v1.ts';
import {
  OPENAPI_V3_GROUP_VERSION_PATH,
  answerOpenApiV3,
  definitionName,
  openApiV2,
  openApiV2Document,
  openApiV3GroupVersion,
  openApiV3Index,
  openApiV3IndexDocument,
  validateExecutionFields,
  validateKnownFields,
} from './openapi.ts';

type Node = Record<string, unknown>;
type Gvk = { group: string; version: string; kind: string };

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const OUR_KINDS = [
  'WorkflowExecution',
  'WorkflowExecutionList',
  'WorkflowRevision',
  'WorkflowRevisionList',
  'CircuitBreaker',
  'CircuitBreakerList',
];
const META_DEFINITIONS = [
  'ObjectMeta',
  'ListMeta',
  'Status',
  'StatusDetails',
  'StatusCause',
  'DeleteOptions',
  'Patch',
  'Time',
];

/** Every `$ref` string anywhere in a document. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

/** Every key anywhere in a document. */
function keys(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => keys(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      out.add(k);
      keys(v, out);
    }
  }
  return out;
}

const v3 = () =>
  openApiV3GroupVersion().document as {
    openapi: string;
    paths: Record<string, Node>;
    components: { schemas: Record<string, Node> };
  };
const v2 = () =>
  openApiV2() as { swagger: string; paths: Record<string, Node>; definitions: Record<string, Node> };

/** Follows kube-openapi's `allOf: [{$ref}]` wrapping and plain refs to the named schema. */
function deref(schema: Node, schemas: Record<string, Node>): Node {
  const allOf = schema.allOf as Node[] | undefined;
  const target = (schema.$ref as string | undefined) ?? (allOf?.[0]?.$ref as string | undefined);
  return target ? (schemas[target.split('/').pop()!] as Node) : schema;
}

/** What `kubectl explain <kind>.<a.b.c>` does against a v3 document: find the GVK, walk fields. */
function explain(doc: ReturnType<typeof v3>, gvk: Gvk, fieldPath: string): Node | undefined {
  const schemas = doc.components.schemas;
  const root = Object.values(schemas).find((s) =>
    ((s['x-kubernetes-group-version-kind'] as Gvk[] | undefined) ?? []).some(
      (x) => x.group === gvk.group && x.version === gvk.version && x.kind === gvk.kind,
    ),
  );
  let node: Node | undefined = root;
  for (const field of fieldPath.split('.').filter(Boolean)) {
    if (!node) return undefined;
    node = deref(node, schemas);
    if (node.type === 'array') node = deref(node.items as Node, schemas);
    node = (node.properties as Record<string, Node> | undefined)?.[field];
  }
  return node ? deref(node, schemas) : undefined;
}

/** kubectl's check (cli-runtime queryParamVerifierV3): the kind's PATCH operation lists the parameter. */
function supportsQueryParamV3(doc: ReturnType<typeof v3>, gvk: Gvk, param: string): boolean {
  for (const item of Object.values(doc.paths)) {
    const op = item.patch as Node | undefined;
    const opGvk = op?.['x-kubernetes-group-version-kind'] as Gvk | undefined;
    if (!op || opGvk?.group !== gvk.group || opGvk.version !== gvk.version || opGvk.kind !== gvk.kind)
      continue;
    return ((op.parameters as Array<{ name: string }> | undefined) ?? []).some((p) => p.name === param);
  }
  return false;
}

const wfxGvk: Gvk = { group: 'execution.syncflow.io', version: 'v1alpha1', kind: 'WorkflowExecution' };

describe('OpenAPI v3 document', () => {
  it('is OpenAPI 3.0 with every $ref resolving inside the document (the aggregator proxies it verbatim)', () => {
    const doc = v3();
    expect(doc.openapi).to.equal('3.0.0');
    const all = refs(doc);
    expect(all.length).to.be.greaterThan(20);
    for (const r of all) {
      expect(r.startsWith('#/components/schemas/'), r).to.equal(true);
      expect(doc.components.schemas, r).to.have.property(r.slice('#/components/schemas/'.length));
    }
  });

  it('defines our kinds with x-kubernetes-group-version-kind and the apimachinery definitions they use', () => {
    const schemas = v3().components.schemas;
    for (const kind of OUR_KINDS) {
      const schema = schemas[definitionName(kind)];
      expect(schema, kind).to.be.an('object');
      expect(schema?.['x-kubernetes-group-version-kind']).to.deep.equal([
        { group: 'execution.syncflow.io', kind, version: 'v1alpha1' },
      ]);
    }
    expect(definitionName('WorkflowExecution')).to.equal('io.syncflow.execution.v1alpha1.WorkflowExecution');
    for (const name of META_DEFINITIONS) expect(schemas, name).to.have.property(`${META}.${name}`);
  });

  it("carries Kubernetes' own apimachinery definitions, exactly as the pinned release publishes them", () => {
    const schemas = v3().components.schemas;
    const kubes = Object.keys(schemas).filter((name) => name.startsWith('io.k8s.'));
    expect(kubes).to.have.members(Object.keys(META_V1_SCHEMAS));
    for (const name of kubes) expect(schemas[name], name).to.deep.equal(META_V1_SCHEMAS[name]);
    // Facts of the pinned release a hand-written copy had missed or reworded.
    expect(schemas[`${META}.ListMeta`]?.properties).to.have.property('shardInfo');
    expect(schemas[`${META}.ObjectMeta`]?.description).to.match(/^ObjectMeta is metadata that all persisted/);
    expect(explain(v3(), wfxGvk, 'metadata.generateName')?.description).to.match(
      /^GenerateName is an optional prefix/,
    );
  });

  it('lets kubectl explain wfx.status.tasks find the task fields', () => {
    const tasks = explain(v3(), wfxGvk, 'status.tasks');
    expect(tasks?.type).to.equal('array');
    const item = tasks?.items as Node;
    expect(Object.keys(item.properties as Node)).to.include.members([
      'id',
      'phase',
      'durationMs',
      'attempts',
      'httpStatus',
      'error',
    ]);
    expect(explain(v3(), wfxGvk, 'status.tasks.phase')?.enum).to.include('Succeeded');
    expect(explain(v3(), wfxGvk, 'metadata.labels')?.type).to.equal('object');
    expect(explain(v3(), wfxGvk, 'spec.workflowRef.name')?.type).to.equal('string');
    expect(explain(v3(), wfxGvk, 'spec.input')?.['x-kubernetes-preserve-unknown-fields']).to.equal(true);
    expect(
      explain(v3(), { ...wfxGvk, kind: 'WorkflowRevision' }, 'definition.workflow.tasks')?.type,
    ).to.equal('array');
  });

  it('declares fieldValidation on the PATCH operations, so kubectl leaves field validation to the server', () => {
    expect(supportsQueryParamV3(v3(), wfxGvk, 'fieldValidation')).to.equal(true);
    expect(supportsQueryParamV3(v3(), { ...wfxGvk, kind: 'WorkflowRevision' }, 'fieldValidation')).to.equal(
      false,
    );
  });

  it('gives every operation x-kubernetes-action and, per resource, the verbs discovery announces', () => {
    const doc = v3();
    const actions: Record<string, string[]> = {};
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
        const op = item[method] as Node | undefined;
        if (!op) continue;
        expect(op['x-kubernetes-action'], `${method} ${path}`).to.be.a('string');
        const kind = (op['x-kubernetes-group-version-kind'] as Gvk | undefined)?.kind ?? '-';
        (actions[kind] ??= []).push(op['x-kubernetes-action'] as string);
      }
    }
    expect([...new Set(actions.WorkflowExecution)]).to.have.members([
      'list',
      'create',
      'deletecollection',
      'get',
      'delete',
      'patch',
    ]);
    expect([...new Set(actions.WorkflowRevision)]).to.have.members(['list', 'get']);
    const named =
      doc.paths['/apis/execution.syncflow.io/v1alpha1/namespaces/{namespace}/workflowexecutions/{name}']!;
    expect(
      (named.parameters as Array<{ name: string; in: string; required?: boolean }>).filter(
        (p) => p.in === 'path',
      ),
    ).to.deep.equal([
      {
        name: 'name',
        in: 'path',
        description: 'name of the WorkflowExecution',
        required: true,
        schema: { type: 'string', uniqueItems: true },
      },
      {
        name: 'namespace',
        in: 'path',
        description: 'object name and auth scope, such as for teams and projects',
        required: true,
        schema: { type: 'string', uniqueItems: true },
      },
    ]);
    const patch = named.patch as { requestBody: { content: Node } };
    expect(Object.keys(patch.requestBody.content)).to.deep.equal([
      'application/json-patch+json',
      'application/merge-patch+json',
    ]);
    const list = doc.paths['/apis/execution.syncflow.io/v1alpha1/namespaces/{namespace}/workflowexecutions']!
      .get as Node;
    expect((list.parameters as Array<{ name: string }>).map((p) => p.name)).to.include.members([
      'labelSelector',
      'fieldSelector',
      'limit',
      'continue',
      'resourceVersion',
      'watch',
      'allowWatchBookmarks',
    ]);
  });

  it('validates a real execution with a JSON Schema validator (schemas are usable, not just present)', () => {
    const doc = v3();
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ components: doc.components }, 'doc');
    const validate = ajv.getSchema(`doc#/components/schemas/${definitionName('WorkflowExecution')}`)!;
    const execution = {
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: {
        name: 'x',
        namespace: 'shop',
        labels: { 'syncflow.io/workflow': 'p' },
        creationTimestamp: '2026-01-01T00:00:00Z',
      },
      spec: { workflowRef: { name: 'p' }, input: { userId: '42' } },
      status: {
        phase: 'Succeeded',
        durationMs: 12,
        tasks: [
          {
            id: 'user',
            taskRef: 'get-user',
            phase: 'Succeeded',
            attempts: 1,
            httpStatus: 200,
            output: { a: 1 },
          },
        ],
      },
    };
    expect(validate(execution), JSON.stringify(validate.errors)).to.equal(true);
    expect(validate({ ...execution, status: { phase: 'Exploded' } })).to.equal(false);
    expect(validate({ ...execution, spec: {} })).to.equal(false);
  });

  it('is cached with a quoted upper-case sha512 ETag and an unquoted hash of the same digest', () => {
    const a = openApiV3GroupVersion();
    expect(openApiV3GroupVersion()).to.equal(a);
    const hex = createHash('sha512').update(a.json).digest('hex').toUpperCase();
    expect(a.hash).to.equal(hex);
    expect(a.etag).to.equal(`"${hex}"`);
    expect(JSON.parse(a.json)).to.deep.equal(a.document);
  });
});

describe('OpenAPI v3 index', () => {
  it('advertises our group version with a serverRelativeURL carrying the hash', () => {
    const index = openApiV3Index() as { paths: Record<string, { serverRelativeURL: string }> };
    expect(Object.keys(index.paths)).to.deep.equal(['apis/execution.syncflow.io/v1alpha1']);
    expect(OPENAPI_V3_GROUP_VERSION_PATH).to.equal('apis/execution.syncflow.io/v1alpha1');
    expect(index.paths[OPENAPI_V3_GROUP_VERSION_PATH]?.serverRelativeURL).to.equal(
      `/openapi/v3/apis/execution.syncflow.io/v1alpha1?hash=${openApiV3GroupVersion().hash}`,
    );
    const cached = openApiV3IndexDocument();
    expect(openApiV3IndexDocument()).to.equal(cached);
    expect(JSON.parse(cached.json)).to.deep.equal(index);
    expect(cached.etag).to.match(/^"[0-9A-F]{128}"$/);
  });
});

describe('answerOpenApiV3', () => {
  const { hash, etag, json } = openApiV3GroupVersion();
  const now = new Date('2026-03-01T10:00:00Z');

  it('redirects a stale hash to the current URL (301), as kube-openapi does', () => {
    expect(answerOpenApiV3({ hash: 'OLD' })).to.deep.equal({
      status: 301,
      location: `/openapi/v3/apis/execution.syncflow.io/v1alpha1?hash=${hash}`,
    });
  });

  it('serves the current hash as immutable for a year', () => {
    const answer = answerOpenApiV3({ hash, now });
    expect(answer.status).to.equal(200);
    if (answer.status === 301) throw new Error('unexpected redirect');
    expect(answer.body).to.equal(json);
    expect(answer.headers).to.deep.equal({
      'Content-Type': 'application/json',
      ETag: etag,
      Vary: 'Accept',
      'Cache-Control': 'public, immutable',
      Expires: 'Mon, 01 Mar 2027 10:00:00 GMT',
    });
  });

  it('serves without caching directives when no hash is given, and 304 on a matching If-None-Match', () => {
    const plain = answerOpenApiV3({});
    if (plain.status === 301) throw new Error('unexpected redirect');
    expect(plain.headers).not.to.have.property('Cache-Control');
    expect(plain.status).to.equal(200);
    const notModified = answerOpenApiV3({ ifNoneMatch: etag });
    expect(notModified.status).to.equal(304);
    if (notModified.status === 301) throw new Error('unexpected redirect');
    expect(notModified.body).to.equal(undefined);
  });
});

describe('OpenAPI v2 document', () => {
  it('is swagger 2.0, self-contained, with v2 refs only and no v3-only keywords', () => {
    const doc = v2();
    expect(doc.swagger).to.equal('2.0');
    for (const r of refs(doc)) {
      expect(r.startsWith('#/definitions/'), r).to.equal(true);
      expect(doc.definitions, r).to.have.property(r.slice('#/definitions/'.length));
    }
    const used = keys(doc);
    expect(used.has('nullable')).to.equal(false);
    expect(used.has('allOf')).to.equal(false);
    expect(used.has('requestBody')).to.equal(false);
  });

  it('defines our kinds and lists with GVK extensions, referencing ObjectMeta/ListMeta/Status', () => {
    const defs = v2().definitions;
    for (const kind of OUR_KINDS) {
      expect(defs[definitionName(kind)]?.['x-kubernetes-group-version-kind']).to.deep.equal([
        { group: 'execution.syncflow.io', kind, version: 'v1alpha1' },
      ]);
    }
    const wfx = defs[definitionName('WorkflowExecution')]!.properties as Record<string, Node>;
    expect(wfx.metadata?.$ref).to.equal(`#/definitions/${META}.ObjectMeta`);
    const list = defs[definitionName('WorkflowExecutionList')]!.properties as Record<string, Node>;
    expect(list.metadata?.$ref).to.equal(`#/definitions/${META}.ListMeta`);
    expect((list.items?.items as Node).$ref).to.equal(`#/definitions/${definitionName('WorkflowExecution')}`);
    for (const name of META_DEFINITIONS) expect(defs, name).to.have.property(`${META}.${name}`);
    // Only our kinds claim GVKs in v2: copies of kube's types may be renamed by the merge.
    const claimed = Object.entries(defs)
      .filter(([, d]) => d['x-kubernetes-group-version-kind'])
      .map(([name]) => name);
    expect(claimed).to.have.members(OUR_KINDS.map(definitionName));
    expect(v3().components.schemas[`${META}.Status`]?.['x-kubernetes-group-version-kind']).to.deep.equal([
      { group: '', kind: 'Status', version: 'v1' },
    ]);
  });

  it('keeps every path under /apis/ (the aggregator drops the rest) with body parameters and GVK on operations', () => {
    const doc = v2();
    for (const path of Object.keys(doc.paths))
      expect(path.startsWith('/apis/execution.syncflow.io/v1alpha1/'), path).to.equal(true);
    const collection =
      doc.paths['/apis/execution.syncflow.io/v1alpha1/namespaces/{namespace}/workflowexecutions']!;
    const create = collection.post as Node;
    expect(create['x-kubernetes-action']).to.equal('create');
    expect(create['x-kubernetes-group-version-kind']).to.deep.equal({
      group: 'execution.syncflow.io',
      kind: 'WorkflowExecution',
      version: 'v1alpha1',
    });
    const params = create.parameters as Node[];
    expect(params[0]).to.deep.equal({
      name: 'body',
      in: 'body',
      required: true,
      schema: { $ref: `#/definitions/${definitionName('WorkflowExecution')}` },
    });
    expect(params.map((p) => p.name)).to.include('fieldValidation');
    expect(create.consumes).to.deep.equal(['application/json']);
    expect((create.responses as Record<string, Node>)['201']?.schema).to.deep.equal({
      $ref: `#/definitions/${definitionName('WorkflowExecution')}`,
    });
    const named =
      doc.paths['/apis/execution.syncflow.io/v1alpha1/namespaces/{namespace}/workflowexecutions/{name}']!;
    expect((named.patch as Node).consumes).to.deep.equal([
      'application/json-patch+json',
      'application/merge-patch+json',
    ]);
    expect((named.get as Node).consumes).to.deep.equal(['*/*']);
    expect((named.parameters as Node[])[0]).to.deep.equal({
      uniqueItems: true,
      type: 'string',
      description: 'name of the WorkflowExecution',
      name: 'name',
      in: 'path',
      required: true,
    });
  });

  it('is cached with its ETag', () => {
    const a = openApiV2Document();
    expect(openApiV2Document()).to.equal(a);
    expect(a.etag).to.equal(`"${createHash('sha512').update(a.json).digest('hex').toUpperCase()}"`);
  });
});

describe('validateExecutionFields', () => {
  const valid = {
    apiVersion: 'execution.syncflow.io/v1alpha1',
    kind: 'WorkflowExecution',
    metadata: {
      generateName: 'p-',
      namespace: 'shop',
      labels: { team: 'web' },
      annotations: { a: 'b' },
      managedFields: [
        { manager: 'kubectl', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': {} } },
      ],
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'u' }],
    },
    spec: { workflowRef: { name: 'p' }, input: { anything: { nested: [1, { deep: true }] } } },
  };

  const cases: Array<[string, unknown, string[]]> = [
    ['a complete, known body', valid, []],
    [
      'free-form input and outputs',
      {
        ...valid,
        status: {
          phase: 'Succeeded',
          output: { x: 1 },
          tasks: [{ id: 'a', phase: 'Succeeded', output: { y: [1] } }],
        },
      },
      [],
    ],
    ['an unknown top-level field', { ...valid, sepc: {} }, ['sepc']],
    [
      'unknown spec fields, in document order',
      { ...valid, spec: { ...valid.spec, foo: 1, bar: 2 } },
      ['spec.foo', 'spec.bar'],
    ],
    [
      'an unknown nested spec field',
      { ...valid, spec: { workflowRef: { name: 'p', namespace: 'x' } } },
      ['spec.workflowRef.namespace'],
    ],
    ['an unknown metadata field', { ...valid, metadata: { name: 'x', lables: {} } }, ['metadata.lables']],
    [
      'an unknown field inside a list item',
      { ...valid, metadata: { ownerReferences: [{ uid: 'u' }, { uid: 'v', owner: true }] } },
      ['metadata.ownerReferences[1].owner'],
    ],
    [
      'an unknown field in status tasks',
      {
        ...valid,
        status: {
          phase: 'Failed',
          tasks: [{ id: 'a', phase: 'Failed', error: { reason: 'r', message: 'm', code: 1 } }],
        },
      },
      ['status.tasks[0].error.code'],
    ],
    ['wrong types are not unknown fields', { ...valid, spec: 'nope', metadata: { labels: [] } }, []],
    ['non-object bodies have no fields', 'text', []],
  ];
  for (const [name, body, expected] of cases) {
    it(`${name} → ${expected.length ? expected.join(', ') : 'none'}`, () => {
      expect(validateExecutionFields(body).unknown).to.deep.equal(expected);
    });
  }

  it('also checks revisions, and refuses kinds it has no schema for', () => {
    expect(
      validateKnownFields('WorkflowRevision', {
        workflow: 'w',
        hash: 'h',
        definition: { workflow: { tasks: [] }, tasks: { t: { http: { method: 'GET', url: 'u', verb: 1 } } } },
      }).unknown,
    ).to.deep.equal(['definition.tasks.t.http.verb']);
    expect(() => validateKnownFields('Pod', {})).to.throw(/no schema for kind Pod/);
  });
});
