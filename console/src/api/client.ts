/**
 * The console's one way to the Kubernetes API: list, get, create and watch, with the identity the
 * serving process set up (the local command's cookie, or the bearer token the person signed in with).
 * Failures become {@link ApiError} carrying the Status kube-apiserver answered, so a page can say
 * which permission is missing.
 */

/** Where the API is and how this browser proves who it is (from the server's config.json). */
export interface ConsoleConfig {
  apiBase: string;
  auth: 'session' | 'bearer';
}

/** A Kubernetes Status, as kube-apiserver answers errors. */
export interface Status {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: Array<{ field?: string; message?: string }>;
  };
}

/** A failed API call: the HTTP status and the Status body. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly status: Status,
  ) {
    super(status.message ?? `the API answered ${code}`);
    this.name = 'ApiError';
  }
}

/** One event of a watch. */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

type Query = Record<string, string | number | boolean | undefined>;

const TOKEN_KEY = 'syncflow-console-token';

/** The bearer token of this tab (sessionStorage: gone when the tab closes). */
export const bearerToken = {
  get: (): string | undefined => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** A Kubernetes API client for the browser. */
export class KubeClient {
  constructor(
    readonly config: ConsoleConfig,
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', ...extra };
    const token = this.config.auth === 'bearer' ? bearerToken.get() : undefined;
    if (token) headers.authorization = `Bearer ${token}`;
    return headers;
  }

  private async call<T>(
    method: string,
    path: string,
    query?: Query,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const response = await fetch(`${this.config.apiBase}${path}${queryString(query)}`, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { message: text.slice(0, 500) };
    }
    if (!response.ok) {
      if (response.status === 401) this.onUnauthorized();
      throw new ApiError(response.status, parsed as Status);
    }
    return parsed as T;
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.call<T>('GET', path, query, undefined, signal);
  }

  create<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.call<T>('POST', path, query, body);
  }

  /** Replaces an object (PUT); the body carries the resourceVersion it updates. */
  replace<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.call<T>('PUT', path, query, body);
  }

  /**
   * Watches a collection over a streaming HTTP response (one JSON event a line). Returns a function
   * that stops it. `onError` gets a failed start or a broken stream (not a stop asked for).
   */
  watch<T>(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent<T>) => void,
    onError: (error: Error) => void,
    onOpen: () => void = () => undefined,
  ): () => void {
    const controller = new AbortController();
    void (async () => {
      const response = await fetch(
        `${this.config.apiBase}${path}${queryString({ ...query, watch: 1, allowWatchBookmarks: true })}`,
        {
          headers: this.headers(),
          credentials: 'same-origin',
          signal: controller.signal,
        },
      );
      if (!response.ok || !response.body) {
        const status = (await response.json().catch(() => ({}))) as Status;
        throw new ApiError(response.status, status);
      }
      onOpen();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
        }
      }
    })().catch((error: Error) => {
      if (!controller.signal.aborted) onError(error);
    });
    return () => controller.abort();
  }
}

/** Paths of the resources the console reads. */
export const paths = {
  namespaces: () => '/api/v1/namespaces',
  workflows: (ns: string) => `/apis/syncflow.io/v1alpha1/namespaces/${ns}/workflows`,
  workflow: (ns: string, name: string) => `/apis/syncflow.io/v1alpha1/namespaces/${ns}/workflows/${name}`,
  tasks: (ns: string) => `/apis/syncflow.io/v1alpha1/namespaces/${ns}/workflowtasks`,
  task: (ns: string, name: string) => `/apis/syncflow.io/v1alpha1/namespaces/${ns}/workflowtasks/${name}`,
  executions: (ns: string) => `/apis/execution.syncflow.io/v1alpha1/namespaces/${ns}/workflowexecutions`,
  execution: (ns: string, name: string) =>
    `/apis/execution.syncflow.io/v1alpha1/namespaces/${ns}/workflowexecutions/${name}`,
  revisions: (ns: string) => `/apis/execution.syncflow.io/v1alpha1/namespaces/${ns}/workflowrevisions`,
};
