/**
 * The HTTP surface of `workflowexecutions` (and the read-only `workflowrevisions`) as the
 * Kubernetes API conventions define it: create runs the workflow, get/list/watch/delete read the
 * history, patch changes labels and annotations only. Errors are `Status` objects.
 */
import express, { type Request, type Response, type Router } from 'express';
import { SyncflowError } from '../../../core/errors.ts';
import { retryAfterSeconds, setRetryAfter } from '../../../core/serving.ts';
import { EXECUTION_API_VERSION } from '../../../core/model/resources.ts';
import { executionTable, revisionTable, wantsTable } from '../../api/table.ts';
import { statusFromError } from '../../api/status.ts';
import { fieldValidationOutcome, parseFieldValidation, validateExecutionFields } from '../../api/openapi.ts';
import type { UserInfo } from '../../auth/user.ts';
import type { ExecutionService } from '../../execution/service.ts';
import { mergeLiveWatch } from '../../execution/live.ts';
import type { ExecutionStore, WorkflowRevisionRecord, WatchEvent } from '../../../history/store.ts';
import { parseJson, readBody } from '../../http/body.ts';
import type { RequestGuard, ResourceRequest } from '../../http/guard.ts';
import { applyObjectPatch, patchTypeOf } from './patch.ts';
import { checkPatchedObject, validateCreate, type WorkflowExecution } from '../../../core/model/execution.ts';

/** Observability hooks of the REST layer. */
export interface RestObserver {
  requestFailed?(error: unknown, context: { verb: string; namespace?: string; name?: string }): void;
}

/** Collaborators of the REST handlers. */
export interface ExecutionRestOptions {
  service: ExecutionService;
  store: ExecutionStore;
  guard: RequestGuard;
  observer?: RestObserver;
  /** Interval of watch BOOKMARK events when the client allows them (default 15 s). */
  bookmarkIntervalMs?: number;
}

const EXECUTIONS = 'workflowexecutions';
const REVISIONS = 'workflowrevisions';

/** Routes under `/apis/execution.syncflow.io/v1alpha1`. */
export function executionRoutes(options: ExecutionRestOptions): Router {
  const router = express.Router({ strict: true });
  const { guard, store, service } = options;

  /** Authenticates, authorizes and runs a handler; every error becomes a Status. */
  const handle =
    (
      resource: string,
      verbOf: (req: Request) => string,
      run: (req: Request, res: Response, user: UserInfo) => Promise<void>,
    ) =>
    async (req: Request, res: Response): Promise<void> => {
      const namespace = req.params.namespace as string | undefined;
      const name = req.params.name as string | undefined;
      const verb = verbOf(req);
      try {
        const user = await guard.authenticate(req);
        const request: ResourceRequest = {
          verb,
          resource,
          ...(namespace ? { namespace } : {}),
          ...(name ? { name } : {}),
        };
        await guard.authorize(user, request);
        await run(req, res, user);
      } catch (error) {
        options.observer?.requestFailed?.(error, {
          verb,
          ...(namespace ? { namespace } : {}),
          ...(name ? { name } : {}),
        });
        sendError(res, error, resource === EXECUTIONS ? 'WorkflowExecution' : 'WorkflowRevision', name);
      }
    };

  const listVerb = (req: Request) => (isWatch(req) ? 'watch' : 'list');

  // Collections.
  for (const path of ['/namespaces/:namespace/workflowexecutions', '/workflowexecutions']) {
    router.get(
      path,
      handle(EXECUTIONS, listVerb, (req, res) =>
        isWatch(req) ? serveExecutionWatch(options, req, httpWatchOutput(res)) : listExecutions(req, res),
      ),
    );
  }
  router.post(
    '/namespaces/:namespace/workflowexecutions',
    handle(
      EXECUTIONS,
      () => 'create',
      async (req, res, user) => {
        const body = parseJson(await readBody(req));
        const namespace = req.params.namespace as string;
        const warnings = fieldValidation(req, body);
        const request = validateCreate(body, namespace);
        const controller = new AbortController();
        // A client that goes away cancels its execution (it is still recorded, as Cancelled).
        const onClose = () => {
          if (!res.writableFinished) controller.abort();
        };
        res.once('close', onClose);
        const dryRun = queryValues(req, 'dryRun');
        if (dryRun.some((v) => v !== 'All'))
          throw new SyncflowError(
            'BadRequest',
            `dryRun=${dryRun.join(',')} is not supported: use dryRun=All`,
          );
        const traceparent = req.headers.traceparent;
        const object = await service.run(request, {
          user: user.username,
          dryRun: dryRun.length > 0,
          signal: controller.signal,
          waitForHistory: true,
          ...(typeof traceparent === 'string' ? { traceparent } : {}),
        });
        res.off('close', onClose);
        for (const warning of warnings) res.append('Warning', warning);
        res.setHeader('Syncflow-Execution', `${object.metadata.namespace}/${object.metadata.name}`);
        sendObject(req, res, 201, object);
      },
    ),
  );
  router.delete(
    '/namespaces/:namespace/workflowexecutions',
    handle(
      EXECUTIONS,
      () => 'deletecollection',
      async (req, res) => {
        const deleted = await store.deleteCollection(filterOf(req));
        res.status(200).json(listObject(deleted, await store.currentResourceVersion()));
      },
    ),
  );

  // Single executions.
  const single = '/namespaces/:namespace/workflowexecutions/:name';
  router.get(
    single,
    handle(
      EXECUTIONS,
      () => 'get',
      async (req, res) => {
        sendObject(
          req,
          res,
          200,
          await getExecution(req.params.namespace as string, req.params.name as string),
        );
      },
    ),
  );
  router.delete(
    single,
    handle(
      EXECUTIONS,
      () => 'delete',
      async (req, res) => {
        const deleted = await store.delete(req.params.namespace as string, req.params.name as string);
        // Deletion is immediate (no finalizers), so the response is the object as it was.
        res.status(200).json(deleted);
      },
    ),
  );
  router.patch(
    single,
    handle(
      EXECUTIONS,
      () => 'patch',
      async (req, res) => {
        const type = patchTypeOf(req.headers['content-type']);
        const patch = parseJson(await readBody(req), 'patch');
        const namespace = req.params.namespace as string;
        const name = req.params.name as string;
        const stored = await getExecution(namespace, name);
        const patched = applyObjectPatch(stored, type, patch);
        const { labels, annotations } = checkPatchedObject(stored, patched);
        const rv = (patched as WorkflowExecution).metadata?.resourceVersion;
        const updated = await store.updateMetadata(namespace, name, {
          labels,
          annotations,
          ...(rv && rv !== stored.metadata.resourceVersion ? { resourceVersion: rv } : {}),
        });
        sendObject(req, res, 200, updated);
      },
    ),
  );
  router.put(
    single,
    handle(
      EXECUTIONS,
      () => 'update',
      async () => {
        throw new SyncflowError(
          'MethodNotAllowed',
          'executions are immutable: use PATCH to change labels or annotations',
        );
      },
    ),
  );

  // Revisions (read-only).
  for (const path of ['/namespaces/:namespace/workflowrevisions', '/workflowrevisions']) {
    router.get(
      path,
      handle(REVISIONS, listVerb, async (req, res) => {
        if (isWatch(req))
          throw new SyncflowError('MethodNotAllowed', 'workflowrevisions cannot be watched; list them');
        const list = await store.listRevisions({
          ...(req.params.namespace ? { namespace: req.params.namespace as string } : {}),
          ...optionalQuery(req, 'labelSelector', 'labelSelector'),
          ...limitAndContinue(req),
        });
        const items = list.items.map(revisionObject);
        if (wantsTable(req.headers.accept)) {
          res.status(200).json(
            revisionTable(
              {
                items,
                resourceVersion: list.resourceVersion,
                ...(list.continue ? { continue: list.continue } : {}),
              },
              tableOptions(req),
            ),
          );
          return;
        }
        res.status(200).json({
          apiVersion: EXECUTION_API_VERSION,
          kind: 'WorkflowRevisionList',
          metadata: {
            resourceVersion: list.resourceVersion,
            ...(list.continue ? { continue: list.continue } : {}),
          },
          items,
        });
      }),
    );
  }
  router.get(
    '/namespaces/:namespace/workflowrevisions/:name',
    handle(
      REVISIONS,
      () => 'get',
      async (req, res) => {
        const revision = await store.getRevision(req.params.namespace as string, req.params.name as string);
        if (!revision)
          throw new SyncflowError(
            'NotFound',
            `workflowrevisions.execution.syncflow.io "${String(req.params.name)}" not found`,
          );
        const object = revisionObject(revision);
        if (wantsTable(req.headers.accept))
          res.status(200).json(revisionTable({ items: [object] }, tableOptions(req)));
        else res.status(200).json(object);
      },
    ),
  );

  return router;

  async function getExecution(namespace: string, name: string): Promise<WorkflowExecution> {
    // The writer's queue first: an execution leaves it only once the store has it.
    const found = service.recentExecution(namespace, name) ?? (await store.get(namespace, name));
    if (!found)
      throw new SyncflowError('NotFound', `workflowexecutions.execution.syncflow.io "${name}" not found`);
    return found;
  }

  async function listExecutions(req: Request, res: Response): Promise<void> {
    const list = await store.list({ ...filterOf(req), ...limitAndContinue(req) });
    if (wantsTable(req.headers.accept)) {
      res.status(200).json(
        executionTable(
          {
            items: list.items,
            resourceVersion: list.resourceVersion,
            ...(list.continue ? { continue: list.continue } : {}),
          },
          tableOptions(req),
        ),
      );
      return;
    }
    res.status(200).json(listObject(list.items, list.resourceVersion, list.continue));
  }
}

/** What a watch is asked with: the query, the namespace of the path and the Accept header. */
export type WatchRequest = Pick<Request, 'query' | 'params' | 'headers'>;

/**
 * Where a watch writes its events: an HTTP response (one JSON line each) or a WebSocket (one message
 * each, as kube-apiserver frames its own WebSocket watches). `start` is called once, after every
 * check that can refuse the watch, before the first event.
 */
export interface WatchOutput {
  start(): void;
  write(line: string): void;
  end(): void;
  onClose(stop: () => void): void;
}

function httpWatchOutput(res: Response): WatchOutput {
  return {
    start() {
      res.status(200);
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Cache-Control', 'no-cache, private');
      res.flushHeaders();
    },
    write: (line) => res.write(`${line}\n`),
    end: () => res.end(),
    onClose: (stop) => res.on('close', stop),
  };
}

/**
 * Serves one watch of workflowexecutions (authorization is the caller's): stored changes from the
 * history merged with this replica's in-flight executions, BOOKMARKs and `timeoutSeconds`.
 */
export async function serveExecutionWatch(
  options: {
    service: Pick<ExecutionService, 'live'>;
    store: Pick<ExecutionStore, 'watch' | 'currentResourceVersion'>;
    bookmarkIntervalMs?: number;
  },
  req: WatchRequest,
  out: WatchOutput,
): Promise<void> {
  const { store, service } = options;
  refuseStreamingList(req);
  const resourceVersion =
    typeof req.query.resourceVersion === 'string' ? req.query.resourceVersion : undefined;
  const filter = filterOf(req);
  // This replica's in-flight executions join the stored changes (docs/history.md "Watch").
  const watch = mergeLiveWatch(
    await store.watch({ ...filter, ...(resourceVersion ? { resourceVersion } : {}) }),
    { live: service.live, filter },
  );
  const asTable = wantsTable(req.headers.accept);
  out.start();
  let lastVersion =
    resourceVersion && resourceVersion !== '0' ? resourceVersion : await store.currentResourceVersion();
  const timeoutSeconds = Number(req.query.timeoutSeconds);
  const timers: NodeJS.Timeout[] = [];
  const stop = () => {
    for (const t of timers) clearTimeout(t);
    watch.close();
  };
  out.onClose(stop);
  if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)
    timers.push(setTimeout(() => out.end(), timeoutSeconds * 1000));
  if (req.query.allowWatchBookmarks === 'true') {
    const interval = setInterval(() => {
      out.write(
        JSON.stringify({
          type: 'BOOKMARK',
          object: {
            apiVersion: EXECUTION_API_VERSION,
            kind: 'WorkflowExecution',
            metadata: { resourceVersion: lastVersion },
          },
        }),
      );
    }, options.bookmarkIntervalMs ?? 15_000);
    timers.push(interval);
  }
  try {
    for await (const merged of watch) {
      let event = merged.event;
      // A live object carries the last stored version this watch delivered: resuming from it
      // replays the stored changes after it, the final state included, and none before it.
      if (merged.live)
        event = {
          type: event.type,
          object: { ...event.object, metadata: { ...event.object.metadata, resourceVersion: lastVersion } },
        };
      else lastVersion = event.object.metadata.resourceVersion ?? lastVersion;
      out.write(JSON.stringify(asTable ? tableEvent(event, req) : event));
    }
  } catch (error) {
    // Errors after the stream started are delivered as an ERROR event, as the API server does.
    out.write(JSON.stringify({ type: 'ERROR', object: statusFromError(error) }));
  } finally {
    stop();
    out.end();
  }
}

function tableEvent(event: WatchEvent, req: WatchRequest): unknown {
  return { type: event.type, object: executionTable({ items: [event.object] }, tableOptions(req)) };
}

function tableOptions(req: WatchRequest): { includeObject?: 'None' | 'Metadata' | 'Object' } {
  const include = req.query.includeObject;
  return include === 'None' || include === 'Metadata' || include === 'Object'
    ? { includeObject: include }
    : {};
}

/**
 * Streaming lists (`sendInitialEvents`, client-go's default for informers since 1.35) are not
 * served: refused as kube-apiserver refuses them with its WatchList feature off, so that client-go
 * falls back to list, then watch. Ignored, they would leave an informer waiting for ever for the
 * bookmark that ends the initial events, never synced.
 */
function refuseStreamingList(req: WatchRequest): void {
  if (req.query.sendInitialEvents === undefined) return;
  const message =
    "streaming lists are not supported: list, then watch from the list's resourceVersion (client-go informers fall back to this by themselves)";
  throw new SyncflowError('FieldInvalid', `sendInitialEvents: ${message}`, {
    causes: [{ code: 'FieldInvalid', field: 'sendInitialEvents', message }],
  });
}

function isWatch(req: Request): boolean {
  return req.query.watch === 'true' || req.query.watch === '1';
}

function queryValues(req: Request, name: string): string[] {
  const value = req.query[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function optionalQuery(req: WatchRequest, name: string, as: string): Record<string, string> {
  const value = req.query[name];
  return typeof value === 'string' && value !== '' ? { [as]: value } : {};
}

function limitAndContinue(req: Request): { limit?: number; continue?: string } {
  const out: { limit?: number; continue?: string } = {};
  if (req.query.limit !== undefined) {
    const limit = Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 0)
      throw new SyncflowError(
        'BadRequest',
        `limit=${String(req.query.limit)} must be a non-negative integer`,
      );
    if (limit > 0) out.limit = limit;
  }
  if (typeof req.query.continue === 'string' && req.query.continue) out.continue = req.query.continue;
  return out;
}

function filterOf(req: WatchRequest) {
  return {
    ...(req.params.namespace ? { namespace: req.params.namespace as string } : {}),
    ...optionalQuery(req, 'labelSelector', 'labelSelector'),
    ...optionalQuery(req, 'fieldSelector', 'fieldSelector'),
  };
}

/** Applies `fieldValidation` (Strict, Warn, Ignore; Warn is the default as in Kubernetes). */
function fieldValidation(req: Request, body: unknown): string[] {
  const raw = typeof req.query.fieldValidation === 'string' ? req.query.fieldValidation : undefined;
  const directive = parseFieldValidation(raw);
  if (!directive)
    throw new SyncflowError(
      'BadRequest',
      `fieldValidation=${String(raw)} is not supported: use Strict, Warn or Ignore`,
    );
  const declared = body as { kind?: unknown; apiVersion?: unknown };
  const outcome = fieldValidationOutcome(directive, validateExecutionFields(body), {
    kind: typeof declared.kind === 'string' ? declared.kind : 'WorkflowExecution',
    version:
      typeof declared.apiVersion === 'string'
        ? (declared.apiVersion.split('/')[1] ?? 'v1alpha1')
        : 'v1alpha1',
  });
  if (outcome.badRequest) throw new SyncflowError('BadRequest', outcome.badRequest.message);
  return outcome.warnings;
}

function listObject(items: WorkflowExecution[], resourceVersion: string, next?: string) {
  return {
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowExecutionList',
    metadata: { resourceVersion, ...(next ? { continue: next } : {}) },
    items,
  };
}

function revisionObject(record: WorkflowRevisionRecord) {
  return {
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowRevision',
    metadata: {
      name: record.name,
      namespace: record.namespace,
      labels: { 'syncflow.io/workflow': record.workflowName },
      creationTimestamp: record.creationTimestamp,
      resourceVersion: record.resourceVersion,
    },
    workflow: record.workflowName,
    hash: record.hash,
    definition: record.definition,
  };
}

function sendObject(req: Request, res: Response, code: number, object: WorkflowExecution): void {
  if (wantsTable(req.headers.accept)) {
    res.status(code).json(executionTable({ items: [object] }, tableOptions(req)));
  } else {
    res.status(code).json(object);
  }
}

/** Writes an error as a Kubernetes Status, with Retry-After for 429 and 503. */
export function sendError(res: Response, error: unknown, kind: string, name?: string): void {
  const retryAfter = error instanceof SyncflowError ? retryAfterSeconds(error.status) : undefined;
  const status = statusFromError(error, {
    kind,
    ...(name ? { name } : {}),
    ...(retryAfter ? { retryAfterSeconds: retryAfter } : {}),
  });
  if (res.headersSent) {
    res.end();
    return;
  }
  setRetryAfter(res, status.code);
  res.status(status.code).json(status);
}
