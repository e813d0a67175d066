/**
 * HTTP requests authenticated the way the kubeconfig says (client certificate, bearer token, exec
 * plugin, basic auth; impersonation headers), through @kubernetes/client-node's `KubeConfig`.
 *
 * Why not the generated `CustomObjectsApi`: it cannot take an AbortSignal, it reports errors as an
 * `ApiException` whose body has to be re-parsed, and it builds a fresh TLS agent per call, so every
 * execution pays a handshake. Here the credentials are applied per request (tokens refresh) while
 * the connection pool is kept until the TLS material changes.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** Where a request goes: kube-apiserver (the kubeconfig's cluster) or another server trusting the same credentials. */
export interface Endpoint {
  /** Base URL, e.g. `https://127.0.0.1:6443`; the kubeconfig's current cluster when absent. */
  server?: string;
  /** CA bundle for this server instead of the cluster's. */
  ca?: string | Buffer;
}

/** One request. */
export interface TransportRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions?limit=10`. */
  path: string;
  body?: string;
  headers?: OutgoingHttpHeaders;
  signal?: AbortSignal;
  /** Gives up after this long (rejects with a `TimeoutError`). */
  timeoutMs?: number;
  endpoint?: Endpoint;
}

/** The response, read whole. */
export interface TransportResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends requests with the kubeconfig's credentials over pooled keep-alive connections. */
export class KubeConfigTransport {
  readonly #kubeConfig: KubeConfig;
  readonly #agents = new Map<string, { material: Buffer[]; agent: HttpsAgent | HttpAgent }>();

  constructor(kubeConfig: KubeConfig) {
    this.#kubeConfig = kubeConfig;
  }

  /** The base URL of the kubeconfig's current cluster. */
  clusterServer(): string {
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  async send(request: TransportRequest): Promise<TransportResponse> {
    const base = (request.endpoint?.server ?? this.clusterServer()).replace(/\/+$/, '');
    const url = new URL(base + request.path);
    const options: RequestOptions = { headers: {} };
    await this.#kubeConfig.applyToHTTPSOptions(options);
    if (request.endpoint?.ca !== undefined) options.ca = request.endpoint.ca;
    const proxied = Boolean(this.#kubeConfig.getCurrentCluster()?.proxyUrl);
    // Through a proxy, client-node's own proxy agent is the one that knows how to reach the server.
    const agent = proxied ? options.agent : this.#agentFor(url, base, options);
    const signal = combineSignals(request.signal, request.timeoutMs);
    const headers: OutgoingHttpHeaders = {
      accept: 'application/json',
      ...(options.headers as OutgoingHttpHeaders),
      ...request.headers,
    };
    if (request.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(request.body);
    }
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise<TransportResponse>((resolve, reject) => {
      const fail = (error: unknown) => reject(signal?.aborted ? signal.reason : error);
      const req = send(
        url,
        {
          method: request.method,
          headers,
          agent,
          ...(options.auth ? { auth: options.auth } : {}),
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', fail);
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', fail);
      req.end(request.body);
    });
  }

  /** Closes pooled connections. */
  close(): void {
    for (const { agent } of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  /** A keep-alive agent per server, replaced when the certificates or keys the kubeconfig yields change. */
  #agentFor(url: URL, base: string, options: RequestOptions): HttpsAgent | HttpAgent {
    const material = [options.ca, options.cert, options.key].map(toBuffer);
    const cached = this.#agents.get(base);
    if (cached && cached.material.every((m, i) => m.equals(material[i] as Buffer))) return cached.agent;
    cached?.agent.destroy();
    const agent =
      url.protocol === 'http:'
        ? new HttpAgent({ keepAlive: true })
        : new HttpsAgent({
            keepAlive: true,
            ...(options.ca !== undefined ? { ca: options.ca } : {}),
            ...(options.cert !== undefined ? { cert: options.cert } : {}),
            ...(options.key !== undefined ? { key: options.key } : {}),
            ...(options.rejectUnauthorized !== undefined
              ? { rejectUnauthorized: options.rejectUnauthorized }
              : {}),
            ...(options.servername !== undefined ? { servername: options.servername } : {}),
          });
    this.#agents.set(base, { material, agent });
    return agent;
  }
}

function toBuffer(value: unknown): Buffer {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value);
  if (Array.isArray(value)) return Buffer.concat(value.map(toBuffer));
  return Buffer.from(String(value));
}

/** The caller's signal and a timeout as one signal (undefined when neither is given). */
export function combineSignals(
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): AbortSignal | undefined {
  const timeout = timeoutMs !== undefined && timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
  if (signal && timeout) return AbortSignal.any([signal, timeout]);
  return signal ?? timeout;
}
