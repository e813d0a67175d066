/**
 * The HTTPS listener the application is served on, with the connection-level limits that keep a
 * replica answering under overload:
 *
 * - Accepting fast. libuv accepts one connection per listening socket per event loop iteration, so
 *   a busy loop (each iteration serving hundreds of requests) accepts a burst of connections over
 *   many seconds while they wait in the kernel's queue — clients see their first answer after 10 s
 *   or time out. Where the runtime has `reusePort` (Node ≥ 22.12, Linux), the listener is several
 *   servers on one port (SO_REUSEPORT; the kernel spreads connections over them), each accepting
 *   one per iteration.
 * - An accept queue as deep as the connection cap, so a burst is never dropped by the kernel (the
 *   client would only notice after SYN retransmissions of 1, 3, 7 and 15 s).
 * - A cap on open connections: beyond it a connection is closed as it is accepted, before any TLS
 *   work, which bounds memory.
 * - Deadlines for the TLS handshake, the headers and the whole request, checked every second.
 * - Draining on close: kept-alive connections end as soon as they are idle, and every answer from
 *   then on says `Connection: close`, so callers (and kube-apiserver's proxy) open their next
 *   connection to another replica instead of sending more work to one that is going away — work
 *   that the end of the grace period would cut off mid-way.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';

/** TLS material of the server (reloadable with {@link SecureListener.setSecureContext}). */
export type ServingTls = Pick<SecureContextOptions, 'cert' | 'key' | 'ca'>;

/** Connection-level limits (see docs/operations.md, "Limits"). */
export interface ConnectionLimits {
  /** Open connections; more are closed as they are accepted. */
  maxConnections: number;
  /** TLS handshake deadline. */
  handshakeTimeoutMs: number;
  /** Deadline for a request's headers. */
  headersTimeoutMs: number;
  /** Deadline for a whole request (headers and body; the response may take longer). */
  requestTimeoutMs: number;
  /** Idle time before a kept-alive connection is closed. */
  keepAliveTimeoutMs: number;
}

/** The server's defaults; `maxConnections` follows `--max-connections`. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 4096,
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
};

/** How often Node checks the header and request deadlines (its default, 30 s, would let them slip). */
const DEADLINE_CHECK_MS = 1_000;

/** How often a closing listener ends the kept-alive connections that went idle. */
const DRAIN_SWEEP_MS = 50;

/** Servers sharing the port where `reusePort` is available. */
const ACCEPTORS = 8;

/** Whether `listen({ reusePort })` exists (Node ≥ 22.12 or ≥ 23.1, on Linux). */
export function reusePortSupported(
  version: string = process.versions.node,
  platform: string = process.platform,
): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return (
    platform === 'linux' && (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12))
  );
}

/** What a listener is built from. */
export interface SecureListenerOptions {
  tls: ServingTls;
  handler: RequestListener;
  limits?: ConnectionLimits;
  /** Servers on the port (default: 8 where `reusePort` exists, else 1). */
  acceptors?: number;
}

/**
 * The HTTPS listener: client certificates requested (front-proxy, cluster CA) but verified by the
 * authenticator, TLS 1.2 or later, and the limits above.
 */
export class SecureListener {
  private readonly servers: Server[];
  private draining = false;

  constructor(options: SecureListenerOptions) {
    const limits = options.limits ?? DEFAULT_CONNECTION_LIMITS;
    // Each server gets a share of the connection cap; shares below ~256 would refuse early when the
    // kernel's spread is uneven, so a small cap means fewer servers.
    const fitting = Math.max(1, Math.min(ACCEPTORS, Math.floor(limits.maxConnections / 256)));
    const count = Math.max(1, options.acceptors ?? (reusePortSupported() ? fitting : 1));
    const handler: RequestListener = (req, res) => {
      // Read when the headers are written: `Connection: close`, and the connection ends after it.
      if (this.draining) res.shouldKeepAlive = false;
      options.handler(req, res);
    };
    this.servers = Array.from({ length: count }, () => {
      const server = createServer(
        {
          ...options.tls,
          requestCert: true,
          rejectUnauthorized: false,
          minVersion: 'TLSv1.2',
          handshakeTimeout: limits.handshakeTimeoutMs,
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          connectionsCheckingInterval: DEADLINE_CHECK_MS,
        },
        handler,
      );
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      // The kernel spreads connections evenly enough over the servers for a share each.
      server.maxConnections = Math.ceil(limits.maxConnections / count);
      // A client that gives up mid-handshake (or never speaks TLS) is no error of ours.
      server.on('tlsClientError', (_error, socket) => socket.destroy());
      return server;
    });
  }

  /** Open connections. */
  connections(): Promise<number> {
    return Promise.all(
      this.servers.map((s) => new Promise<number>((resolve) => s.getConnections((_e, n) => resolve(n ?? 0)))),
    ).then((counts) => counts.reduce((a, b) => a + b, 0));
  }

  /** Starts listening (accept queue as deep as the connection cap); resolves with the port. */
  async listen(port: number, host: string): Promise<number> {
    const reusePort = this.servers.length > 1;
    let bound = port;
    for (const server of this.servers) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const backlog = Math.max(511, server.maxConnections * this.servers.length);
        server.listen({ port: bound, host, backlog, ...(reusePort ? { reusePort } : {}) }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address();
      if (typeof address === 'object' && address) bound = address.port;
    }
    return bound;
  }

  /** Serves upgrade requests (WebSockets) with `listener` on every server of the port. */
  onUpgrade(listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): void {
    for (const server of this.servers) server.on('upgrade', listener);
  }

  /** Replaces the certificate, key or client CAs for new connections. */
  setSecureContext(tls: ServingTls): void {
    for (const server of this.servers) server.setSecureContext(tls);
  }

  /**
   * Stops accepting and drains: requests in progress are answered, later ones on kept-alive
   * connections too but with `Connection: close`, and idle connections are ended as they occur.
   * Resolves once every connection has ended.
   */
  close(): Promise<void> {
    this.draining = true;
    // A connection goes idle when its answer is written; ending it then (not at the keep-alive
    // timeout) moves its caller on at once. Node closes idle connections only when close() starts.
    const sweep = setInterval(() => this.closeIdleConnections(), DRAIN_SWEEP_MS);
    // Never what keeps a process alive: the connections are.
    sweep.unref();
    return Promise.all(
      this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ).then(() => clearInterval(sweep));
  }

  /** Closes connections that are not serving a request. */
  closeIdleConnections(): void {
    for (const server of this.servers) server.closeIdleConnections();
  }

  /** Closes every connection. */
  closeAllConnections(): void {
    for (const server of this.servers) server.closeAllConnections();
  }

  /** The servers (diagnostics and tests). */
  get httpsServers(): readonly Server[] {
    return this.servers;
  }
}
