/**
 * The server process of the names stress benchmark (forked by names.ts): the application of
 * `syncflow server` (`buildApp`) over plain HTTP with the real ExecutionService, DagExecutor over
 * undici (egress policy, loopback allowed), and the real history (PostgreSQL from DATABASE_URL, or
 * embedded PGlite without it); authentication is a TrustingGuard (not what is measured). pino JSON
 * logs at info go to the file named by STRESS_LOG, which the driver searches for "not recorded".
 *
 * Environment: STRESS_UPSTREAM (http://host:port/ of the counting upstream), STRESS_LOG, and
 * optionally DATABASE_URL. Sends `{port, history}` on IPC when listening; answers the message
 * `"flush"` with `{flushed: true, nameDraws}` once the history has everything recorded so far
 * (`nameDraws`: generated-name candidates drawn, five random numbers each); on `"close"` closes the
 * history and exits.
 */
import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import { buildApp } from '../../apiserver/app.ts';
import { DefinitionCatalog } from '../../core/definitions/catalog.ts';
import { ExecutionService } from '../../apiserver/execution/service.ts';
import { openHistory } from '../../history/index.ts';
import { TrustingGuard } from '../../apiserver/http/guard.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';
import { serverLogger } from '../../apiserver/logging.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';

export const NAMESPACE = 'stress';
export const WORKFLOW = 'count';

async function main(): Promise<void> {
  const upstream = process.env.STRESS_UPSTREAM as string;
  const logger = serverLogger('info', process.env.STRESS_LOG as string);
  const registry = new Registry();
  const history = await openHistory({
    logger,
    registry,
    retention: false,
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  });
  const catalog = new DefinitionCatalog();
  catalog.upsert({
    kind: 'WorkflowTask',
    metadata: { name: WORKFLOW, namespace: NAMESPACE, resourceVersion: '1' },
    spec: { http: { method: 'GET', url: upstream } },
  });
  catalog.upsert({
    kind: 'Workflow',
    metadata: { name: WORKFLOW, namespace: NAMESPACE, resourceVersion: '2' },
    spec: { tasks: [{ id: 'call', taskRef: { name: WORKFLOW } }] },
  });
  // Counts the generated-name candidates drawn: draws beyond one per generated create are retries.
  let randomCalls = 0;
  const random = () => {
    randomCalls++;
    return Math.random();
  };
  const http = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  const service = new ExecutionService({
    catalog,
    executor: new DagExecutor({ http, logger }),
    history: history.writer,
    store: history.store,
    secrets: new StaticSecrets(new Map()),
    random,
    logger,
    onBackgroundError: (error, what) =>
      logger.warn({ err: String((error as Error)?.message ?? error) }, `failed ${what}`),
  });
  const app = buildApp({
    service,
    store: history.store,
    guard: new TrustingGuard(),
    registry,
    maxInFlight: 4096,
    readiness: [{ name: 'history-writable', check: () => history.writer.canAccept() }],
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  process.on('message', (message) => {
    if (message === 'flush') {
      void history.writer.flush().then(() => process.send?.({ flushed: true, nameDraws: randomCalls / 5 }));
      return;
    }
    if (message !== 'close') return;
    void (async () => {
      server.closeAllConnections();
      server.close();
      await history.close();
      await http.close();
      logger.flush();
      setTimeout(() => process.exit(0), 200);
    })();
  });
  process.send?.({ port, history: history.target });
}

// Only as the forked server: the driver imports this module for its constants.
if (process.send) void main();
