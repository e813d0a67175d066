/**
 * Discovery documents for the `execution.syncflow.io` group, as kube-apiserver's aggregator and
 * kubectl read them:
 *
 * - legacy discovery: `GET /apis` (APIGroupList), `/apis/<group>` (APIGroup) and
 *   `/apis/<group>/<version>` (APIResourceList), all `apiVersion: v1`;
 * - aggregated discovery: `GET /apis` with
 *   `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` (or v2beta1) returns
 *   one APIGroupDiscoveryList, and the response `Content-Type` repeats those parameters — client-go
 *   decides between the two formats by the response Content-Type alone.
 *
 * The aggregator fetches `/apis` from each APIService backend with `Accept: <v2>,<v2beta1>` and
 * `If-None-Match` (a 304 keeps its cached copy); a 200 is used only when its Content-Type names the
 * APIGroupDiscoveryList, anything else makes it fall back to `/apis/<group>/<version>`. Older
 * aggregators (1.27-1.29) asked for v2beta1 alone and fell back only on `406 Not Acceptable`, so
 * `negotiateDiscovery` answers `notAcceptable` when nothing in Accept is servable and the server must
 * then answer 406, as kube-apiserver does.
 */
import { createHash } from 'node:crypto';
import { EXECUTION_GROUP, EXECUTION_NAMES, VERSION } from '../../core/model/resources.ts';
import { REVISION_NAMES } from '../../core/model/revision.ts';

/** A subresource served under a resource (none today; kept so the shape matches Kubernetes'). */
export interface SubresourceDescription {
  /** Path segment after the object name, e.g. `status`. */
  name: string;
  /** Kind the subresource returns. */
  kind: string;
  verbs: string[];
}

/** Everything discovery says about one resource of the group version. */
export interface ResourceDescription {
  /** Plural resource name, the URL segment. */
  name: string;
  singularName: string;
  kind: string;
  /** Kind of the list response. */
  listKind: string;
  shortNames: string[];
  namespaced: boolean;
  verbs: string[];
  categories?: string[];
  subresources?: SubresourceDescription[];
}

/** The served resources of `execution.syncflow.io/v1alpha1`. */
export const EXECUTION_RESOURCES: readonly ResourceDescription[] = Object.freeze([
  {
    name: EXECUTION_NAMES.plural,
    singularName: EXECUTION_NAMES.singular,
    kind: EXECUTION_NAMES.kind,
    listKind: EXECUTION_NAMES.listKind,
    shortNames: [...EXECUTION_NAMES.shortNames],
    namespaced: true,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'watch'],
    categories: ['syncflow'],
  },
  {
    name: REVISION_NAMES.plural,
    singularName: REVISION_NAMES.singular,
    kind: REVISION_NAMES.kind,
    listKind: REVISION_NAMES.listKind,
    shortNames: [...REVISION_NAMES.shortNames],
    namespaced: true,
    verbs: ['get', 'list'],
    categories: ['syncflow'],
  },
  {
    // The answering replica's circuit breakers (apiserver/registry/circuitbreakers/rest.ts): cluster-wide, list only.
    name: 'circuitbreakers',
    singularName: 'circuitbreaker',
    kind: 'CircuitBreaker',
    listKind: 'CircuitBreakerList',
    shortNames: [],
    namespaced: false,
    verbs: ['list'],
  },
]);

const GROUP_VERSION = `${EXECUTION_GROUP}/${VERSION}`;
const GROUP_VERSION_FOR_DISCOVERY = { groupVersion: GROUP_VERSION, version: VERSION };

/** Aggregated discovery versions this server speaks, most preferred first. */
export const AGGREGATED_DISCOVERY_VERSIONS = ['v2', 'v2beta1'] as const;
export type AggregatedDiscoveryVersion = (typeof AGGREGATED_DISCOVERY_VERSIONS)[number];

const DISCOVERY_GROUP = 'apidiscovery.k8s.io';
const DISCOVERY_KIND = 'APIGroupDiscoveryList';

/**
 * Kubernetes' storageVersionHash: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>").
 * Storage-version migrators compare it across restarts; ours never changes.
 */
export function storageVersionHash(group: string, version: string, kind: string): string {
  return createHash('sha256')
    .update(`${group}/${version}/${kind}`)
    .digest()
    .subarray(0, 8)
    .toString('base64');
}

/** `GET /apis`: the legacy APIGroupList with our single group. */
export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [groupBody()] };
}

/** `GET /apis/execution.syncflow.io`: the legacy APIGroup. */
export function apiGroup(): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupBody() };
}

function groupBody() {
  return {
    name: EXECUTION_GROUP,
    versions: [{ ...GROUP_VERSION_FOR_DISCOVERY }],
    preferredVersion: { ...GROUP_VERSION_FOR_DISCOVERY },
  };
}

/** `GET /apis/execution.syncflow.io/v1alpha1`: the APIResourceList (what `kubectl api-resources` reads). */
export function apiResourceList(served: readonly ResourceDescription[] = EXECUTION_RESOURCES): object {
  const resources: object[] = [];
  for (const r of served) {
    resources.push({
      name: r.name,
      singularName: r.singularName,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: [...r.verbs],
      ...(r.shortNames.length > 0 ? { shortNames: [...r.shortNames] } : {}),
      ...(r.categories ? { categories: [...r.categories] } : {}),
      storageVersionHash: storageVersionHash(EXECUTION_GROUP, VERSION, r.kind),
    });
    for (const s of r.subresources ?? []) {
      resources.push({
        name: `${r.name}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: s.kind,
        verbs: [...s.verbs],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: GROUP_VERSION, resources };
}

/**
 * `GET /apis` with the aggregated Accept: an APIGroupDiscoveryList of `apidiscovery.k8s.io/<version>`.
 * v2 and v2beta1 have the same JSON shape; only `apiVersion` differs.
 */
export function aggregatedDiscovery(
  version: AggregatedDiscoveryVersion,
  served: readonly ResourceDescription[] = EXECUTION_RESOURCES,
): object {
  return {
    kind: DISCOVERY_KIND,
    apiVersion: `${DISCOVERY_GROUP}/${version}`,
    metadata: {},
    items: [
      {
        metadata: { name: EXECUTION_GROUP },
        versions: [
          {
            version: VERSION,
            resources: served.map((r) => ({
              resource: r.name,
              responseKind: { group: EXECUTION_GROUP, version: VERSION, kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singularName,
              verbs: [...r.verbs],
              ...(r.shortNames.length > 0 ? { shortNames: [...r.shortNames] } : {}),
              ...(r.categories ? { categories: [...r.categories] } : {}),
              ...(r.subresources?.length
                ? {
                    subresources: r.subresources.map((s) => ({
                      subresource: s.name,
                      responseKind: { group: EXECUTION_GROUP, version: VERSION, kind: s.kind },
                      verbs: [...s.verbs],
                    })),
                  }
                : {}),
            })),
            freshness: 'Current',
          },
        ],
      },
    ],
  };
}

/** The Content-Type of an aggregated discovery response; client-go matches on g, v and as. */
export function aggregatedDiscoveryContentType(version: AggregatedDiscoveryVersion): string {
  return `application/json;g=${DISCOVERY_GROUP};v=${version};as=${DISCOVERY_KIND}`;
}

/** What to serve for a discovery request, decided from its Accept header. */
export type DiscoveryNegotiation =
  | { kind: 'aggregated'; version: AggregatedDiscoveryVersion; contentType: string }
  | { kind: 'legacy'; contentType: 'application/json' }
  /** Nothing acceptable: answer 406 (the aggregator then falls back to legacy discovery). */
  | { kind: 'notAcceptable' };

/** One media range of an Accept header. */
export interface MediaRange {
  type: string;
  subtype: string;
  /** Parameters other than q, names lowercased. */
  params: Record<string, string>;
  q: number;
}

/**
 * Parses an Accept header into media ranges, most preferred first (by q, then by order of
 * appearance); ranges with q=0 are dropped. Shared by discovery and Table negotiation.
 */
export function parseAccept(accept: string | undefined): MediaRange[] {
  if (accept === undefined || accept.trim() === '') return [{ type: '*', subtype: '*', params: {}, q: 1 }];
  const ranges: MediaRange[] = [];
  for (const clause of accept.split(',')) {
    const [mediaType = '', ...rawParams] = clause.split(';');
    const [type = '', subtype = ''] = mediaType.trim().toLowerCase().split('/');
    if (!type || !subtype) continue;
    const params: Record<string, string> = {};
    let q = 1;
    for (const raw of rawParams) {
      const eq = raw.indexOf('=');
      if (eq < 0) continue;
      const name = raw.slice(0, eq).trim().toLowerCase();
      const value = raw
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (name === 'q') {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 1;
      } else {
        params[name] = value;
      }
    }
    if (q > 0) ranges.push({ type, subtype, params, q });
  }
  // Array.prototype.sort is stable, so equal q keeps the client's order.
  return ranges.sort((a, b) => b.q - a.q);
}

/** True when the range matches `application/json` (or a wildcard covering it). */
export function matchesJson(range: MediaRange): boolean {
  return (
    (range.type === 'application' && (range.subtype === 'json' || range.subtype === '*')) ||
    (range.type === '*' && range.subtype === '*')
  );
}

/**
 * Chooses between aggregated and legacy discovery for `GET /apis`. An aggregated clause needs
 * `g=apidiscovery.k8s.io`, `as=APIGroupDiscoveryList` and a version we serve; other parameters (such as
 * kube's `profile=nopeer`) are ignored. A clause with `as=` naming anything else is not servable.
 */
export function negotiateDiscovery(accept: string | undefined): DiscoveryNegotiation {
  for (const range of parseAccept(accept)) {
    if (!matchesJson(range)) continue;
    const { g, v, as } = range.params;
    if (as === undefined && g === undefined && v === undefined) {
      return { kind: 'legacy', contentType: 'application/json' };
    }
    if (g === DISCOVERY_GROUP && as === DISCOVERY_KIND) {
      const version = AGGREGATED_DISCOVERY_VERSIONS.find((known) => known === v);
      if (version)
        return { kind: 'aggregated', version, contentType: aggregatedDiscoveryContentType(version) };
    }
  }
  return { kind: 'notAcceptable' };
}

/** A document serialised once, with the strong ETag Kubernetes would give it. */
export interface CachedDocument {
  document: object;
  /** The exact response body. */
  json: string;
  /** Quoted upper-case hex sha512 of `json`, as kube-apiserver computes discovery and OpenAPI ETags. */
  etag: string;
}

/** Serialises a document once and computes its ETag. */
export function cacheDocument(document: object): CachedDocument {
  const json = JSON.stringify(document);
  return { document, json, etag: `"${sha512Hex(json)}"` };
}

/** Upper-case hex sha512, the hash kube-openapi and aggregated discovery use. */
export function sha512Hex(text: string): string {
  return createHash('sha512').update(text).digest('hex').toUpperCase();
}

const cached = new Map<string, CachedDocument>();

/**
 * The response for a negotiated discovery request on `/apis` (or `undefined` for `notAcceptable`),
 * serialised once per process. Send with `ETag`, `Vary: Accept` and, for aggregated discovery,
 * `Cache-Control: public`; answer 304 when `If-None-Match` equals the ETag.
 */
export function discoveryResponse(negotiation: DiscoveryNegotiation): CachedDocument | undefined {
  if (negotiation.kind === 'notAcceptable') return undefined;
  const key = negotiation.kind === 'aggregated' ? negotiation.version : 'legacy';
  let hit = cached.get(key);
  if (!hit) {
    hit = cacheDocument(
      negotiation.kind === 'aggregated' ? aggregatedDiscovery(negotiation.version) : apiGroupList(),
    );
    cached.set(key, hit);
  }
  return hit;
}
