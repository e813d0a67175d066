/**
 * `syncflow server`: wires the real collaborators (Kubernetes client, delegated authentication and
 * authorization, history, informers, engine) into the application and serves it over HTTPS with
 * a hot-reloaded certificate and a graceful shutdown.
 */
import { watchFile, unwatchFile, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { serverLogger } from './logging.ts';
import { Registry } from 'prom-client';
import { RevisionRecorder } from '../core/definitions/revision-recorder.ts';
import { aliasResolver } from '../adapters/egress/host-aliases.ts';
import { EgressPolicy } from '../adapters/egress/policy.ts';
import { DagExecutor } from '../core/engine/executor.ts';
import { UndiciTaskClient } from '../adapters/http-client.ts';
import { WsTaskClient } from '../adapters/ws-client.ts';
import { admissionRoutes } from '../admission/routes.ts';
import { KubeLiveDefinitions, KubeSecretDirectory } from '../kube/admission-clients.ts';
import { admissionMetrics } from '../admission/metrics.ts';
import { CachedSecretDirectory } from '../admission/secrets.ts';
import { buildApp } from './app.ts';
import { consoleRoutes, consoleUpgrades } from './console.ts';
import { consoleDistDir } from '../kube/console-api.ts';
import {
  AlwaysAllowPaths,
  AuthenticationConfigWatcher,
  KubernetesConfigMapSource,
  KubernetesReviewClient,
  SubjectAccessReviewAuthorizer,
  createDelegatingAuthenticator,
  tlsClientCAs,
} from './auth/index.ts';
import { startDefinitionController } from '../controller/index.ts';
import { DefinitionCatalog } from '../core/definitions/catalog.ts';
import { ExecutionService } from './execution/service.ts';
import { DebugRuns } from './execution/debug.ts';
import { openHistory, type History } from '../history/index.ts';
import { DelegatingGuard } from './http/guard.ts';
import { DEFAULT_CONNECTION_LIMITS, SecureListener } from './http/listener.ts';
import { EventLoopDelay, WorkLimiter } from './http/overload.ts';
import { ClientCertificateCallers } from './http/admission-callers.ts';
import { startDefinitionInformers, type DefinitionInformers } from '../kube/definition-informers.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { CachedSecrets, KubeSecretReader } from '../kube/secret-resolver.ts';
import { createServerMetrics } from './metrics.ts';
import { LiveBus, type LiveMessage } from './execution/bus.ts';
import { StreamEndpoint } from './stream/endpoint.ts';
import { createStreamMetrics } from './stream/metrics.ts';
import type { ServerConfig } from './options.ts';
import { reportListening, workerMetrics } from './workers.ts';
import { circuitBreakerRoutes } from './registry/circuitbreakers/rest.ts';

/** A running server. */
export interface RunningServer {
  port: number;
  /** Stops accepting, waits for in-flight executions (up to the grace period), flushes history. */
  shutdown(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startServer(
  config: ServerConfig,
  logger: Logger = serverLogger(config.logLevel),
  /** Set in a worker process of `--workers` (apiserver/workers.ts). */
  worker = false,
): Promise<RunningServer> {
  const registry = new Registry();
  const kubeConfig = await loadKubeConfig(config.kubeconfig);
  const reviews = new KubernetesReviewClient({ kubeConfig });
  const authConfig = new AuthenticationConfigWatcher({
    source: new KubernetesConfigMapSource({ kubeConfig }),
    logger,
  });
  await authConfig.start();
  const authenticator = createDelegatingAuthenticator({
    config: authConfig,
    client: reviews,
    registry,
    logger,
    anonymous: config.anonymousAuth,
  });
  const authorizer = new AlwaysAllowPaths(
    new SubjectAccessReviewAuthorizer({ client: reviews, registry, logger }),
  );
  const guard = new DelegatingGuard(authenticator, authorizer);

  if (!config.databaseUrl) {
    logger.warn(
      { embeddedDataDir: config.embeddedDataDir || '(memory)' },
      'no --database-url / DATABASE_URL: using the embedded PGlite database, a development default; use PostgreSQL in production',
    );
  }
  const history: History = await openHistory({
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    ...(config.embeddedDataDir ? { embeddedDataDir: config.embeddedDataDir } : {}),
    logger,
    registry,
    writer: { maxQueued: config.historyMaxQueued },
    retention: { maxAgeMs: config.historyRetentionMs },
  });

  const secretReader = new KubeSecretReader(kubeConfig);
  // One recorder for the execution service and the status controller: one snapshot, one set of repeats skipped.
  const revisions = new RevisionRecorder(history.store);
  const catalog = new DefinitionCatalog();
  const informersStarting = startDefinitionInformers(kubeConfig, catalog, logger);
  // Status controller (leader only); subscribes to the catalog now, reconciles once both kinds listed.
  const controller = startDefinitionController({
    kubeConfig,
    catalog,
    revisions,
    logger,
    leaderElect: config.leaderElect,
    leaseNamespace: config.leaderElectionNamespace,
    identity: config.podName,
    timings: config.leaderElection,
    synced: async () => (await informersStarting).waitForSync(),
  });
  const informers: DefinitionInformers = await informersStarting;
  const metrics = createServerMetrics(registry);
  const policy = new EgressPolicy(config.egress, aliasResolver(config.hostAliases));
  const http = new UndiciTaskClient({ policy });
  // Loaded only when tracing is on: with it off, neither the OpenTelemetry SDK nor a hook exists.
  const tracing = config.tracing
    ? (await import('../adapters/tracing.ts')).startTracing(config.tracing, {
        // A collector that is down fails every batch: one line a minute, with the count.
        onProblem: (message, suppressed) =>
          logger.warn({ err: message, suppressed }, 'tracing export problem'),
      })
    : undefined;
  if (config.tracing)
    logger.info(
      { endpoint: new URL(config.tracing.endpoint).origin, ratio: config.tracing.ratio },
      'tracing on',
    );
  const executor = new DagExecutor({
    http,
    websocket: new WsTaskClient({ policy }),
    logger,
    observer: metrics.observer,
    ...(tracing ? { tracer: tracing.tracer } : {}),
  });
  metrics.watchBreakers(executor.resilience.breakers);
  metrics.watchResilience(executor.resilience.counts);
  const service = new ExecutionService({
    // Live events of every replica's executions, through the history database (DESIGN §9).
    bus: new LiveBus(history.openLiveFanout<LiveMessage>()),
    catalog,
    // Until every definition is listed, an unknown or not-Ready workflow is answered 503 (retry).
    definitionsSynced: () => informers.synced(),
    executor,
    history: history.writer,
    store: history.store,
    revisions,
    secrets: new CachedSecrets(secretReader),
    logger,
    onBackgroundError: (error, what) =>
      logger.warn({ err: String((error as Error)?.message ?? error) }, `failed ${what}`),
    debugRuns: new DebugRuns({
      maxConcurrent: config.maxDebugRuns,
      idleTimeoutMs: config.debugIdleTimeoutMs,
    }),
  });
  let shuttingDown = false;
  const loopDelay = new EventLoopDelay();
  // Read once at start: the file names a CA kube-apiserver's webhook client certificate comes from.
  const admissionCa = config.admissionClientCa ? readFileSync(config.admissionClientCa, 'utf8') : undefined;
  const app = buildApp({
    service,
    store: history.store,
    guard,
    // A worker's /metrics answers the sum over all workers (asked of the primary).
    registry: worker ? workerMetrics(registry) : registry,
    maxInFlight: config.maxInFlight,
    load: { signal: loopDelay, maxDelayMs: config.maxEventLoopDelayMs },
    // Validating webhooks for Workflow and WorkflowTask.
    admission: admissionRoutes({
      definitions: catalog,
      live: new KubeLiveDefinitions(kubeConfig),
      secrets: new CachedSecretDirectory(new KubeSecretDirectory(secretReader)),
      logger,
      onDecision: admissionMetrics(registry),
      // Own limits (count and event loop delay, body size), and who may see namespace details.
      limiter: new WorkLimiter({
        limit: config.admissionMaxInFlight,
        maxDelayMs: config.maxEventLoopDelayMs,
        signal: loopDelay,
      }),
      onShed: () => metrics.shed.inc(),
      ...(admissionCa
        ? { callers: new ClientCertificateCallers(admissionCa, config.admissionAllowedNames) }
        : {}),
    }),
    onShed: () => metrics.shed.inc(),
    // The web console at /console/: the browser's own token reaches kube-apiserver, never the server's.
    console: consoleRoutes({ kubeConfig, distDir: consoleDistDir(new URL(import.meta.url)) }),
    // This process's breakers; with --workers, each worker answers for its own.
    circuitBreakers: circuitBreakerRoutes({
      guard,
      breakers: executor.resilience.breakers,
      replica: worker ? `${config.podName}/${process.pid}` : config.podName,
    }),
    readiness: [
      { name: 'informers-synced', check: () => informers.synced() },
      { name: 'history-writable', check: () => history.writer.canAccept() },
      { name: 'shutdown', check: () => !shuttingDown },
    ],
    observer: {
      requestFailed: (error, context) => {
        const status = (error as { status?: number }).status;
        if (status === undefined || status >= 500)
          logger.error({ ...context, err: String((error as Error)?.message ?? error) }, 'request failed');
      },
    },
  });

  const secureContext = () => ({
    cert: readFileSync(config.tlsCertFile),
    key: readFileSync(config.tlsPrivateKeyFile),
    ca: [...tlsClientCAs(authConfig.current()), ...(admissionCa ? [admissionCa] : [])],
  });
  const server = new SecureListener({
    tls: secureContext(),
    handler: app,
    limits: { ...DEFAULT_CONNECTION_LIMITS, maxConnections: config.maxConnections },
    // Workers share the primary's socket (node:cluster); one server each.
    ...(worker ? { acceptors: 1 } : {}),
  });
  // WebSockets on the same port: the live-events stream and Kubernetes watches (docs/stream.md).
  const stream = new StreamEndpoint({
    service,
    store: history.store,
    guard,
    // Stream executions are shed like the HTTP ones (their own count, the same event loop signal).
    limiter: new WorkLimiter({
      limit: config.maxInFlight,
      maxDelayMs: config.maxEventLoopDelayMs,
      signal: loopDelay,
    }),
    metrics: createStreamMetrics(registry),
  });
  // The console's own WebSockets (/console/k8s/..., forwarded with the browser's token) first.
  const consoleUpgrade = consoleUpgrades({ kubeConfig });
  server.onUpgrade((req, socket, head) => {
    if (!consoleUpgrade(req, socket, head)) stream.handleUpgrade(req, socket, head);
  });
  const reload = (why: string) => {
    try {
      server.setSecureContext(secureContext());
      logger.info({ why }, 'TLS context reloaded');
    } catch (error) {
      // A half-written certificate must not take the server down: keep the old context.
      logger.warn(
        { why, err: String((error as Error).message) },
        'TLS context reload failed; keeping the previous one',
      );
    }
  };
  for (const file of [config.tlsCertFile, config.tlsPrivateKeyFile]) {
    watchFile(file, { interval: 1_000 }, () => reload(`${file} changed`));
  }
  authConfig.on('change', () => reload('extension-apiserver-authentication changed'));

  const port = await server.listen(config.securePort, config.bindAddress);
  if (worker) reportListening(port);
  logger.info({ port, database: history.target }, 'syncflow server listening');

  return {
    port,
    async shutdown() {
      if (shuttingDown) return;
      shuttingDown = true;
      logger.info({ graceMs: config.shutdownGraceMs }, 'shutting down: finishing in-flight executions');
      for (const file of [config.tlsCertFile, config.tlsPrivateKeyFile]) unwatchFile(file);
      stream.close();
      const closed = server.close();
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([closed, grace]);
      server.closeAllConnections();
      loopDelay.stop();
      await controller.stop();
      await history.close({ timeoutMs: config.shutdownGraceMs });
      await informers.stop();
      authConfig.stop();
      await http.close();
      await tracing
        ?.shutdown()
        .catch((error: unknown) =>
          logger.warn({ err: String((error as Error)?.message ?? error) }, 'exporting the last spans failed'),
        );
      logger.info('shut down');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    },
  };
}
