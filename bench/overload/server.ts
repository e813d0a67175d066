/**
 * The server of the overload benchmark, in its own process (forked by run.ts, driven over IPC): the
 * application of `syncflow server` (`buildApp`) on the server's own HTTPS listener
 * (apiserver/http/listener.ts, with the limits `syncflow server` derives from its flags), the real
 * DelegatingGuard (front-proxy client certificates, SubjectAccessReview authorizer with its cache;
 * only the review call is answered in-process), the real DagExecutor over undici, the history writer
 * on PostgreSQL or embedded PGlite, and the admission webhooks.
 */
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { admissionRoutes } from '../../admission/routes.ts';
import { buildApp } from '../../apiserver/app.ts';
import {
  AlwaysAllowPaths,
  SubjectAccessReviewAuthorizer,
  createDelegatingAuthenticator,
  tlsClientCAs,
} from '../../apiserver/auth/index.ts';
import { DefinitionCatalog, type DefinitionObject } from '../../core/definitions/catalog.ts';
import { ExecutionService } from '../../apiserver/execution/service.ts';
import { openHistory } from '../../history/index.ts';
import { DelegatingGuard } from '../../apiserver/http/guard.ts';
import { DEFAULT_CONNECTION_LIMITS, SecureListener } from '../../apiserver/http/listener.ts';
import { EventLoopDelay } from '../../apiserver/http/overload.ts';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { RequestListener } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { serverLogger } from '../../apiserver/logging.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';
import { createServerMetrics } from '../../apiserver/metrics.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import type { BenchPki } from '../api/pki.ts';
import { frontProxyAuthentication, InProcessReviews, NAMESPACE } from '../api/front-proxy.ts';

/** The workflow the overload runs; namespace and callers' group are the gateway benchmark's. */
export const WORKFLOW = 'slow';
export { CALLER_GROUP, NAMESPACE } from '../api/front-proxy.ts';

/** Messages from the driver. */
export type OverloadServerMessage =
  | {
      type: 'start';
      pki: BenchPki;
      upstream: string;
      delayMs: number;
      maxInFlight: number;
      maxConnections: number;
      maxEventLoopDelayMs: number;
      /** Servers on the port (default: the listener's). */
      acceptors?: number;
      /** The server as it was before overload protection: default Node HTTPS settings, shedding by count only. */
      before?: boolean;
      /** The floor: the same listener with a handler that answers at once (429 to POST), nothing else. */
      floor?: boolean;
      databaseUrl?: string;
    }
  | { type: 'stats'; since?: number }
  | { type: 'finish' };

/** One task calling the upstream's `/delay/<ms>`: an execution takes about `delayMs`. */
function definitions(upstream: string, delayMs: number): DefinitionObject[] {
  return [
    {
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'WorkflowTask',
      metadata: { name: 'wait', namespace: NAMESPACE, resourceVersion: '1' },
      spec: { http: { method: 'GET', url: `${upstream}/delay/${delayMs}/{{input.userId}}` }, timeout: '30s' },
    } as DefinitionObject,
    {
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name: WORKFLOW, namespace: NAMESPACE, resourceVersion: '2' },
      spec: {
        inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
        tasks: [{ id: 'wait', taskRef: { name: 'wait' }, input: { userId: '{{input.userId}}' } }],
        output: { answer: '{{tasks.wait.output.id}}' },
        timeout: '60s',
      },
    } as DefinitionObject,
  ];
}

async function start(
  message: Extract<OverloadServerMessage, { type: 'start' }>,
): Promise<() => Promise<void>> {
  const { pki } = message;
  const registry = new Registry();
  const logger = serverLogger('info', '/dev/null');
  const authConfig = frontProxyAuthentication(pki);
  const reviews = new InProcessReviews();
  const guard = new DelegatingGuard(
    createDelegatingAuthenticator({ config: authConfig, client: reviews, registry, logger }),
    new AlwaysAllowPaths(new SubjectAccessReviewAuthorizer({ client: reviews, registry, logger })),
  );
  const history = await openHistory({
    ...(message.databaseUrl ? { databaseUrl: message.databaseUrl } : {}),
    logger,
    registry,
    retention: false,
  });
  const catalog = new DefinitionCatalog();
  for (const object of definitions(message.upstream, message.delayMs)) catalog.upsert(object);
  const metrics = createServerMetrics(registry);
  const http = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  const service = new ExecutionService({
    catalog,
    executor: new DagExecutor({ http, logger, observer: metrics.observer }),
    history: history.writer,
    store: history.store,
    secrets: new StaticSecrets(new Map()),
    logger,
  });
  const syncflow = buildApp({
    service,
    store: history.store,
    guard,
    registry,
    maxInFlight: message.maxInFlight,
    ...(message.before
      ? {}
      : { load: { signal: new EventLoopDelay(), maxDelayMs: message.maxEventLoopDelayMs } }),
    onShed: () => metrics.shed.inc(),
    readiness: [{ name: 'history-writable', check: () => history.writer.canAccept() }],
    admission: admissionRoutes({ definitions: catalog }),
  });
  const app: RequestListener = message.floor
    ? (req, res) => {
        req.resume();
        res.writeHead(req.url === '/livez' ? 200 : 429, {
          'content-type': 'application/json',
          'retry-after': '1',
        });
        res.end('{}');
      }
    : syncflow;
  const tls = { cert: pki.serverCert, key: pki.serverKey, ca: tlsClientCAs(authConfig) };
  const listener = message.before
    ? undefined
    : new SecureListener({
        tls,
        handler: app,
        limits: { ...DEFAULT_CONNECTION_LIMITS, maxConnections: message.maxConnections },
        ...(message.acceptors ? { acceptors: message.acceptors } : {}),
      });
  const servers = listener
    ? [...listener.httpsServers]
    : [createServer({ ...tls, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, app)];
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const phases = { requests: 0 };
  const acceptedAt = new Map<number, number>();
  const accepts: number[] = [];
  const handshakes: number[] = [];
  for (const server of servers)
    server.on('connection', (socket: Socket) => {
      const now = performance.timeOrigin + performance.now();
      accepts.push(now);
      acceptedAt.set(socket.remotePort ?? 0, now);
    });
  for (const server of servers)
    server.on('secureConnection', (socket: TLSSocket) => {
      const at = acceptedAt.get(socket.remotePort ?? 0);
      if (at) handshakes.push(performance.timeOrigin + performance.now() - at);
    });
  for (const server of servers) server.on('request', () => phases.requests++);
  diagnostics = (since = 0) => ({
    ...phases,
    acceptsAfterMs: pct(accepts.filter((a) => a >= since).map((a) => a - since)),
    handshakeMs: pct(handshakes),
    loopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
  });
  let port: number;
  if (listener) port = await listener.listen(0, '127.0.0.1');
  else {
    const server = servers[0] as HttpsServer;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }
  process.send?.({ type: 'listening', port, node: process.version, acceptors: servers.length });
  return async () => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    await history.close();
    await http.close();
  };
}

let stop: (() => Promise<void>) | undefined;
let diagnostics: (since?: number) => object = () => ({});
function pct(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), max: at(1) };
}
process.on('message', (message: OverloadServerMessage) => {
  void (async () => {
    if (message.type === 'start') stop = await start(message);
    else if (message.type === 'stats')
      process.send?.({
        type: 'stats',
        rssBytes: process.memoryUsage.rss(),
        elu: performance.eventLoopUtilization(),
        diagnostics: diagnostics(message.since),
      });
    else if (message.type === 'finish') {
      await stop?.();
      process.send?.({ type: 'finished' }, () => process.exit(0));
    }
  })().catch((error: unknown) => {
    process.stderr.write(`overload server: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
