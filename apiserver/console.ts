/**
 * The web console as `syncflow server` serves it, at `/console/`, for in-cluster use: the built
 * files, and the console's Kubernetes API calls (kube/console-api.ts lists them; nothing else) under
 * `/console/k8s/`, forwarded to kube-apiserver with the bearer token the browser presents (a
 * ServiceAccount or OIDC id token). The server lends only its TLS trust of kube-apiserver, never its
 * identity: RBAC decides what each person sees, and a call without a token is refused here.
 */
import express, { type Request, type Response, type Router } from 'express';
import { KubeConfig } from '@kubernetes/client-node';
import { consoleApiCall, forwardToKube, kubeTarget, statusBody } from '../kube/console-api.ts';

/** What the console's routes are built from. */
export interface ConsoleRouteOptions {
  /** The server's kubeconfig: only its current cluster (address and CA) is used. */
  kubeConfig: KubeConfig;
  /** The built console (console/dist); undefined when this server was built without it. */
  distDir: string | undefined;
}

/** The kubeconfig's cluster with a user that has no credentials: the browser brings its own. */
function withoutCredentials(config: KubeConfig): KubeConfig {
  const cluster = config.getCurrentCluster();
  const anonymous = new KubeConfig();
  if (cluster === null) return anonymous;
  anonymous.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'browser' }],
    contexts: [{ name: 'browser', cluster: cluster.name, user: 'browser' }],
    currentContext: 'browser',
  });
  return anonymous;
}

function refuse(res: Response, code: number, reason: string, message: string): void {
  res
    .status(code)
    .type('application/json')
    .send(statusBody(code, reason, message));
}

/** The `/console` routes (mounted at `/console` by the server application). */
export function consoleRoutes(options: ConsoleRouteOptions): Router {
  const router = express.Router();
  const cluster = withoutCredentials(options.kubeConfig);

  router.all(/^\/k8s(\/.*)$/, (req: Request, res: Response) => {
    const path = req.path.slice('/k8s'.length);
    const origin = req.headers.origin;
    if (origin !== undefined && URL.parse(origin)?.host !== req.headers.host) {
      refuse(res, 403, 'Forbidden', `Origin ${origin} may not use this console`);
      return;
    }
    if (!consoleApiCall(req.method, path)) {
      refuse(res, 403, 'Forbidden', `the console does not forward ${req.method} ${path}`);
      return;
    }
    const authorization = req.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) {
      refuse(res, 401, 'Unauthorized', 'present a bearer token (a ServiceAccount or OIDC id token)');
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
