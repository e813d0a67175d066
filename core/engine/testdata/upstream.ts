/**
 * A real HTTP upstream for engine tests: node:http on 127.0.0.1, routes answered by handlers,
 * every request and connection recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the upstream saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** Answers one request; `body` is the request body text. */
export type RouteHandler = (request: SeenRequest, response: ServerResponse) => unknown;

/** A running test upstream. */
export class TestUpstream {
  readonly requests: SeenRequest[] = [];
  connections = 0;
  /** Requests whose client went away before the answer was written. */
  aborted: string[] = [];
  private readonly routes = new Map<string, RouteHandler>();
  private server: Server | undefined;
  private port = 0;

  /** Registers a handler for `METHOD /path` (path without query). */
  route(key: string, handler: RouteHandler): this {
    this.routes.set(key, handler);
    return this;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen: SeenRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        this.requests.push(seen);
        res.on('close', () => {
          if (!res.writableFinished) this.aborted.push(seen.url);
        });
        const path = seen.url.split('?')[0];
        const handler = this.routes.get(`${seen.method} ${path}`);
        if (!handler) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no route"}');
          return;
        }
        void Promise.resolve(handler(seen, res)).catch(() => res.destroy());
      });
    });
    server.on('connection', () => this.connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Answers JSON with a status after an optional delay (the delay ends early if the client leaves). */
export function json(
  status: number,
  body: unknown,
  options: { delayMs?: number; headers?: Record<string, string> } = {},
): RouteHandler {
  return async (_req, res) => {
    if (options.delayMs) await delay(options.delayMs, res);
    if (res.destroyed) return;
    res
      .writeHead(status, { 'content-type': 'application/json', ...options.headers })
      .end(JSON.stringify(body));
  };
}

/** Answers each call with the next handler of the list (the last one repeats). */
export function sequence(...handlers: RouteHandler[]): RouteHandler {
  let calls = 0;
  return (req, res) => (handlers[Math.min(calls++, handlers.length - 1)] as RouteHandler)(req, res);
}

/** Waits, resolving early when the response is closed by the client. */
export function delay(ms: number, res?: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    res?.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
