import { expect } from 'chai';
import type { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Registry } from 'prom-client';
import { SyncflowError } from '../../core/errors.ts';
import { parseAuthenticationConfigMap, type AuthenticationConfig } from './authentication-config.ts';
import {
  ClientCertAuthenticator,
  createDelegatingAuthenticator,
  FrontProxyAuthenticator,
  TokenReviewAuthenticator,
  UnionAuthenticator,
  type AuthRequest,
  type Authenticator,
} from './authenticator.ts';
import type { HandshakeVerdict } from './certificates.ts';
import { FakeClock, FakeReviewClient } from './testdata/fake-review-client.ts';
import { authenticationConfigMapData, DAY_MS, testPki, type TestPki } from './testdata/pki.ts';

/** What OpenSSL says at the handshake about a chain of the test PKI that the TLS context trusts. */
const AUTHORIZED: HandshakeVerdict = { authorized: true };
/** What OpenSSL says about rogueProxy (its CA shares a name with the front-proxy CA, not a key). */
const ROGUE: HandshakeVerdict = { authorized: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' };

function request(
  chain: X509Certificate[],
  headers: Record<string, string | string[]> = {},
  verdict: HandshakeVerdict = AUTHORIZED,
): AuthRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    headers: Object.fromEntries(
      Object.entries(lower).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
    ) as IncomingHttpHeaders,
    headersDistinct: Object.fromEntries(
      Object.entries(lower).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]),
    ),
    peerCertificateChain: chain,
    peerCertificateVerdict: verdict,
  };
}

async function rejection(promise: Promise<unknown>): Promise<SyncflowError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(SyncflowError);
    return error as SyncflowError;
  }
  expect.fail('expected a rejection');
}

describe('FrontProxyAuthenticator', function () {
  this.timeout(30_000);
  let p: TestPki;
  let config: AuthenticationConfig;
  let authenticator: FrontProxyAuthenticator;
  before(() => {
    p = testPki();
    config = parseAuthenticationConfigMap(authenticationConfigMapData());
    authenticator = new FrontProxyAuthenticator({ config });
  });

  it('reads user, uid, every group and extra from the verified front proxy', async () => {
    const user = await authenticator.authenticate(
      request([p.frontProxyClient.cert], {
        'X-Remote-User': 'alice',
        'X-Remote-Uid': 'u-123',
        'X-Remote-Group': ['system:authenticated', 'dev, ops'],
        'X-Remote-Extra-Scopes': ['read', 'write'],
      }),
    );
    expect(user).to.deep.equal({
      username: 'alice',
      uid: 'u-123',
      groups: ['system:authenticated', 'dev, ops'],
      extra: { scopes: ['read', 'write'] },
    });
  });

  it('lowercases, then percent-decodes extra keys; an undecodable key is kept', async () => {
    const user = await authenticator.authenticate(
      request([p.frontProxyClient.cert], {
        'X-Remote-User': 'alice',
        'X-Remote-Extra-Acme.com%2FProject': 'p1',
        'X-Remote-Extra-Odd%zz': 'v',
        'X-Remote-Extra-': 'no key',
      }),
    );
    expect(user?.extra).to.deep.equal({ 'acme.com/project': ['p1'], 'odd%zz': ['v'] });
  });

  it('ignores X-Remote-User from a client without the front-proxy certificate', async () => {
    expect(
      await authenticator.authenticate(
        request([], { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' }),
      ),
    ).to.equal(undefined);
  });

  it('rejects a front-proxy certificate whose CN is not in the allowed names', async () => {
    const error = await rejection(
      authenticator.authenticate(request([p.otherProxy.cert], { 'X-Remote-User': 'admin' })),
    );
    expect(error.code).to.equal('Unauthorized');
    expect(error.message).to.contain('CN="other-proxy" is not in requestheader-allowed-names');
  });

  it('accepts any CN signed by the requestheader CA when the allowed names are empty', async () => {
    const open = new FrontProxyAuthenticator({
      config: parseAuthenticationConfigMap(
        authenticationConfigMapData({ 'requestheader-allowed-names': '[]' }),
      ),
    });
    expect(await open.authenticate(request([p.otherProxy.cert], { 'X-Remote-User': 'bob' }))).to.include({
      username: 'bob',
    });
  });

  it('rejects a certificate with the allowed CN from another CA', async () => {
    const error = await rejection(
      authenticator.authenticate(request([p.rogueProxy.cert], { 'X-Remote-User': 'admin' }, ROGUE)),
    );
    expect(error.message).to.match(/front-proxy verification failed: .*not signed by a trusted CA/);
  });

  it('rejects a client certificate of the cluster client CA (it is not the front proxy)', async () => {
    const error = await rejection(
      authenticator.authenticate(request([p.alice.cert, p.clientCA.cert], { 'X-Remote-User': 'admin' })),
    );
    expect(error.code).to.equal('Unauthorized');
    expect(error.message).to.equal(
      'front-proxy verification failed: certificate CN="alice" is not signed by a trusted CA',
    );
  });

  it('rejects a front-proxy certificate that OpenSSL refused at the handshake', async () => {
    const error = await rejection(
      authenticator.authenticate(
        request(
          [p.frontProxyClient.cert],
          { 'X-Remote-User': 'admin' },
          {
            authorized: false,
            error: 'PATH_LENGTH_EXCEEDED',
          },
        ),
      ),
    );
    expect(error.message).to.equal(
      'front-proxy verification failed: certificate CN="front-proxy-client": its chain exceeds the path length a CA allows',
    );
  });

  it('rejects a front-proxy certificate of a request that carries no handshake verdict', async () => {
    const unverified = request([p.frontProxyClient.cert], { 'X-Remote-User': 'admin' });
    delete unverified.peerCertificateVerdict;
    const error = await rejection(authenticator.authenticate(unverified));
    expect(error.message).to.equal(
      'front-proxy verification failed: certificate CN="front-proxy-client" was not verified at the TLS handshake',
    );
  });

  it('rejects an expired front-proxy certificate', async () => {
    const later = new FrontProxyAuthenticator({ config, now: () => Date.now() + 31 * DAY_MS });
    const error = await rejection(
      later.authenticate(request([p.frontProxyClient.cert], { 'X-Remote-User': 'alice' })),
    );
    expect(error.message).to.contain('expired');
  });

  it('yields no user when the verified front proxy sends no username', async () => {
    expect(
      await authenticator.authenticate(request([p.frontProxyClient.cert], { 'X-Remote-Group': 'g' })),
    ).to.equal(undefined);
  });

  it('takes the first non-empty username among the configured headers', async () => {
    const twoHeaders = new FrontProxyAuthenticator({
      config: parseAuthenticationConfigMap(
        authenticationConfigMapData({
          'requestheader-username-headers': '["X-Remote-User","X-Forwarded-User"]',
        }),
      ),
    });
    const user = await twoHeaders.authenticate(
      request([p.frontProxyClient.cert], { 'X-Remote-User': '', 'X-Forwarded-User': 'carol' }),
    );
    expect(user).to.deep.equal({ username: 'carol', groups: [], extra: {} });
  });

  it('without headersDistinct takes each header value whole', async () => {
    const req = request([p.frontProxyClient.cert]);
    delete req.headersDistinct;
    req.headers = { 'x-remote-user': 'alice', 'x-remote-group': 'a, b', 'x-remote-extra-k': 'v' };
    expect(await authenticator.authenticate(req)).to.deep.equal({
      username: 'alice',
      groups: ['a, b'],
      extra: { k: ['v'] },
    });
  });

  it('trusts nobody when the ConfigMap has no requestheader CA', async () => {
    const none = new FrontProxyAuthenticator({ config: { clientCA: p.clientCA.certPem } });
    expect(
      await none.authenticate(request([p.frontProxyClient.cert], { 'X-Remote-User': 'alice' })),
    ).to.equal(undefined);
  });

  it('reads the configuration in effect at each request', async () => {
    let current: AuthenticationConfig | undefined;
    const live = new FrontProxyAuthenticator({ config: { current: () => current } });
    const req = request([p.otherProxy.cert], { 'X-Remote-User': 'alice' });
    expect(await live.authenticate(req)).to.equal(undefined);
    current = config;
    await rejection(live.authenticate(req));
    current = parseAuthenticationConfigMap(
      authenticationConfigMapData({ 'requestheader-allowed-names': '["other-proxy"]' }),
    );
    expect(await live.authenticate(req)).to.include({ username: 'alice' });
  });
});

describe('ClientCertAuthenticator', function () {
  this.timeout(30_000);
  let p: TestPki;
  let authenticator: ClientCertAuthenticator;
  before(() => {
    p = testPki();
    authenticator = new ClientCertAuthenticator({
      config: parseAuthenticationConfigMap(authenticationConfigMapData()),
    });
  });

  it('authenticates CN as the username and O values as groups', async () => {
    expect(await authenticator.authenticate(request([p.alice.cert]))).to.deep.equal({
      username: 'alice',
      groups: ['dev', 'ops'],
      extra: {},
    });
  });

  it('follows a presented intermediate to a CA of the bundle', async () => {
    expect(await authenticator.authenticate(request([p.bob.cert, p.intermediateCA.cert]))).to.include({
      username: 'bob',
    });
  });

  it('rejects a certificate from another CA', async () => {
    const error = await rejection(authenticator.authenticate(request([p.frontProxyClient.cert])));
    expect(error.message).to.match(
      /^client certificate verification failed: certificate CN="front-proxy-client" is not signed/,
    );
  });

  it('rejects a certificate that OpenSSL refused at the handshake', async () => {
    const error = await rejection(
      authenticator.authenticate(request([p.alice.cert], {}, { authorized: false, error: 'UNSPECIFIED' })),
    );
    expect(error.message).to.match(
      /^client certificate verification failed: certificate CN="alice" failed TLS verification \(UNSPECIFIED/,
    );
  });

  it('rejects an expired certificate', async () => {
    const later = new ClientCertAuthenticator({
      config: parseAuthenticationConfigMap(authenticationConfigMapData()),
      now: () => Date.now() + 40 * DAY_MS,
    });
    expect((await rejection(later.authenticate(request([p.alice.cert])))).message).to.contain('expired');
  });

  it('yields no user without a certificate or without a client CA', async () => {
    expect(await authenticator.authenticate(request([]))).to.equal(undefined);
    const noCA = new ClientCertAuthenticator({ config: {} });
    expect(await noCA.authenticate(request([p.alice.cert]))).to.equal(undefined);
  });
});

describe('TokenReviewAuthenticator', () => {
  let client: FakeReviewClient;
  let clock: FakeClock;
  let registry: Registry;
  let authenticator: TokenReviewAuthenticator;
  const bearer = (token: string): AuthRequest => request([], { Authorization: `Bearer ${token}` });
  const cacheCount = async (result: string): Promise<number> => {
    const metric = await registry.getSingleMetric('syncflow_authn_cache_total')!.get();
    return metric.values.find((v) => v.labels.result === result)?.value ?? 0;
  };

  beforeEach(() => {
    client = new FakeReviewClient();
    client.tokenReview = (body) => {
      const token = (body.spec as { token: string }).token;
      if (token.startsWith('good')) {
        return {
          status: {
            authenticated: true,
            user: {
              username: `user-${token}`,
              uid: 'u1',
              groups: ['system:authenticated'],
              extra: { 'authentication.kubernetes.io/pod-name': ['p'] },
            },
          },
        };
      }
      return { status: { authenticated: false, error: 'token expired' } };
    };
    clock = new FakeClock();
    registry = new Registry();
    authenticator = new TokenReviewAuthenticator({ client, now: clock.now, registry });
  });

  it('sends an authentication.k8s.io/v1 TokenReview and returns its user', async () => {
    expect(await authenticator.authenticate(bearer('good-1'))).to.deep.equal({
      username: 'user-good-1',
      uid: 'u1',
      groups: ['system:authenticated'],
      extra: { 'authentication.kubernetes.io/pod-name': ['p'] },
    });
    expect(client.tokenReviews).to.deep.equal([
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'good-1' } },
    ]);
  });

  it('rejects an unauthenticated token without naming it', async () => {
    const error = await rejection(authenticator.authenticate(bearer('bad-secret-token')));
    expect(error.code).to.equal('Unauthorized');
    expect(error.message).to.equal('invalid bearer token');
  });

  it('answers ServiceUnavailable when the review fails, keeping the token out of the error', async () => {
    client.tokenReview = () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), {
        code: 'ECONNREFUSED',
        request: { body: 'bad-secret-token' },
      });
    };
    const error = await rejection(authenticator.authenticate(bearer('bad-secret-token')));
    expect(error.code).to.equal('ServiceUnavailable');
    expect(
      JSON.stringify({ message: error.message, cause: error.cause, props: { ...(error.cause as object) } }),
    ).not.to.contain('secret');
    expect((error.cause as Error).message).to.equal('connect ECONNREFUSED');
  });

  it('ignores requests without a bearer token', async () => {
    for (const authorization of [undefined, 'Basic YWxpY2U6cHc=', 'Bearer', 'Bearer ']) {
      const req = request([]);
      if (authorization !== undefined) req.headers.authorization = authorization;
      expect(await authenticator.authenticate(req), String(authorization)).to.equal(undefined);
    }
    expect(client.tokenReviews).to.have.length(0);
  });

  it('accepts the bearer scheme in any case', async () => {
    const req = request([]);
    req.headers.authorization = '  bearer good-2 ';
    expect(await authenticator.authenticate(req)).to.include({ username: 'user-good-2' });
  });

  it('caches an authenticated token for 10 s', async () => {
    await authenticator.authenticate(bearer('good-1'));
    clock.advance(9_999);
    await authenticator.authenticate(bearer('good-1'));
    expect(client.tokenReviews).to.have.length(1);
    expect(await cacheCount('hit')).to.equal(1);
    expect(await cacheCount('miss')).to.equal(1);
    clock.advance(1);
    await authenticator.authenticate(bearer('good-1'));
    expect(client.tokenReviews).to.have.length(2);
  });

  it('caches a rejected token for 2 s', async () => {
    await rejection(authenticator.authenticate(bearer('bad')));
    clock.advance(1_999);
    await rejection(authenticator.authenticate(bearer('bad')));
    expect(client.tokenReviews).to.have.length(1);
    clock.advance(1);
    await rejection(authenticator.authenticate(bearer('bad')));
    expect(client.tokenReviews).to.have.length(2);
  });

  it('does not cache a failed review', async () => {
    client.tokenReview = () => Promise.reject(new Error('timeout'));
    await rejection(authenticator.authenticate(bearer('good-1')));
    await rejection(authenticator.authenticate(bearer('good-1')));
    expect(client.tokenReviews).to.have.length(2);
  });

  it('shares one review among concurrent requests with the same token', async () => {
    const users = await Promise.all([1, 2, 3].map(() => authenticator.authenticate(bearer('good-1'))));
    expect(users.map((u) => u?.username)).to.deep.equal(['user-good-1', 'user-good-1', 'user-good-1']);
    expect(client.tokenReviews).to.have.length(1);
  });

  it('keeps at most maxEntries tokens', async () => {
    const small = new TokenReviewAuthenticator({ client, now: clock.now, maxEntries: 2 });
    for (const token of ['good-a', 'good-b', 'good-c', 'good-a']) await small.authenticate(bearer(token));
    expect(client.tokenReviews).to.have.length(4);
  });

  it('requests the configured audiences and requires one back', async () => {
    const withAudience = new TokenReviewAuthenticator({ client, now: clock.now, audiences: ['syncflow'] });
    client.tokenReview = () => ({
      status: { authenticated: true, user: { username: 'x' }, audiences: ['other'] },
    });
    const error = await rejection(withAudience.authenticate(bearer('t')));
    expect(error.message).to.equal('bearer token not valid for this audience');
    expect(client.tokenReviews[0]).to.deep.include({ spec: { token: 't', audiences: ['syncflow'] } });
    client.tokenReview = () => ({
      status: { authenticated: true, user: { username: 'x' }, audiences: ['syncflow'] },
    });
    expect(await withAudience.authenticate(bearer('t2'))).to.deep.equal({
      username: 'x',
      groups: [],
      extra: {},
    });
  });

  it('treats an authenticated review without a username as a rejection', async () => {
    client.tokenReview = () => ({ status: { authenticated: true, user: {} } });
    expect((await rejection(authenticator.authenticate(bearer('t')))).code).to.equal('Unauthorized');
  });

  it('shares its metrics when two authenticators use one registry', () => {
    expect(() => new TokenReviewAuthenticator({ client, registry })).not.to.throw();
  });
});

describe('UnionAuthenticator', function () {
  this.timeout(30_000);
  let p: TestPki;
  let client: FakeReviewClient;
  let union: UnionAuthenticator;
  before(() => {
    p = testPki();
  });
  beforeEach(() => {
    client = new FakeReviewClient();
    client.tokenReview = (body) =>
      (body.spec as { token: string }).token === 'good'
        ? {
            status: {
              authenticated: true,
              user: { username: 'token-user', groups: ['system:authenticated', 'viewers'] },
            },
          }
        : { status: { authenticated: false } };
    union = createDelegatingAuthenticator({
      config: parseAuthenticationConfigMap(authenticationConfigMapData()),
      client,
    });
  });

  it('prefers the front proxy over the token it forwards', async () => {
    const user = await union.authenticate(
      request([p.frontProxyClient.cert], { 'X-Remote-User': 'alice', Authorization: 'Bearer good' }),
    );
    expect(user).to.deep.equal({ username: 'alice', groups: ['system:authenticated'], extra: {} });
    expect(client.tokenReviews).to.have.length(0);
  });

  it('authenticates a cluster client certificate although front-proxy verification fails', async () => {
    expect(await union.authenticate(request([p.alice.cert]))).to.deep.equal({
      username: 'alice',
      groups: ['dev', 'ops', 'system:authenticated'],
      extra: {},
    });
  });

  it('ignores forged X-Remote-* headers next to a client certificate', async () => {
    const user = await union.authenticate(
      request([p.alice.cert], { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' }),
    );
    expect(user?.username).to.equal('alice');
    expect(user?.groups).not.to.include('system:masters');
  });

  it('ignores forged X-Remote-* headers and uses the bearer token', async () => {
    const user = await union.authenticate(
      request([], { 'X-Remote-User': 'admin', Authorization: 'Bearer good' }),
    );
    expect(user).to.deep.equal({
      username: 'token-user',
      groups: ['system:authenticated', 'viewers'],
      extra: {},
    });
  });

  it('yields no user for a request without credentials, or system:anonymous when enabled', async () => {
    expect(await union.authenticate(request([], { 'X-Remote-User': 'admin' }))).to.equal(undefined);
    const anonymous = new UnionAuthenticator([], { anonymous: true });
    expect(await anonymous.authenticate(request([]))).to.deep.equal({
      username: 'system:anonymous',
      groups: ['system:unauthenticated'],
      extra: {},
    });
  });

  it('rejects when every credential is bad, with each reason', async () => {
    const error = await rejection(
      union.authenticate(request([p.rogueProxy.cert], { Authorization: 'Bearer nope' }, ROGUE)),
    );
    expect(error.code).to.equal('Unauthorized');
    expect(error.message)
      .to.contain('front-proxy verification failed')
      .and.to.contain('client certificate verification failed')
      .and.to.contain('invalid bearer token');
  });

  it('never answers anonymous for bad credentials', async () => {
    const anonymous = createDelegatingAuthenticator({ config: {}, client, anonymous: true });
    expect(
      (await rejection(anonymous.authenticate(request([], { Authorization: 'Bearer nope' })))).message,
    ).to.equal('invalid bearer token');
  });

  it('answers ServiceUnavailable when the token could not be reviewed', async () => {
    client.tokenReview = () => Promise.reject(new Error('down'));
    const error = await rejection(
      union.authenticate(request([p.rogueProxy.cert], { Authorization: 'Bearer good' }, ROGUE)),
    );
    expect(error.code).to.equal('ServiceUnavailable');
  });

  it('wraps a non-SyncflowError failure as Unauthorized', async () => {
    const broken: Authenticator = {
      authenticate: () => Promise.reject(new Error('boom')),
    };
    const error = await rejection(new UnionAuthenticator([broken]).authenticate(request([])));
    expect(error).to.include({ code: 'Unauthorized', message: 'boom' });
  });
});
