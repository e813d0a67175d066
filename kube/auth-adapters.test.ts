import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RestConfig } from './rest/config.ts';
import { KubernetesConfigMapSource } from './configmap-source.ts';
import { KubernetesReviewClient, ReviewError } from './reviews.ts';

type Route = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A tiny stand-in for kube-apiserver: routes by "METHOD path" (path without query). */
class FakeApiServer {
  readonly server: Server;
  readonly requests: Array<{ method: string; url: string; body: string }> = [];
  routes = new Map<string, Route>();

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', body });
        const route = this.routes.get(`${req.method} ${(req.url ?? '').split('?')[0]}`);
        if (route === undefined)
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
        else route(req, body, res);
      });
    });
  }

  async start(): Promise<RestConfig> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return new RestConfig({
      server: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`,
      token: 'server-token',
    });
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

describe('KubernetesReviewClient', () => {
  let api: FakeApiServer;
  let client: KubernetesReviewClient;

  beforeEach(async () => {
    api = new FakeApiServer();
    client = new KubernetesReviewClient({ kubeConfig: await api.start(), timeoutMs: 200 });
  });
  afterEach(() => api.stop());

  it('creates a TokenReview and returns the object kube-apiserver answers', async () => {
    api.routes.set('POST /apis/authentication.k8s.io/v1/tokenreviews', (_req, body, res) => {
      const review = JSON.parse(body) as Record<string, unknown>;
      json(res, 201, {
        ...review,
        status: { authenticated: true, user: { username: 'alice', groups: ['g'], extra: { k: ['v'] } } },
      });
    });
    const review = (await client.createTokenReview({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: 'abc' },
    })) as { status: { user: { username: string; extra: unknown } } };
    expect(review.status.user).to.deep.include({ username: 'alice', extra: { k: ['v'] } });
    expect(JSON.parse(api.requests[0]!.body)).to.deep.equal({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: 'abc' },
    });
  });

  it('creates a SubjectAccessReview with resource attributes, uid and extra intact', async () => {
    api.routes.set('POST /apis/authorization.k8s.io/v1/subjectaccessreviews', (_req, body, res) => {
      json(res, 201, { ...(JSON.parse(body) as object), status: { allowed: true, reason: 'ok' } });
    });
    const spec = {
      user: 'alice',
      uid: 'u1',
      groups: ['dev'],
      extra: { 'acme.com/project': ['p1'] },
      resourceAttributes: {
        namespace: 'shop',
        verb: 'create',
        group: 'execution.syncflow.io',
        version: 'v1alpha1',
        resource: 'workflowexecutions',
      },
    };
    const review = (await client.createSubjectAccessReview({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec,
    })) as {
      status: unknown;
    };
    expect(review.status).to.deep.equal({ allowed: true, reason: 'ok' });
    expect((JSON.parse(api.requests[0]!.body) as { spec: unknown }).spec).to.deep.equal(spec);
  });

  it('reports an HTTP failure by status only, never with the response body', async () => {
    api.routes.set('POST /apis/authentication.k8s.io/v1/tokenreviews', (_req, body, res) =>
      json(res, 500, { echoed: body }),
    );
    const error = await client.createTokenReview({ spec: { token: 'very-secret' } }).then(
      () => expect.fail('expected a rejection'),
      (e: ReviewError) => e,
    );
    expect(error)
      .to.be.instanceOf(ReviewError)
      .and.include({ message: 'TokenReview failed with HTTP 500', statusCode: 500 });
    expect(JSON.stringify({ ...error, message: error.message })).not.to.contain('very-secret');
  });

  it('times out a review that does not answer', async () => {
    api.routes.set('POST /apis/authorization.k8s.io/v1/subjectaccessreviews', () => undefined);
    const error = await client.createSubjectAccessReview({ spec: {} }).then(
      () => expect.fail('expected a rejection'),
      (e: ReviewError) => e,
    );
    expect(error.message).to.equal('SubjectAccessReview timed out after 200 ms');
  });

  it('reports a connection failure in one line', async () => {
    api.stop();
    const error = await client.createTokenReview({ spec: { token: 't' } }).then(
      () => expect.fail('expected a rejection'),
      (e: ReviewError) => e,
    );
    expect(error.message).to.match(/^TokenReview failed: /);
    expect(error.message).not.to.contain('\n');
  });
});

describe('KubernetesConfigMapSource', () => {
  const path = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
  let api: FakeApiServer;
  let source: KubernetesConfigMapSource;

  beforeEach(async () => {
    api = new FakeApiServer();
    source = new KubernetesConfigMapSource({ kubeConfig: await api.start(), rewatchDelayMs: 10 });
  });
  afterEach(() => api.stop());

  it('gets the data of the ConfigMap', async () => {
    api.routes.set(`GET ${path}`, (_req, _body, res) =>
      json(res, 200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } }),
    );
    expect(await source.get()).to.deep.equal({ a: 'b' });
  });

  it('gets empty data for a ConfigMap without data, and undefined for a missing one', async () => {
    api.routes.set(`GET ${path}`, (_req, _body, res) =>
      json(res, 200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }),
    );
    expect(await source.get()).to.deep.equal({});
    api.routes.delete(`GET ${path}`);
    expect(await source.get()).to.equal(undefined);
  });

  it('reports a refused read by HTTP status', async () => {
    api.routes.set(`GET ${path}`, (_req, _body, res) => json(res, 403, { kind: 'Status', code: 403 }));
    const error = await source.get().then(
      () => expect.fail('expected a rejection'),
      (e: Error) => e,
    );
    expect(error.message).to.equal('reading the ConfigMap failed with HTTP 403');
  });

  it('watches the ConfigMap by name, reports changes and deletion, and re-watches when the stream ends', async () => {
    let watches = 0;
    api.routes.set('GET /api/v1/namespaces/kube-system/configmaps', (req, _body, res) => {
      watches++;
      const event = (type: string, data?: Record<string, string>): string =>
        `${JSON.stringify({ type, object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'extension-apiserver-authentication' }, ...(data ? { data } : {}) } })}\n`;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (watches === 1) {
        res.end(event('ADDED', { v: '1' }) + event('MODIFIED') + event('DELETED'));
      } else {
        res.write(event('ADDED', { v: '2' }));
      }
    });
    const seen: Array<Record<string, string> | undefined> = [];
    const secondWatch = new Promise<void>((resolve) => {
      const stop = source.watch((data) => {
        seen.push(data);
        if (data?.v === '2') {
          stop();
          resolve();
        }
      });
    });
    await secondWatch;
    expect(seen).to.deep.equal([{ v: '1' }, {}, undefined, { v: '2' }]);
    const watchRequest = api.requests.find((r) => r.url.includes('watch=true'));
    expect(decodeURIComponent(watchRequest?.url ?? '')).to.contain(
      'fieldSelector=metadata.name=extension-apiserver-authentication',
    );
  });

  it('retries a watch that fails to start, until stopped', async () => {
    let attempts = 0;
    api.routes.set('GET /api/v1/namespaces/kube-system/configmaps', (_req, _body, res) => {
      attempts++;
      json(res, 500, { kind: 'Status', code: 500 });
    });
    const stop = source.watch(() => undefined);
    while (attempts < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    stop();
    const after = attempts;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(attempts).to.equal(after);
  });
});
