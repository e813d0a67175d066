/**
 * The servers of the gateway benchmark, each run as its own process (forked by gateway.ts, driven
 * over IPC) so that the driver's and the other server's work are not charged to it.
 *
 *   syncflow  the application of `syncflow server` (`buildApp`) over HTTPS with everything a request
 *             meets in production: the real DelegatingGuard (front-proxy certificate verification,
 *             X-Remote-* headers, SubjectAccessReview authorizer with its cache; only the review call
 *             itself is answered in-process), the real DagExecutor over undici with egress policy,
 *             pino info logs (to /dev/null), Prometheus metrics and the history writer on PostgreSQL
 *             (or embedded PGlite).
 *   baseline  the engine benchmark's hand-written orchestrator (bench/engine/workloads.ts) behind a
 *             minimal node:https server on the same certificate: what a gateway costs at the least.
 *
 * Both serve `POST /run/v1/namespaces/bench/workflows/{fan,diamond}`.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { serverLogger } from '../../apiserver/logging.ts';
import { Registry } from 'prom-client';
import { Agent } from 'undici';
import { buildApp } from '../../apiserver/app.ts';
import {
  AlwaysAllowPaths,
  SubjectAccessReviewAuthorizer,
  createDelegatingAuthenticator,
  tlsClientCAs,
} from '../../apiserver/auth/index.ts';
import { DefinitionCatalog, type DefinitionObject } from '../../core/definitions/catalog.ts';
import { ExecutionService } from '../../apiserver/execution/service.ts';
import { openHistory, type History } from '../../history/index.ts';
import { startEmbeddedDatabase } from '../../history/embedded.ts';
import { LiveBus, type LiveMessage } from '../../apiserver/execution/bus.ts';
import { DelegatingGuard, TrustingGuard } from '../../apiserver/http/guard.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';
import { createServerMetrics } from '../../apiserver/metrics.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { baselineRun, DIAMOND, FAN, type Run } from '../engine/workloads.ts';
import type { BenchPki } from './pki.ts';
import { replyOf } from './measure.ts';
import { CALLER_GROUP, frontProxyAuthentication, InProcessReviews, NAMESPACE } from './front-proxy.ts';

export { CALLER_GROUP, NAMESPACE } from './front-proxy.ts';

/** The two workflows: name, shape and upstream delay. */
export const WORKFLOWS = {
  fan: { shape: FAN, delayMs: 0 },
  diamond: { shape: DIAMOND, delayMs: 10 },
} as const;
export type WorkflowName = keyof typeof WORKFLOWS;

/**
 * Parts the ablation run (`gateway.ts --ablation`) switches off one at a time to attribute the
 * gateway's CPU per request; never used for the target figures.
 */
export type Ablation = 'auth' | 'history' | 'logs' | 'metrics' | 'live';

/** Messages from the driver. */
export type DriverMessage =
  | {
      type: 'start';
      mode: 'syncflow' | 'baseline';
      pki: BenchPki;
      upstream: string;
      databaseUrl?: string;
      without?: Ablation[];
      /** Ablation only: the baseline inside express (see expressBaseline). */
      express?: boolean;
      /**
       * syncflow only: event loops sharing the listening socket, as `syncflow server --workers N`
       * runs them (node:cluster; with the embedded database the primary serves it to the workers).
       */
      workers?: number;
    }
  | { type: 'cpu' }
  | { type: 'finish'; lastExecution?: string };

/** The same definitions as bench/engine/workloads.ts, as the objects the informers would deliver. */
function definitions(upstream: string): DefinitionObject[] {
  const objects: DefinitionObject[] = [];
  const outputSchema = {
    type: 'object',
    required: ['id', 'email'],
    properties: {
      id: { type: 'string' },
      email: { type: 'string' },
      v: { type: 'integer' },
      items: { type: 'array' },
    },
  };
  let rv = 1;
  for (const [workflow, { shape, delayMs }] of Object.entries(WORKFLOWS)) {
    for (const step of shape) {
      objects.push({
        apiVersion: 'syncflow.io/v1alpha1',
        kind: 'WorkflowTask',
        metadata: { name: `${workflow}-${step.id}`, namespace: NAMESPACE, resourceVersion: String(rv++) },
        spec: {
          inputSchema: { type: 'object', properties: { userId: { type: 'string' } } },
          outputSchema,
          http: {
            method: 'GET',
            url: `${upstream}/delay/${delayMs}/t-${step.id}/{{input.userId}}`,
            headers: { 'x-user': '{{input.userId}}' },
          },
          timeout: '5s',
        },
      } as DefinitionObject);
    }
    const last = shape[shape.length - 1] as { id: string };
    objects.push({
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name: workflow, namespace: NAMESPACE, resourceVersion: String(rv++) },
      spec: {
        inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
        tasks: shape.map((s) => ({
          id: s.id,
          taskRef: { name: `${workflow}-${s.id}` },
          input: { userId: s.deps.length ? `{{tasks.${s.deps[0]}.output.id}}` : '{{input.userId}}' },
          dependsOn: s.deps,
        })),
        output: { email: '{{tasks.a.output.email}}', last: `{{tasks.${last.id}.output}}` },
        maxConcurrency: 16,
      },
    } as DefinitionObject);
  }
  return objects;
}

interface Running {
  server: Server;
  close(lastExecution?: string): Promise<Record<string, unknown>>;
}

async function startSyncflow(message: Extract<DriverMessage, { type: 'start' }>): Promise<Running> {
  const { pki } = message;
  const registry = new Registry();
  // The server's own logger (buffered JSON lines), to /dev/null.
  const logger = serverLogger('info', '/dev/null');
  const authConfig = frontProxyAuthentication(pki);
  const reviews = new InProcessReviews();
  const authenticator = createDelegatingAuthenticator({
    config: authConfig,
    client: reviews,
    registry,
    logger,
  });
  const authorizer = new AlwaysAllowPaths(
    new SubjectAccessReviewAuthorizer({ client: reviews, registry, logger }),
  );
  const without = new Set(message.without ?? []);
  const guard = without.has('auth')
    ? new TrustingGuard({
        username: 'system:serviceaccount:shop:checkout',
        groups: [CALLER_GROUP],
        extra: {},
      })
    : new DelegatingGuard(authenticator, authorizer);
  const history: History = await openHistory({
    ...(message.databaseUrl ? { databaseUrl: message.databaseUrl } : {}),
    logger,
    registry,
    retention: false,
  });
  const catalog = new DefinitionCatalog();
  for (const object of definitions(message.upstream)) catalog.upsert(object);
  const metrics = createServerMetrics(registry);
  const http = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  const noHistory = {
    admit: () => ({ record: () => undefined, release: () => undefined }),
    flush: async () => undefined,
    pending: () => undefined,
  };
  const service = new ExecutionService({
    catalog,
    executor: new DagExecutor({
      http,
      ...(without.has('logs') ? {} : { logger }),
      ...(without.has('metrics') ? {} : { observer: metrics.observer }),
    }),
    history: without.has('history') ? noHistory : history.writer,
    store: history.store,
    // As the server wires it: the live bus over the database's fan-out (nobody listens here).
    bus: new LiveBus(history.openLiveFanout<LiveMessage>()),
    secrets: new StaticSecrets(new Map()),
    ...(without.has('logs') ? {} : { logger }),
  });
  // Without the live-events code path: the run path never asks whether anyone listens and gives
  // the engine no observer (what the server did before live events), to price that path when
  // nobody listens. Replaces one private method on this instance only.
  if (without.has('live')) Object.defineProperty(service, 'publisher', { value: () => undefined });
  const app = buildApp({
    service,
    store: history.store,
    guard,
    registry,
    maxInFlight: 1024,
    onShed: () => metrics.shed.inc(),
    readiness: [{ name: 'history-writable', check: () => history.writer.canAccept() }],
  });
  const server = createServer(
    {
      cert: pki.serverCert,
      key: pki.serverKey,
      ca: tlsClientCAs(authConfig),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    app,
  );
  return {
    server,
    async close(lastExecution) {
      await history.writer.flush();
      const [ns, name] = (lastExecution ?? '/').split('/') as [string, string];
      const recorded = name ? await history.store.get(ns, name) : undefined;
      const verdict = {
        history: history.target,
        lastExecutionRecorded: recorded !== undefined,
        lastExecutionUser: recorded?.status.user,
        subjectAccessReviews: reviews.reviews,
      };
      server.closeAllConnections();
      server.close();
      await history.close();
      await http.close();
      return verdict;
    },
  };
}

async function startBaseline(message: Extract<DriverMessage, { type: 'start' }>): Promise<Running> {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: null });
  const runs = new Map<string, Run>(
    Object.entries(WORKFLOWS).map(([name, w]) => [
      name,
      baselineRun(agent, message.upstream, w.delayMs, w.shape),
    ]),
  );
  const prefix = `/run/v1/namespaces/${NAMESPACE}/workflows/`;
  if (message.express)
    return { server: expressBaseline(message, runs), close: async () => (await agent.close(), {}) };
  const server = createServer(
    { cert: message.pki.serverCert, key: message.pki.serverKey, minVersion: 'TLSv1.2' },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const run =
          req.method === 'POST' && req.url?.startsWith(prefix)
            ? runs.get(req.url.slice(prefix.length))
            : undefined;
        if (!run) {
          res.writeHead(404).end();
          return;
        }
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        run().then(
          (output) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(output)),
          (error: unknown) => res.writeHead(502, { 'content-type': 'text/plain' }).end(String(error)),
        );
      });
    },
  );
  return {
    server,
    async close() {
      server.closeAllConnections();
      server.close();
      await agent.close();
      return {};
    },
  };
}

/**
 * Ablation only: the same baseline orchestrator inside an express 5 application set up as
 * `buildApp` sets it up (route parameters, `res.status().type().send()`), behind the same TLS
 * settings as the gateway (client certificates requested): what the HTTP framework costs by itself.
 */
function expressBaseline(message: Extract<DriverMessage, { type: 'start' }>, runs: Map<string, Run>): Server {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  const router = express.Router({ strict: true });
  router.post('/run/v1/namespaces/:namespace/workflows/:name', async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const run = runs.get(req.params.name as string);
    if (!run) {
      res.status(404).end();
      return;
    }
    res
      .status(200)
      .type('application/json')
      .send(JSON.stringify(await run()));
  });
  app.use(router);
  return createServer(
    {
      cert: message.pki.serverCert,
      key: message.pki.serverKey,
      ca: [message.pki.frontProxyCa],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    app,
  );
}

let running: Running | undefined;

/**
 * `workers > 1`: this process is the cluster primary. Like `syncflow server --workers N` it serves
 * the embedded database (when no URL is given) and forks N workers, each a complete server on the
 * shared socket; CPU is the sum over the primary and the workers.
 */
async function startPrimary(message: Extract<DriverMessage, { type: 'start' }>): Promise<void> {
  const embedded = message.databaseUrl
    ? undefined
    : await startEmbeddedDatabase({
        logger: serverLogger('info', '/dev/null'),
        maxConnections: (message.workers as number) * 12 + 4,
      });
  const start = { ...message, workers: 1, databaseUrl: message.databaseUrl ?? embedded?.connectionString };
  const workers: Worker[] = [];
  let port = 0;
  for (let i = 0; i < (message.workers as number); i++) {
    const worker = cluster.fork();
    workers.push(worker);
    worker.send(start);
    port = (await reply<{ port: number }>(worker, 'listening')).port;
  }
  const ask = <T>(type: 'cpu' | 'finish', extra: object = {}) =>
    Promise.all(
      workers.map((worker) => {
        worker.send({ type, ...extra });
        return reply<T>(worker, type === 'cpu' ? 'cpu' : 'finished');
      }),
    );
  process.on('message', (raw: DriverMessage) => {
    void (async () => {
      if (raw.type === 'cpu') {
        const own = process.cpuUsage();
        const usage = (await ask<{ usage: NodeJS.CpuUsage }>('cpu')).reduce(
          (sum, r) => ({ user: sum.user + r.usage.user, system: sum.system + r.usage.system }),
          own,
        );
        process.send?.({ type: 'cpu', usage });
      } else if (raw.type === 'finish') {
        // Each worker flushes and closes its history; the execution is looked up by all of them
        // after every writer has flushed, so the one that ran it need not be known.
        const verdicts = await ask<{ verdict: Record<string, unknown> }>('finish', {
          ...(raw.lastExecution ? { lastExecution: raw.lastExecution } : {}),
        });
        await embedded?.close();
        const recorded = verdicts.some((v) => v.verdict.lastExecutionRecorded === true);
        process.send?.(
          {
            type: 'finished',
            verdict: { ...verdicts[0]?.verdict, lastExecutionRecorded: recorded, workers: workers.length },
          },
          () => process.exit(0),
        );
      }
    })();
  });
  process.send?.({ type: 'listening', port, node: process.version });
}

function reply<T>(worker: Worker, type: string): Promise<T> {
  return replyOf<T>(worker, type, 'a worker');
}

let primary = false;
process.on('message', (message: DriverMessage) => {
  if (primary) return;
  void (async () => {
    if (message.type === 'start') {
      if ((message.workers ?? 1) > 1 && cluster.isPrimary) {
        primary = true;
        await startPrimary(message);
        return;
      }
      running = message.mode === 'syncflow' ? await startSyncflow(message) : await startBaseline(message);
      running.server.keepAliveTimeout = 60_000;
      await new Promise<void>((resolve) => running?.server.listen(0, '127.0.0.1', resolve));
      process.send?.({
        type: 'listening',
        port: (running.server.address() as AddressInfo).port,
        node: process.version,
      });
    } else if (message.type === 'cpu') {
      process.send?.({ type: 'cpu', usage: process.cpuUsage() });
    } else if (message.type === 'finish') {
      const verdict = (await running?.close(message.lastExecution)) ?? {};
      // A worker stays alive until its primary exits (its CPU profile is written then).
      if (cluster.isWorker) process.send?.({ type: 'finished', verdict });
      else process.send?.({ type: 'finished', verdict }, () => process.exit(0));
    }
  })().catch((error: unknown) => {
    process.stderr.write(`gateway-server: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
