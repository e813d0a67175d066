/**
 * `syncflow console`: serves the built web console on loopback and forwards its Kubernetes API calls
 * (kube/console-api.ts lists them; nothing else) to kube-apiserver with the kubeconfig's credentials,
 * like `kubectl proxy` but safe to leave running: loopback only, a secret made per launch that the
 * printed URL carries (traded for an HttpOnly SameSite=Strict cookie), and Host and Origin checked on
 * every request so that no other site, nor a DNS-rebound name, can use the kubeconfig's identity.
 */
import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import express from 'express';
import {
  consoleApiCall,
  consoleDistDir,
  forwardToKube,
  forwardUpgradeToKube,
  kubeTarget,
  refuseUpgrade,
  statusBody,
} from '../kube/console-api.ts';
import { CONSOLE } from './commands.ts';
import { parseFlags } from './flags.ts';
import { EXIT, UsageError, type CliIO } from './io.ts';

/** What the local console is started with. */
export interface LocalConsoleOptions {
  kubeConfig: KubeConfig;
  /** The built console (console/dist). */
  distDir: string;
  /** 0: any free port. */
  port: number;
  /** A loopback address (default 127.0.0.1). */
  address?: string;
}

/** A running local console. */
export interface LocalConsole {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** The URL to open: the origin with this launch's secret. */
  url: string;
  close(): Promise<void>;
}

/** Whether an address is a loopback one (127.0.0.0/8, ::1, an IPv4-mapped loopback, `localhost`). */
function isLoopback(address: string): boolean {
  if (address === 'localhost' || address === '::1') return true;
  const v4 = address.replace(/^::ffff:/i, '');
  return isIP(v4) === 4 && v4.startsWith('127.');
}

const NO_SECRET =
  'This console answers only the URL that `syncflow console` printed (it carries a secret made for this launch): open that URL again.\n';

/** Starts the console server; rejects a non-loopback address before listening. */
export async function startLocalConsole(options: LocalConsoleOptions): Promise<LocalConsole> {
  const address = options.address ?? '127.0.0.1';
  if (!isLoopback(address))
    throw new UsageError(
      `--address ${address} is not a loopback address: the console listens only on loopback`,
    );
  const secret = randomBytes(32).toString('base64url');
  const secretBytes = Buffer.from(secret);
  const files = express.static(options.distDir, { index: 'index.html', fallthrough: true });
  const hostName = address.includes(':') ? `[${address}]` : address;
  let port = 0;
  /** The Host names this console answers to (any other is a rebound DNS name). */
  const hosts = () => new Set([`${hostName}:${port}`, `localhost:${port}`]);

  const validSecret = (value: string | undefined) => {
    if (value === undefined) return false;
    const given = Buffer.from(value);
    return given.length === secretBytes.length && timingSafeEqual(given, secretBytes);
  };
  // Cookies ignore ports: the name carries this console's port, so consoles side by side keep theirs.
  const cookieName = () => `syncflow-console-${port}`;
  const cookieSecret = (req: IncomingMessage) =>
    (req.headers.cookie ?? '')
      .split(';')
      .map((pair) => pair.trim().split('='))
      .find(([name]) => name === cookieName())?.[1];

  /** Why a request is refused (status and message), or undefined when it may go on. */
  const refusal = (req: IncomingMessage, url: URL): [number, string] | undefined => {
    if (!isLoopback(req.socket.remoteAddress ?? '')) return [403, 'only loopback clients are served\n'];
    const host = req.headers.host ?? '';
    if (!hosts().has(host))
      return [403, `Host ${host} is not this console (open http://${hostName}:${port}/)\n`];
    const origin = req.headers.origin;
    if (origin !== undefined && !hosts().has(origin.replace(/^http:\/\//, '')))
      return [403, `Origin ${origin} may not use this console\n`];
    if (!validSecret(cookieSecret(req)) && !validSecret(url.searchParams.get('secret') ?? undefined))
      return [401, NO_SECRET];
    return undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://console');
    const refused = refusal(req, url);
    if (refused) {
      res.writeHead(refused[0], { 'content-type': 'text/plain; charset=utf-8' }).end(refused[1]);
      return;
    }
    if (url.searchParams.has('secret')) {
      // The secret leaves the address bar (and history) at once; the cookie carries it from now on.
      url.searchParams.delete('secret');
      res
        .writeHead(302, {
          location: `${url.pathname}${url.search}`,
          'set-cookie': `${cookieName()}=${secret}; Path=/; HttpOnly; SameSite=Strict`,
          'referrer-policy': 'no-referrer',
        })
        .end();
      return;
    }
    if (/^\/(api|apis|version)(\/|$)/.test(url.pathname)) {
      if (!consoleApiCall(req.method ?? '', url.pathname)) {
        const message = `the console does not forward ${req.method} ${url.pathname}`;
        res.writeHead(403, { 'content-type': 'application/json' }).end(statusBody(403, 'Forbidden', message));
        return;
      }
      kubeTarget(options.kubeConfig).then(
        (target) => forwardToKube(req, res, target),
        (error: Error) =>
          res
            .writeHead(500, { 'content-type': 'application/json' })
            .end(statusBody(500, 'InternalError', `the kubeconfig cannot be used: ${error.message}`)),
      );
      return;
    }
    if (url.pathname === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ apiBase: '', auth: 'session' }));
      return;
    }
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('x-content-type-options', 'nosniff');
    files(req as express.Request, res as express.Response, () => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    });
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://console');
    const refused =
      refusal(req, url) ??
      (consoleApiCall(req.method ?? '', url.pathname, { upgrade: true })
        ? undefined
        : ([403, 'not a call the console makes\n'] as const));
    if (refused) {
      refuseUpgrade(socket, refused[0], 'text/plain');
      socket.end(refused[1]);
      return;
    }
    kubeTarget(options.kubeConfig).then(
      (target) => forwardUpgradeToKube(req, socket, head, target),
      () => socket.destroy(),
    );
  };

  const server = createServer(handle);
  server.on('upgrade', upgrade);
  server.listen(options.port, address);
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  const origin = `http://${hostName}:${port}`;
  return {
    origin,
    url: `${origin}/?secret=${secret}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Opens a URL in the desktop's browser, if there is one; failing to is not an error. */
function openInBrowser(url: string): void {
  const command =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
}

/** `syncflow console`: runs until SIGINT or SIGTERM. `deps.distDir` is where the built console is. */
export async function consoleCommand(
  args: readonly string[],
  io: CliIO,
  deps: { distDir: string | undefined } = { distDir: consoleDistDir(new URL(import.meta.url)) },
): Promise<number> {
  const { values } = parseFlags(CONSOLE.flags, args);
  const port = Number(values.port);
  if (!/^\d+$/.test(String(values.port)) || port > 65535)
    throw new UsageError(`--port takes a number from 0 to 65535, got ${values.port}`);
  const address = String(values.address);
  if (!isLoopback(address))
    throw new UsageError(
      `--address ${address} is not a loopback address: the console listens only on loopback`,
    );
  if (deps.distDir === undefined) {
    io.stderr.write('syncflow console: the console has not been built: run `bash hack/console.sh` first\n');
    return EXIT.failed;
  }
  const kubeConfig = new KubeConfig();
  if (values.kubeconfig) kubeConfig.loadFromFile(String(values.kubeconfig));
  else kubeConfig.loadFromDefault();
  const local = await startLocalConsole({ kubeConfig, distDir: deps.distDir, port, address });
  io.stdout.write(`syncflow console: open ${local.url}\n(Ctrl-C stops it)\n`);
  if (values.open) openInBrowser(local.url);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await local.close();
  return EXIT.ok;
}
