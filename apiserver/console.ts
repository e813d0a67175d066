/**
 * The web console as `syncflow server` serves it, at `/console/`, for in-cluster use: the built
 * files, and the console's Kubernetes API calls (kube/console-api.ts lists them; nothing else) under
 * `/console/k8s/`, forwarded to kube-apiserver with the bearer token the browser presents (a
 * ServiceAccount or OIDC id token). The server lends only its TLS trust of kube-apiserver, never its
 * identity: RBAC decides what each person sees, and a call without a token is refused here.
 *
 * WebSockets (the live-events stream, watches) come under `/console/k8s/` too. A browser cannot set
 * Authorization on a WebSocket, so the page offers its token as the subprotocol
 * `base64url.bearer.authorization.k8s.io.<token>` (what kube-apiserver itself accepts); the token
 * is taken out of the protocols and forwarded as the Authorization header, with the same Origin,
 * allowlist and no-token checks as plain calls.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type Request, type Response, type Router } from 'express';
import type { KubeConfig } from '../kube/config.ts';
import {
  bearerFromProtocols,
  consoleApiCall,
  forwardToKube,
  forwardUpgradeToKube,
  kubeTarget,
  refuseUpgrade,
  statusBody,
} from '../kube/console-api.ts';

/** What the console's routes are built from. */
export interface ConsoleRouteOptions {
  /** The server's kubeconfig: only its current cluster (address and CA) is used. */
  kubeConfig: KubeConfig;
  /** The built console (console/dist); undefined when this server was built without it. */
  distDir: string | undefined;
}

function refuse(res: Response, code: number, reason: string, message: string): void {
  res
    .status(code)
    .type('application/json')
    .send(statusBody(code, reason, message));
}

/** Why a call to kube-apiserver under /console/k8s is refused, or undefined when it may go on. */
function refusal(
  req: IncomingMessage,
  method: string,
  path: string,
  authorization: string | undefined,
  upgrade: boolean,
): [number, string, string] | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined && URL.parse(origin)?.host !== req.headers.host)
    return [403, 'Forbidden', `Origin ${origin} may not use this console`];
  if (!consoleApiCall(method, path, { upgrade }))
    return [
      403,
      'Forbidden',
      `the console does not forward ${method} ${path}${upgrade ? ' (WebSocket)' : ''}`,
    ];
  if (!authorization?.startsWith('Bearer ') || authorization === 'Bearer ')
    return [401, 'Unauthorized', 'present a bearer token (a ServiceAccount or OIDC id token)'];
  return undefined;
}

const K8S = '/console/k8s/';

/**
 * The server's `upgrade` listener for the console: serves WebSockets under `/console/k8s/` and
 * returns true, or returns false for any other path (the server's own stream and watches).
 */
export function consoleUpgrades(
  options: Pick<ConsoleRouteOptions, 'kubeConfig'>,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean {
  const cluster = options.kubeConfig.withoutCredentials();
  return (req, socket, head) => {
    if (!(req.url ?? '').startsWith(K8S)) return false;
    req.url = (req.url as string).slice(K8S.length - 1);
    const path = req.url.split('?')[0] as string;
    const { token } = bearerFromProtocols(req.headers['sec-websocket-protocol'] as string | undefined);
    const authorization = token === undefined ? undefined : `Bearer ${token}`;
    const refused = refusal(req, req.method ?? '', path, authorization, true);
    if (refused) {
      refuseUpgrade(socket, refused[0], 'application/json');
      socket.end(statusBody(...refused));
      return true;
    }
    kubeTarget(cluster).then(
      (target) => forwardUpgradeToKube(req, socket, head, target, { authorization }),
      () => socket.destroy(),
    );
    return true;
  };
}

/** The `/console` routes (mounted at `/console` by the server application). */
export function consoleRoutes(options: ConsoleRouteOptions): Router {
  const router = express.Router();
  const cluster = options.kubeConfig.withoutCredentials();

  router.all(/^\/k8s(\/.*)$/, (req: Request, res: Response) => {
    const path = req.path.slice('/k8s'.length);
    const authorization = req.headers.authorization;
    const refused = refusal(req, req.method, path, authorization, false);
    if (refused) {
      refuse(res, ...refused);
      return;
    }
    req.url = req.originalUrl.slice(req.originalUrl.indexOf('/k8s/') + '/k8s'.length);
    kubeTarget(cluster).then(
      (target) => forwardToKube(req, res, target, { authorization }),
      (error: Error) =>
        refuse(res, 500, 'InternalError', `kube-apiserver is not configured: ${error.message}`),
    );
  });

  router.get('/config.json', (_req, res) => {
    res.set('cache-control', 'no-store').json({ apiBase: '/console/k8s', auth: 'bearer' });
  });

  router.use((req, res, next) => {
    // Relative asset URLs need the trailing slash.
    if (req.originalUrl === '/console') {
      res.redirect(301, '/console/');
      return;
    }
    res.set({ 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff' });
    next();
  });
  if (options.distDir !== undefined) router.use(express.static(options.distDir, { index: 'index.html' }));
  else
    router.use((_req, res) => {
      res
        .status(404)
        .type('text/plain')
        .send('the console is not built into this server: run `bash hack/console.sh`, then build again\n');
    });
  return router;
}
