import { expect } from 'chai';
import { openApiV2, openApiV3GroupVersion } from './openapi.ts';
import { toV2Document, toV2Schema, type OpenApiV3Document } from './openapi-v2.ts';

type Node = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** A small v3 document in the shape openapi.ts renders: one path, a GET and a PATCH with a body. */
const fixture: OpenApiV3Document = {
  openapi: '3.0.0',
  info: { title: 't', version: 'v1' },
  paths: {
    '/apis/g/v1/things/{name}': {
      get: {
        tags: ['g_v1'],
        operationId: 'readThing',
        parameters: [
          { name: 'pretty', in: 'query', description: 'p', schema: { type: 'string', uniqueItems: true } },
        ],
        responses: {
          '200': {
            description: 'OK',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/g.Thing' } } },
          },
          '401': { description: 'Unauthorized' },
        },
        'x-kubernetes-action': 'get',
      },
      patch: {
        operationId: 'patchThing',
        requestBody: {
          content: {
            'application/json-patch+json': { schema: { $ref: '#/components/schemas/io.k8s.P' } },
            'application/merge-patch+json': { schema: { $ref: '#/components/schemas/io.k8s.P' } },
          },
          required: true,
        },
        responses: {
          '200': {
            description: 'OK',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/g.Thing' } } },
          },
        },
      },
      parameters: [
        {
          name: 'name',
          in: 'path',
          description: 'n',
          required: true,
          schema: { type: 'string', uniqueItems: true },
        },
      ],
    },
  },
  components: {
    schemas: {
      'g.Thing': {
        type: 'object',
        properties: { metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.M' }], default: {} } },
        'x-kubernetes-group-version-kind': [{ group: 'g', kind: 'Thing', version: 'v1' }],
      },
      'io.k8s.P': { type: 'object' },
      'io.k8s.M': {
        type: 'object',
        'x-kubernetes-group-version-kind': [{ group: '', kind: 'M', version: 'v1' }],
      },
    },
    securitySchemes: { BearerToken: { type: 'apiKey', name: 'authorization', in: 'header' } },
  },
  security: [{ BearerToken: [] }],
};

describe('toV2Document (swagger 2.0 derived from the v3 document)', () => {
  const v2 = toV2Document(fixture) as {
    swagger: string;
    paths: Record<string, Record<string, Node>>;
    definitions: Record<string, Node>;
    securityDefinitions: Node;
    security: unknown;
  };
  const item = v2.paths['/apis/g/v1/things/{name}']!;

  it('flattens parameter schemas into the parameter, as swagger 2.0 writes them', () => {
    expect(item.parameters).to.deep.equal([
      { name: 'name', in: 'path', description: 'n', required: true, type: 'string', uniqueItems: true },
    ]);
    expect(item.get!.parameters).to.deep.equal([
      { name: 'pretty', in: 'query', description: 'p', type: 'string', uniqueItems: true },
    ]);
  });

  it('turns the request body into a leading body parameter and its content types into consumes', () => {
    const patch = item.patch!;
    expect((patch.parameters as Node[])[0]).to.deep.equal({
      name: 'body',
      in: 'body',
      required: true,
      schema: { $ref: '#/definitions/io.k8s.P' },
    });
    expect(patch.consumes).to.deep.equal(['application/json-patch+json', 'application/merge-patch+json']);
    expect(patch).not.to.have.property('requestBody');
    expect(item.get!.consumes).to.deep.equal(['*/*']);
  });

  it('moves response schemas out of content into produces, keeping responses without content', () => {
    expect(item.get!.responses).to.deep.equal({
      '200': { description: 'OK', schema: { $ref: '#/definitions/g.Thing' } },
      '401': { description: 'Unauthorized' },
    });
    expect(item.get!.produces).to.deep.equal(['application/json']);
    expect(item.get!.schemes).to.deep.equal(['https']);
    expect(item.get!['x-kubernetes-action']).to.equal('get');
    expect(item.get!.tags).to.deep.equal(['g_v1']);
  });

  it("keeps GVKs on our kinds and drops them from copies of Kubernetes' types (the aggregator may rename those)", () => {
    expect(v2.swagger).to.equal('2.0');
    expect(v2.definitions['g.Thing']).to.deep.equal({
      type: 'object',
      properties: { metadata: { $ref: '#/definitions/io.k8s.M', default: {} } },
      'x-kubernetes-group-version-kind': [{ group: 'g', kind: 'Thing', version: 'v1' }],
    });
    expect(v2.definitions['io.k8s.M']).to.deep.equal({ type: 'object' });
    expect(fixture.components.schemas['io.k8s.M']).to.have.property('x-kubernetes-group-version-kind');
    expect(v2.securityDefinitions).to.deep.equal(fixture.components.securitySchemes);
    expect(v2.security).to.deep.equal(fixture.security);
  });
});

describe('the served v2 document', () => {
  it('has exactly the operations of the v3 document, with the same ids, parameters and responses', () => {
    const v3 = openApiV3GroupVersion().document as { paths: Record<string, Record<string, Node>> };
    const v2 = openApiV2() as { paths: Record<string, Record<string, Node>> };
    expect(Object.keys(v2.paths)).to.deep.equal(Object.keys(v3.paths));
    for (const [path, item] of Object.entries(v3.paths)) {
      for (const method of METHODS) {
        const a = item[method];
        const b = v2.paths[path]![method];
        expect(Boolean(b), `${method} ${path}`).to.equal(Boolean(a));
        if (!a || !b) continue;
        expect(b.operationId).to.equal(a.operationId);
        const names = ((a.parameters as Node[] | undefined) ?? []).map((p) => p.name);
        expect((b.parameters as Node[] | undefined)?.map((p) => p.name) ?? []).to.deep.equal(
          a.requestBody ? ['body', ...names] : names,
        );
        expect(Object.keys(b.responses as Node)).to.deep.equal(Object.keys(a.responses as Node));
      }
    }
  });
});

describe('toV2Schema', () => {
  it('unwraps allOf refs, rewrites component refs and drops nullable, leaving data alone', () => {
    expect(
      toV2Schema({
        properties: {
          allOf: { type: 'string' },
          m: { allOf: [{ $ref: '#/components/schemas/X' }], description: 'd', nullable: true },
          r: { $ref: '#/components/schemas/Y' },
          e: { type: 'string', enum: [{ nullable: true }], default: { nullable: 1 } },
        },
        items: [{ nullable: false }],
      }),
    ).to.deep.equal({
      properties: {
        allOf: { type: 'string' },
        m: { $ref: '#/definitions/X', description: 'd' },
        r: { $ref: '#/definitions/Y' },
        e: { type: 'string', enum: [{ nullable: true }], default: { nullable: 1 } },
      },
      items: [{}],
    });
  });
});
