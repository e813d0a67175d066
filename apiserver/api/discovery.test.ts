import { expect } from 'chai';
import { createHash } from 'node:crypto';
import {
  EXECUTION_RESOURCES,
  aggregatedDiscovery,
  aggregatedDiscoveryContentType,
  apiGroup,
  apiGroupList,
  apiResourceList,
  cacheDocument,
  discoveryResponse,
  negotiateDiscovery,
  parseAccept,
  storageVersionHash,
  type ResourceDescription,
} from './discovery.ts';

// Field names below are those of k8s.io/apimachinery metav1 and k8s.io/api/apidiscovery/v2 JSON tags.
interface GroupVersionForDiscovery {
  groupVersion: string;
  version: string;
}
interface APIGroup {
  kind?: string;
  apiVersion?: string;
  name: string;
  versions: GroupVersionForDiscovery[];
  preferredVersion: GroupVersionForDiscovery;
}
interface APIResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  storageVersionHash?: string;
}
interface APIResourceDiscovery {
  resource: string;
  responseKind: { group: string; version: string; kind: string };
  scope: 'Namespaced' | 'Cluster';
  singularResource: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}
interface APIGroupDiscoveryList {
  kind: string;
  apiVersion: string;
  metadata: object;
  items: Array<{
    metadata: { name: string };
    versions: Array<{ version: string; resources: APIResourceDiscovery[]; freshness: string }>;
  }>;
}

const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';
/** What kubectl (client-go) sends for `/apis`. */
const KUBECTL_ACCEPT = `${AGGREGATED_V2},${AGGREGATED_V2BETA1},application/json`;

describe('legacy discovery', () => {
  it('GET /apis is an APIGroupList with execution.syncflow.io and its preferred version', () => {
    const list = apiGroupList() as { kind: string; apiVersion: string; groups: APIGroup[] };
    expect(list.kind).to.equal('APIGroupList');
    expect(list.apiVersion).to.equal('v1');
    expect(list.groups).to.have.length(1);
    const [group] = list.groups;
    expect(group?.name).to.equal('execution.syncflow.io');
    expect(group?.versions).to.deep.equal([
      { groupVersion: 'execution.syncflow.io/v1alpha1', version: 'v1alpha1' },
    ]);
    expect(group?.preferredVersion).to.deep.equal({
      groupVersion: 'execution.syncflow.io/v1alpha1',
      version: 'v1alpha1',
    });
  });

  it('GET /apis/execution.syncflow.io is an APIGroup', () => {
    const group = apiGroup() as APIGroup;
    expect(group.kind).to.equal('APIGroup');
    expect(group.apiVersion).to.equal('v1');
    expect(group.name).to.equal('execution.syncflow.io');
    expect(group.preferredVersion.version).to.equal('v1alpha1');
  });

  it('GET /apis/execution.syncflow.io/v1alpha1 lists both resources as kubectl api-resources reads them', () => {
    const list = apiResourceList() as {
      kind: string;
      apiVersion: string;
      groupVersion: string;
      resources: APIResource[];
    };
    expect(list).to.include({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: 'execution.syncflow.io/v1alpha1',
    });
    const [wfx, rev] = list.resources;
    expect(wfx).to.deep.include({
      name: 'workflowexecutions',
      singularName: 'workflowexecution',
      namespaced: true,
      kind: 'WorkflowExecution',
      shortNames: ['wfx'],
      categories: ['syncflow'],
    });
    expect(wfx?.verbs).to.have.members([
      'create',
      'delete',
      'deletecollection',
      'get',
      'list',
      'patch',
      'watch',
    ]);
    expect(rev).to.deep.include({
      name: 'workflowrevisions',
      singularName: 'workflowrevision',
      kind: 'WorkflowRevision',
      namespaced: true,
    });
    expect(rev?.verbs).to.deep.equal(['get', 'list']);
    expect(rev).not.to.have.property('shortNames');
  });

  it('computes storageVersionHash as Kubernetes does (base64 of 8 bytes of sha256 of group/version/kind)', () => {
    const expected = createHash('sha256')
      .update('execution.syncflow.io/v1alpha1/WorkflowExecution')
      .digest()
      .subarray(0, 8)
      .toString('base64');
    expect(storageVersionHash('execution.syncflow.io', 'v1alpha1', 'WorkflowExecution')).to.equal(expected);
    const list = apiResourceList() as { resources: APIResource[] };
    expect(list.resources[0]?.storageVersionHash).to.equal(expected);
    expect(expected).to.have.length(12);
  });

  it('lists subresources as <resource>/<subresource> entries', () => {
    const [executions, revisions] = EXECUTION_RESOURCES as [ResourceDescription, ResourceDescription];
    const served = [
      { ...executions, subresources: [{ name: 'status', kind: 'WorkflowExecution', verbs: ['get'] }] },
      revisions,
    ];
    const list = apiResourceList(served) as { resources: APIResource[] };
    expect(list.resources.map((r) => r.name)).to.deep.equal([
      'workflowexecutions',
      'workflowexecutions/status',
      'workflowrevisions',
    ]);
    const agg = aggregatedDiscovery('v2', served) as {
      items: Array<{ versions: Array<{ resources: Array<{ subresources?: unknown[] }> }> }>;
    };
    expect(agg.items[0]?.versions[0]?.resources[0]?.subresources).to.deep.equal([
      {
        subresource: 'status',
        responseKind: { group: 'execution.syncflow.io', version: 'v1alpha1', kind: 'WorkflowExecution' },
        verbs: ['get'],
      },
    ]);
  });
});

describe('aggregated discovery', () => {
  for (const version of ['v2', 'v2beta1'] as const) {
    it(`${version}: is an APIGroupDiscoveryList with Namespaced resources, response kinds and freshness`, () => {
      const doc = aggregatedDiscovery(version) as APIGroupDiscoveryList;
      expect(doc.kind).to.equal('APIGroupDiscoveryList');
      expect(doc.apiVersion).to.equal(`apidiscovery.k8s.io/${version}`);
      expect(doc.items).to.have.length(1);
      const group = doc.items[0]!;
      expect(group.metadata.name).to.equal('execution.syncflow.io');
      expect(group.versions).to.have.length(1);
      const gv = group.versions[0]!;
      expect(gv.version).to.equal('v1alpha1');
      expect(gv.freshness).to.equal('Current');
      const byName = Object.fromEntries(gv.resources.map((r) => [r.resource, r]));
      expect(byName.workflowexecutions).to.deep.include({
        responseKind: { group: 'execution.syncflow.io', version: 'v1alpha1', kind: 'WorkflowExecution' },
        scope: 'Namespaced',
        singularResource: 'workflowexecution',
        shortNames: ['wfx'],
        categories: ['syncflow'],
      });
      expect(byName.workflowrevisions?.verbs).to.deep.equal(['get', 'list']);
      expect(byName.workflowrevisions?.responseKind.kind).to.equal('WorkflowRevision');
    });
  }

  it('announces the negotiated version in the Content-Type parameters client-go matches on', () => {
    expect(aggregatedDiscoveryContentType('v2')).to.equal(AGGREGATED_V2);
    expect(aggregatedDiscoveryContentType('v2beta1')).to.equal(AGGREGATED_V2BETA1);
  });
});

describe('negotiateDiscovery', () => {
  const cases: Array<[string, string | undefined, string]> = [
    ['kubectl (v2, v2beta1, json)', KUBECTL_ACCEPT, 'aggregated v2'],
    ['the aggregator (v2beta1 only, 1.27-1.29)', AGGREGATED_V2BETA1, 'aggregated v2beta1'],
    [
      'v2 with extra parameters (profile=nopeer) in any order',
      'application/json;as=APIGroupDiscoveryList;profile=nopeer;v=v2;g=apidiscovery.k8s.io',
      'aggregated v2',
    ],
    ['q-values preferring v2beta1', `${AGGREGATED_V2};q=0.5,${AGGREGATED_V2BETA1}`, 'aggregated v2beta1'],
    ['no Accept header', undefined, 'legacy'],
    ['empty Accept header', '', 'legacy'],
    ['plain JSON', 'application/json', 'legacy'],
    ['JSON with charset', 'application/json; charset=utf-8', 'legacy'],
    ['wildcards', '*/*', 'legacy'],
    ['application/*', 'application/*', 'legacy'],
    [
      'unknown aggregated version, then JSON',
      'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json',
      'legacy',
    ],
    [
      'protobuf aggregated, then JSON aggregated',
      `application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,${AGGREGATED_V2}`,
      'aggregated v2',
    ],
    ['protobuf only', 'application/vnd.kubernetes.protobuf', 'notAcceptable'],
    [
      'unknown aggregated version only',
      'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList',
      'notAcceptable',
    ],
    ['a Table', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'notAcceptable'],
    ['JSON refused with q=0', 'application/json;q=0', 'notAcceptable'],
    ['malformed clauses are skipped', 'garbage,;;,application/json', 'legacy'],
    [
      'quoted parameter values',
      'application/json;g="apidiscovery.k8s.io";v="v2";as="APIGroupDiscoveryList"',
      'aggregated v2',
    ],
    ['an unparsable q counts as 1', 'application/json;q=abc', 'legacy'],
  ];
  for (const [name, accept, expected] of cases) {
    it(`${name} → ${expected}`, () => {
      const result = negotiateDiscovery(accept);
      const summary = result.kind === 'aggregated' ? `aggregated ${result.version}` : result.kind;
      expect(summary).to.equal(expected);
      if (result.kind === 'aggregated')
        expect(result.contentType).to.equal(aggregatedDiscoveryContentType(result.version));
      if (result.kind === 'legacy') expect(result.contentType).to.equal('application/json');
    });
  }

  it('parseAccept keeps the client order for equal q and drops q=0', () => {
    const ranges = parseAccept('text/plain;q=0.2, application/json, application/yaml;q=0, */*;q=0.5');
    expect(ranges.map((r) => `${r.type}/${r.subtype}:${r.q}`)).to.deep.equal([
      'application/json:1',
      '*/*:0.5',
      'text/plain:0.2',
    ]);
  });
});

describe('discoveryResponse', () => {
  it('serialises each variant once, with a quoted upper-case sha512 ETag', () => {
    const a = discoveryResponse(negotiateDiscovery(KUBECTL_ACCEPT));
    const b = discoveryResponse(negotiateDiscovery(AGGREGATED_V2));
    expect(a).to.equal(b);
    expect(JSON.parse(a!.json)).to.deep.equal(aggregatedDiscovery('v2'));
    const hex = createHash('sha512').update(a!.json).digest('hex').toUpperCase();
    expect(a!.etag).to.equal(`"${hex}"`);
    const legacy = discoveryResponse(negotiateDiscovery('application/json'));
    expect(JSON.parse(legacy!.json)).to.deep.equal(apiGroupList());
    expect(legacy!.etag).not.to.equal(a!.etag);
    expect(discoveryResponse(negotiateDiscovery('application/vnd.kubernetes.protobuf'))).to.equal(undefined);
  });

  it('cacheDocument gives equal documents equal ETags', () => {
    expect(cacheDocument({ a: 1 }).etag).to.equal(cacheDocument({ a: 1 }).etag);
    expect(cacheDocument({ a: 1 }).etag).not.to.equal(cacheDocument({ a: 2 }).etag);
  });
});
