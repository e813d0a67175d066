/**
 * The HTTP application of the server: health, metrics, discovery, OpenAPI, the workflowexecutions
 * resource and the direct run gateway, in front of a load shedder. Built from injected parts so that
 * tests run it with fakes and `server.ts` with the real cluster.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { RequestListener } from 'node:http';
import type { Registry } from 'prom-client';
import { SyncflowError } from '../core/errors.ts';
import { releaseWhenDone, setRetryAfter } from '../core/serving.ts';
import { apiGroup, apiResourceList, discoveryResponse, negotiateDiscovery } from './api/discovery.ts';
import { answerOpenApiV3, openApiV2Document, openApiV3IndexDocument } from './api/openapi.ts';
import { failureStatus, statusFromError } from './api/status.ts';
import type { ExecutionService } from './execution/service.ts';
import { runGatewayHandler, type InFlightLimiter } from './gateway/run-gateway.ts';
import type { ExecutionStore } from '../history/store.ts';
import { API_PREFIX, type RequestGuard } from './http/guard.ts';
import { NO_DELAY, WorkLimiter, type LoadSignal } from './http/overload.ts';
import { executionRoutes, type RestObserver } from './registry/workflowexecutions/rest.ts';

/** A named readiness check (`/readyz?verbose` lists them). */
export interface HealthCheck {
  name: string;
  check(): boolean;
}

/** What the application is built from. */
export interface AppParts {
  service: ExecutionService;
  store: ExecutionStore;
  guard: RequestGuard;
  /** What /metrics serves (a worker's sums every worker's). */
  registry: Pick<Registry, 'contentType' | 'metrics'>;
  readiness: HealthCheck[];
  /** Executions allowed at once before 429 (create and gateway). */
  maxInFlight: number;
  /**
   * Executions are also refused while the event loop runs later than `maxDelayMs` (0: never), so
   * that work beyond what the CPU serves in time is refused at once instead of queued.
   */
  load?: { signal: LoadSignal; maxDelayMs: number };
  onShed?: () => void;
  observer?: RestObserver;
  /** Interval of watch BOOKMARK events (default 15 s). */
  bookmarkIntervalMs?: number;
  /** Version served at /version. */
  version?: { gitVersion: string };
  /** Validating admission webhooks (admission/routes.ts); mounted ahead of load shedding. */
  admission?: express.Router;
  /** The web console at /console/ (apiserver/console.ts); mounted ahead of load shedding. */
  console?: express.Router;
  /** The read-only `circuitbreakers` resource; mounted ahead of load shedding. */
  circuitBreakers?: express.Router;
}

/**
 * Builds the request handler: the direct run gateway (the hot path) is served ahead of express;
 * everything else goes through the express application.
 */
export function buildApp(parts: AppParts): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');

  // Health, as Kubernetes serves it: plain "ok", details with ?verbose, 500 when failing.
  const health = (checks: HealthCheck[]) => (req: Request, res: Response) => {
    const results = checks.map((c) => ({ name: c.name, ok: safeCheck(c) }));
    const ok = results.every((r) => r.ok);
    res.status(ok ? 200 : 500).type('text/plain');
    if (req.query.verbose !== undefined || !ok) {
      const lines = results.map((r) => `[${r.ok ? '+' : '-'}]${r.name} ${r.ok ? 'ok' : 'failed'}`);
      res.send(`${lines.join('\n')}\n${ok ? 'readyz check passed' : 'readyz check failed'}\n`);
    } else {
      res.send('ok');
    }
  };
  app.get('/livez', health([{ name: 'ping', check: () => true }]));
  app.get('/readyz', health(parts.readiness));
  app.get('/healthz', health(parts.readiness));
  app.get('/version', (_req, res) => {
    res.json({
      gitVersion: parts.version?.gitVersion ?? 'v0.1.0',
      platform: `${process.platform}/${process.arch}`,
    });
  });

  // Metrics are protected as kube-apiserver protects its own: RBAC on the non-resource path.
  app.get('/metrics', async (req, res) => {
    try {
      const user = await parts.guard.authenticate(req);
      await parts.guard.authorizePath(user, { verb: 'get', path: '/metrics' });
      res.type(parts.registry.contentType).send(await parts.registry.metrics());
    } catch (error) {
      sendStatus(res, error);
    }
  });

  // Discovery and OpenAPI are public information (see apiserver/auth AlwaysAllowPaths).
  app.get(['/apis', '/apis/'], (req, res) => {
    const negotiation = negotiateDiscovery(req.headers.accept);
    const doc = discoveryResponse(negotiation);
    if (!doc || negotiation.kind === 'notAcceptable') {
      sendStatus(
        res,
        new SyncflowError(
          'NotAcceptable',
          `none of the media types in Accept (${req.headers.accept ?? ''}) can be served`,
        ),
      );
      return;
    }
    res.setHeader('Vary', 'Accept');
    res.setHeader('ETag', doc.etag);
    if (req.headers['if-none-match'] === doc.etag) {
      res.status(304).end();
      return;
    }
    res
      .status(200)
      .type(negotiation.kind === 'aggregated' ? negotiation.contentType : 'application/json')
      .send(doc.json);
  });
  app.get(['/apis/execution.syncflow.io', '/apis/execution.syncflow.io/'], (_req, res) => {
    res.json(apiGroup());
  });
  app.get([API_PREFIX, `${API_PREFIX}/`], (_req, res) => {
    res.json(apiResourceList());
  });
  app.get('/openapi/v2', (req, res) => {
    const doc = openApiV2Document();
    res.setHeader('ETag', doc.etag);
    if (req.headers['if-none-match'] === doc.etag) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(doc.json);
  });
  app.get('/openapi/v3', (_req, res) => {
    const doc = openApiV3IndexDocument();
    res.setHeader('ETag', doc.etag);
    res.type('application/json').send(doc.json);
  });
  app.get('/openapi/v3/apis/execution.syncflow.io/v1alpha1', (req, res) => {
    const answer = answerOpenApiV3({
      ...(typeof req.query.hash === 'string' ? { hash: req.query.hash } : {}),
      ...(typeof req.headers['if-none-match'] === 'string'
        ? { ifNoneMatch: req.headers['if-none-match'] }
        : {}),
    });
    if (answer.status === 301) {
      res.redirect(301, answer.location);
      return;
    }
    res.status(answer.status).set(answer.headers);
    if (answer.body) res.send(answer.body);
    else res.end();
  });

  // Load shedding: executions beyond the limit, or while the event loop lags, get 429 with
  // Retry-After before any work (authentication, body, routing).
  const limiter: InFlightLimiter & WorkLimiter = new WorkLimiter({
    limit: parts.maxInFlight,
    maxDelayMs: parts.load?.maxDelayMs ?? 0,
    signal: parts.load?.signal ?? NO_DELAY,
  });
  const shed = (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST') return next();
    if (!limiter.tryAcquire()) {
      parts.onShed?.();
      const error = new SyncflowError('TooManyRequests', limiter.refusal('executions'));
      const retryAfterSeconds = setRetryAfter(res, error.status);
      res.status(error.status).json(statusFromError(error, { retryAfterSeconds }));
      return;
    }
    releaseWhenDone(res, () => limiter.release());
    next();
  };
  // Admission reviews are not shed with executions: they have their own limits (admission/routes.ts).
  if (parts.admission) app.use(parts.admission);
  if (parts.console) app.use('/console', parts.console);
  if (parts.circuitBreakers) app.use(API_PREFIX, parts.circuitBreakers);
  app.use(shed);
  app.use(
    API_PREFIX,
    executionRoutes({
      service: parts.service,
      store: parts.store,
      guard: parts.guard,
      ...(parts.observer ? { observer: parts.observer } : {}),
      ...(parts.bookmarkIntervalMs ? { bookmarkIntervalMs: parts.bookmarkIntervalMs } : {}),
    }),
  );

  app.use((req: Request, res: Response) => {
    res
      .status(404)
      .json(
        failureStatus(404, `the server could not find the requested resource (${req.method} ${req.path})`),
      );
  });
  // Last resort: never crash, never leak internals.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof SyntaxError) error = new SyncflowError('BadRequest', 'malformed request');
    // The router's decoding of a path parameter that is not valid percent-encoding.
    else if (error instanceof URIError)
      error = new SyncflowError('BadRequest', 'the path is not valid percent-encoding');
    sendStatus(res, error);
  });
  const gateway = runGatewayHandler({
    service: parts.service,
    guard: parts.guard,
    limiter,
    ...(parts.onShed ? { onShed: parts.onShed } : {}),
  });
  return (req, res) => {
    if (!gateway(req, res)) app(req, res);
  };
}

function safeCheck(check: HealthCheck): boolean {
  try {
    return check.check();
  } catch {
    return false;
  }
}

function sendStatus(res: Response, error: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const status = statusFromError(error);
  res.status(status.code).json(status);
}
