/**
 * The typed client applications use to run syncflow workflows: executions are created, read,
 * listed and watched through kube-apiserver (the aggregated API, so Kubernetes RBAC and audit
 * apply), and optionally run through the server's direct gateway on the hot path.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { WorkflowExecution } from '../core/model/execution.ts';
import { EXECUTION_API_VERSION } from '../core/model/resources.ts';
import type { WorkflowExecutionStatus } from '../core/model/schema.ts';
import {
  SyncflowApiError,
  SyncflowRunError,
  problemOfResponse,
  retryAfterSeconds,
  statusForCode,
  statusOfResponse,
} from './errors.ts';
import { KubeConfigTransport, type Endpoint, type TransportResponse } from './transport.ts';

export type { WorkflowExecution };

/** A WorkflowExecution whose workflow output has a known type. */
export type WorkflowExecutionOf<Output> = Omit<WorkflowExecution, 'status'> & {
  status: Omit<WorkflowExecutionStatus, 'output'> & { output?: Output };
};

/** A page of executions (`WorkflowExecutionList`), newest first. */
export interface WorkflowExecutionList {
  apiVersion: typeof EXECUTION_API_VERSION;
  kind: 'WorkflowExecutionList';
  metadata: { resourceVersion: string; continue?: string };
  items: WorkflowExecution[];
}

/** Options of {@link SyncflowClient}. */
export interface SyncflowClientOptions {
  /**
   * The direct run gateway, for {@link SyncflowClient.run}: the syncflow server's own address (the
   * Service, not kube-apiserver) and the CA that signed its serving certificate. The kubeconfig's
   * credentials (client certificate or token) are presented to it.
   */
  gateway?: { url: string; ca?: string | Buffer };
  /** Default per-call timeout in ms (none when absent); a call's `timeoutMs` overrides it. */
  timeoutMs?: number;
}

/** Per-call options shared by every request. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Gives up after this long: the promise rejects with a `TimeoutError` (`DOMException`). */
  timeoutMs?: number;
}

/** Options of {@link SyncflowClient.execute}. */
export interface ExecuteOptions extends CallOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Name prefix; the server appends 5 random characters. Default `<workflow>-`. */
  generateName?: string;
  /** Exact name instead of a generated one (409 Conflict when it exists). */
  name?: string;
  /** Plan only (`dryRun=All`): nothing is called or stored; `status.plan` is filled. */
  dryRun?: boolean;
}

/** Options of {@link SyncflowClient.list}. */
export interface ListOptions extends CallOptions {
  /** e.g. `team=web,syncflow.io/workflow=user-profile`. */
  labelSelector?: string;
  /** `spec.workflowRef.name`, `status.phase`, `metadata.name`, e.g. `status.phase=Failed`. */
  fieldSelector?: string;
  /** Page size; the response's `metadata.continue` fetches the next page. */
  limit?: number;
  continue?: string;
}

/** Options of {@link SyncflowClient.watch}. */
export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Deliver changes after this version (from a list); from the current state when absent. */
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** The server ends the watch after this many seconds (`done` then resolves). */
  timeoutSeconds?: number;
  /** Stops the watch when aborted (`done` then resolves). */
  signal?: AbortSignal;
}

/** A change to an execution, delivered by {@link SyncflowClient.watch}. */
export interface ExecutionWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  /** For BOOKMARK only `metadata.resourceVersion` is meaningful. */
  object: WorkflowExecution;
}

/** A running watch. */
export interface ExecutionWatch {
  /** Ends the watch; `done` resolves. */
  stop(): void;
  /**
   * Settles when the watch ends: resolves when stopped or closed by the server, rejects with a
   * {@link SyncflowApiError} for an ERROR event (410 Expired: list again and watch from the new
   * version) or with the error `onEvent` threw.
   */
  done: Promise<void>;
}

/** The result of a direct run. */
export interface RunResult<Output> {
  output: Output;
  /** `namespace/name` of the recorded WorkflowExecution (header `Syncflow-Execution`). */
  execution: string;
}

const GROUP_PATH = `/apis/${EXECUTION_API_VERSION}`;

/** Runs and reads syncflow workflow executions for an application. */
export class SyncflowClient {
  readonly #kubeConfig: KubeConfig;
  readonly #transport: KubeConfigTransport;
  readonly #options: SyncflowClientOptions;

  constructor(kubeConfig: KubeConfig, options: SyncflowClientOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#transport = new KubeConfigTransport(kubeConfig);
    this.#options = options;
  }

  /**
   * Runs `workflow` with `input` by creating a WorkflowExecution; resolves with the finished object
   * (phase Succeeded or Failed: a failed workflow is a recorded result, not an exception). Rejects
   * with {@link SyncflowApiError} when the server refuses: 422 Invalid (causes name
   * `spec.input.<field>`), 404 unknown workflow, 409 not Ready, 403, 429 (see `retryAfterSeconds`).
   */
  async execute<Output = unknown>(
    namespace: string,
    workflow: string,
    input: unknown,
    options: ExecuteOptions = {},
  ): Promise<WorkflowExecutionOf<Output>> {
    const body = {
      apiVersion: EXECUTION_API_VERSION,
      kind: 'WorkflowExecution',
      metadata: {
        ...(options.name ? { name: options.name } : { generateName: options.generateName ?? `${workflow}-` }),
        namespace,
        ...(options.labels ? { labels: options.labels } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      },
      spec: { workflowRef: { name: workflow }, input },
    };
    const query = options.dryRun ? '?dryRun=All' : '';
    const res = await this.#api(
      'POST',
      `${collectionPath(namespace)}${query}`,
      options,
      JSON.stringify(body),
    );
    return JSON.parse(res.body) as WorkflowExecutionOf<Output>;
  }

  /** One execution; rejects with a 404 {@link SyncflowApiError} when there is none. */
  async get<Output = unknown>(
    namespace: string,
    name: string,
    options: CallOptions = {},
  ): Promise<WorkflowExecutionOf<Output>> {
    const res = await this.#api('GET', `${collectionPath(namespace)}/${encodeURIComponent(name)}`, options);
    return JSON.parse(res.body) as WorkflowExecutionOf<Output>;
  }

  /** A page of executions of a namespace (`''`: all namespaces), newest first. */
  async list(namespace: string, options: ListOptions = {}): Promise<WorkflowExecutionList> {
    const query = queryString({
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      limit: options.limit,
      continue: options.continue,
    });
    const res = await this.#api('GET', `${collectionPath(namespace)}${query}`, options);
    return JSON.parse(res.body) as WorkflowExecutionList;
  }

  /** Every matching execution, fetching pages of `limit` (default 500) as the iteration goes. */
  async *listAll(
    namespace: string,
    options: Omit<ListOptions, 'continue'> = {},
  ): AsyncGenerator<WorkflowExecution> {
    let next: string | undefined;
    do {
      const page = await this.list(namespace, {
        ...options,
        limit: options.limit ?? 500,
        ...(next ? { continue: next } : {}),
      });
      yield* page.items;
      next = page.metadata.continue;
    } while (next);
  }

  /** Deletes an execution's record; resolves with it as last stored. */
  async delete(namespace: string, name: string, options: CallOptions = {}): Promise<WorkflowExecution> {
    const res = await this.#api(
      'DELETE',
      `${collectionPath(namespace)}/${encodeURIComponent(name)}`,
      options,
    );
    return JSON.parse(res.body) as WorkflowExecution;
  }

  /**
   * Watches executions of a namespace (`''`: all namespaces) with client-node's `Watch`; `onEvent`
   * is called for every change. Rejects at once when the watch cannot start (e.g. 403).
   */
  async watch(
    namespace: string,
    options: WatchOptions,
    onEvent: (event: ExecutionWatchEvent) => void,
  ): Promise<ExecutionWatch> {
    let failure: unknown;
    let stopped = false;
    let started = false;
    let startError: unknown;
    let settle!: { resolve: () => void; reject: (error: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // Events may in principle arrive before Watch.watch() resolves with its controller.
    const watching: { controller?: AbortController } = {};
    const abort = () => watching.controller?.abort();
    const stop = () => {
      stopped = true;
      abort();
    };
    const query = {
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: options.allowWatchBookmarks,
      timeoutSeconds: options.timeoutSeconds,
    };
    watching.controller = await new Watch(this.#kubeConfig).watch(
      collectionPath(namespace),
      query,
      (type, object) => {
        if (failure !== undefined || stopped) return;
        if (type === 'ERROR') {
          failure = new SyncflowApiError(object as ConstructorParameters<typeof SyncflowApiError>[0]);
          abort();
          return;
        }
        try {
          onEvent({ type: type as ExecutionWatchEvent['type'], object: object as WorkflowExecution });
        } catch (error) {
          failure = error;
          abort();
        }
      },
      (error: unknown) => {
        options.signal?.removeEventListener('abort', stop);
        const outcome =
          failure ?? (stopped || error === null || error === undefined ? undefined : watchError(error));
        // A watch that could not start is reported by watch() itself, not through `done`.
        if (!started && outcome !== undefined) startError = outcome;
        else if (outcome === undefined) settle.resolve();
        else settle.reject(outcome);
      },
    );
    started = true;
    if (startError !== undefined) throw startError;
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
    return { stop, done };
  }

  /**
   * Runs `workflow` through the server's direct gateway (`POST /run/v1/...`): resolves with the
   * workflow output; rejects with {@link SyncflowRunError} (problem+json) when the input is bad,
   * the workflow is unknown, a task failed (502) or the deadline passed (504). Needs `options.gateway`.
   */
  async run<Output = unknown>(
    namespace: string,
    workflow: string,
    input: unknown,
    options: CallOptions = {},
  ): Promise<RunResult<Output>> {
    const gateway = this.#options.gateway;
    if (!gateway)
      throw new TypeError(
        'SyncflowClient.run needs the gateway address: new SyncflowClient(kubeConfig, { gateway: { url, ca } })',
      );
    const endpoint: Endpoint = {
      server: gateway.url,
      ...(gateway.ca !== undefined ? { ca: gateway.ca } : {}),
    };
    const res = await this.#transport.send({
      method: 'POST',
      path: `/run/v1/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflow)}`,
      body: JSON.stringify(input ?? null),
      endpoint,
      ...this.#callOptions(options),
    });
    const execution = header(res, 'syncflow-execution');
    if (res.status !== 200) {
      throw new SyncflowRunError(problemOfResponse(res.status, res.body), {
        ...(execution ? { execution } : {}),
        ...optional('retryAfterSeconds', retryAfterSeconds(res.headers['retry-after'])),
      });
    }
    return { output: JSON.parse(res.body) as Output, execution: execution ?? '' };
  }

  /** Closes pooled connections (the process can then exit without waiting for keep-alive timeouts). */
  close(): void {
    this.#transport.close();
  }

  async #api(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: CallOptions,
    body?: string,
  ): Promise<TransportResponse> {
    const res = await this.#transport.send({
      method,
      path,
      ...(body !== undefined ? { body } : {}),
      ...this.#callOptions(options),
    });
    if (res.status >= 200 && res.status < 300) return res;
    throw new SyncflowApiError(
      statusOfResponse(res.status, res.body),
      optional('retryAfterSeconds', retryAfterSeconds(res.headers['retry-after'])),
    );
  }

  #callOptions(options: CallOptions): { signal?: AbortSignal; timeoutMs?: number } {
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    return {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    };
  }
}

function collectionPath(namespace: string): string {
  return namespace === ''
    ? `${GROUP_PATH}/workflowexecutions`
    : `${GROUP_PATH}/namespaces/${encodeURIComponent(namespace)}/workflowexecutions`;
}

function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

function header(res: TransportResponse, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** client-node's Watch reports a refused start as an Error with `statusCode` (the body is dropped). */
function watchError(error: unknown): unknown {
  const code = (error as { statusCode?: unknown }).statusCode;
  if (typeof code === 'number')
    return new SyncflowApiError(
      statusForCode(code, `the watch was refused: ${code} ${(error as Error).message}`),
      { cause: error },
    );
  return error;
}
