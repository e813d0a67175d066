/**
 * What the web console's two servers share (`syncflow console` locally, `/console/` in
 * `syncflow server`): the Kubernetes API calls the console makes — the only ones either forwards —
 * and the forwarding of those calls, plain and WebSocket, to kube-apiserver. Which identity a call
 * carries is the caller's choice: the local command's kubeconfig, or the browser's own bearer token.
 */
import { existsSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = '[a-z0-9]([-a-z0-9.]*[a-z0-9])?';
const NAMESPACED = `(/namespaces/${NAME})?`;
const ITEM = `(/${NAME})?`;
/** Method and path (no query) of each call the console makes; `upgrade`: only as a WebSocket. */
const CALLS: ReadonlyArray<{ methods: readonly string[]; path: RegExp; upgrade?: true }> = [
  { methods: ['GET'], path: /^\/version$/ },
  { methods: ['GET'], path: /^\/api\/v1\/namespaces$/ },
  {
    methods: ['GET'],
    path: new RegExp(`^/apis/syncflow\\.io/v1alpha1${NAMESPACED}/(workflows|workflowtasks)${ITEM}$`),
  },
  {
    methods: ['GET'],
    path: new RegExp(
      `^/apis/execution\\.syncflow\\.io/v1alpha1${NAMESPACED}/(workflowexecutions|workflowrevisions)${ITEM}$`,
    ),
  },
  {
    methods: ['POST'],
    path: new RegExp(`^/apis/execution\\.syncflow\\.io/v1alpha1/namespaces/${NAME}/workflowexecutions$`),
  },
  // The answering replica's circuit breakers: cluster-scoped, list only.
  { methods: ['GET'], path: /^\/apis\/execution\.syncflow\.io\/v1alpha1\/circuitbreakers$/ },
  // The builder deploys definitions with the person's identity: create or replace (server-side
  // dry-run first, `?dryRun=All`), never delete.
  {
    methods: ['POST'],
    path: new RegExp(`^/apis/syncflow\\.io/v1alpha1/namespaces/${NAME}/(workflows|workflowtasks)$`),
  },
  {
    methods: ['PUT'],
    path: new RegExp(`^/apis/syncflow\\.io/v1alpha1/namespaces/${NAME}/(workflows|workflowtasks)/${NAME}$`),
  },
  // The live-events stream (docs/stream.md) through the aggregated API: runs and debug runs.
  {
    methods: ['GET'],
    path: new RegExp(
      `^/apis/execution\\.syncflow\\.io/v1alpha1/namespaces/${NAME}/workflowexecutions/-/stream$`,
    ),
    upgrade: true,
  },
];

/**
 * Whether the console makes this call (method and path without the query; `upgrade` when it is a
 * WebSocket upgrade); nothing else is forwarded.
 */
export function consoleApiCall(method: string, path: string, options: { upgrade?: boolean } = {}): boolean {
  return CALLS.some(
    (call) =>
      call.methods.includes(method) &&
      call.path.test(path) &&
      (call.upgrade === undefined || options.upgrade === true),
  );
}

const BEARER_PROTOCOL = 'base64url.bearer.authorization.k8s.io.';

/**
 * The bearer token a browser offers as a WebSocket subprotocol (it cannot set Authorization on a
 * WebSocket; kube-apiserver reads the same form), and the subprotocols besides it.
 */
export function bearerFromProtocols(header: string | undefined): {
  token: string | undefined;
  protocols: string[];
} {
  const offered = String(header ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const carrier = offered.find((p) => p.startsWith(BEARER_PROTOCOL));
  const encoded = carrier?.slice(BEARER_PROTOCOL.length);
  return {
    token: encoded ? Buffer.from(encoded, 'base64url').toString('utf8') || undefined : undefined,
    protocols: offered.filter((p) => !p.startsWith(BEARER_PROTOCOL)),
  };
}

/** Where kube-apiserver is and how to reach it (TLS trust, and credentials when the kubeconfig's are used). */
export interface KubeTarget {
  url: URL;
  options: RequestOptions;
}

/**
 * The two questions {@link kubeTarget} asks of a configuration: client-node's KubeConfig (the local
 * command) and the server's own (kube/rest/config.ts) both answer them.
 */
export interface KubeTargetSource {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

/**
 * The kube-apiserver of the kubeconfig's current context, with the TLS trust and the credentials of
 * its current user (client certificate, token, exec plugin). Read per call: tokens rotate.
 */
export async function kubeTarget(config: KubeTargetSource): Promise<KubeTarget> {
  const cluster = config.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const options: RequestOptions = { headers: {} };
  await config.applyToHTTPSOptions(options);
  return { url: new URL(cluster.server), options };
}

/** How a forwarded call is sent. */
export interface ForwardOptions {
  /** The Authorization header to send instead of the target's credentials (the browser's own). */
  authorization?: string;
}

/** Request headers a browser's API call keeps; cookies, Origin and the browser's credentials stay behind. */
const REQUEST_HEADERS = ['accept', 'content-type', 'content-length', 'user-agent'];
const UPGRADE_HEADERS = [
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
];

function outgoing(
  req: IncomingMessage,
  target: KubeTarget,
  options: ForwardOptions,
  names: readonly string[],
): RequestOptions {
  const headers: Record<string, string | string[]> = {};
  for (const name of names) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const credentials = { ...(target.options.headers as Record<string, string>) };
  if (options.authorization !== undefined) {
    delete credentials.Authorization;
    headers.authorization = options.authorization;
  }
  const base = target.url.pathname.replace(/\/$/, '');
  return {
    ...target.options,
    protocol: target.url.protocol,
    hostname: target.url.hostname,
    port: target.url.port,
    method: req.method,
    path: `${base}${req.url ?? '/'}`,
    headers: { ...credentials, ...headers },
  };
}

function send(target: KubeTarget, options: RequestOptions) {
  return (target.url.protocol === 'http:' ? httpRequest : httpsRequest)(options);
}

/** A Kubernetes Status body for an error the forwarder answers itself. */
export function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
}

const UNREACHABLE = 'kube-apiserver could not be reached';

/** Forwards one API call (its path and query, body streamed) and streams the answer back, watches included. */
export function forwardToKube(
  req: IncomingMessage,
  res: ServerResponse,
  target: KubeTarget,
  options: ForwardOptions = {},
): void {
  const upstream = send(target, outgoing(req, target, options, REQUEST_HEADERS));
  upstream.on('response', (answer) => {
    const headers: Record<string, string | string[]> = { 'cache-control': 'no-store' };
    for (const name of ['content-type', 'content-length', 'content-encoding', 'retry-after', 'warning']) {
      const value = answer.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    res.writeHead(answer.statusCode ?? 502, headers);
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (res.headersSent) res.destroy();
    else
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(statusBody(502, 'ServiceUnavailable', UNREACHABLE));
  });
  // A browser that goes away (a closed page, a watch no longer wanted) ends the call upstream too.
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}

/**
 * Forwards a WebSocket upgrade (a watch over WebSocket): the handshake goes to kube-apiserver with
 * the target's credentials and, on 101, the two sockets are joined.
 */
export function forwardUpgradeToKube(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: KubeTarget,
  options: ForwardOptions = {},
): void {
  const sent = outgoing(req, target, options, UPGRADE_HEADERS);
  // Subprotocols pass, except a bearer token a page offers: the caller decides whether it is used
  // (options.authorization), and it never travels on as a protocol.
  const { protocols } = bearerFromProtocols(req.headers['sec-websocket-protocol'] as string | undefined);
  if (protocols.length)
    (sent.headers as Record<string, string>)['sec-websocket-protocol'] = protocols.join(', ');
  const upstream = send(target, sent);
  upstream.on('upgrade', (answer, upstreamSocket, upstreamHead) => {
    const lines = [`HTTP/1.1 101 Switching Protocols`];
    for (let i = 0; i < answer.rawHeaders.length; i += 2)
      lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upstreamHead.length) socket.write(upstreamHead);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.pipe(socket).pipe(upstreamSocket);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('error', () => upstreamSocket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
  });
  upstream.on('response', (answer) => {
    refuseUpgrade(socket, answer.statusCode ?? 502, answer.headers['content-type'] ?? 'text/plain');
    answer.pipe(socket);
  });
  upstream.on('error', () => {
    refuseUpgrade(socket, 502, 'application/json');
    socket.end(statusBody(502, 'ServiceUnavailable', UNREACHABLE));
  });
  upstream.end();
}

/** Starts a plain HTTP answer on a socket whose upgrade is refused (the caller writes the body). */
export function refuseUpgrade(socket: Duplex, code: number, contentType: string | string[]): void {
  socket.write(`HTTP/1.1 ${code} ${code === 502 ? 'Bad Gateway' : 'Refused'}\r\n`);
  socket.write(`content-type: ${String(contentType)}\r\nconnection: close\r\n\r\n`);
}

/**
 * The built console (console/dist), found from a module of the source tree (cli/console.ts) or of
 * the compiled one (the same module under dist/); undefined when it has not been built
 * (hack/console.sh builds it).
 */
export function consoleDistDir(from: URL): string | undefined {
  const here = dirname(fileURLToPath(from));
  for (const up of ['..', '../..']) {
    const dir = join(here, up, 'console/dist');
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}
