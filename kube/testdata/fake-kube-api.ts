/**
 * A stand-in for kube-apiserver over HTTPS with the auth tests' certificates (serving certificate
 * for 127.0.0.1 signed by the client CA, client certificates asked for and checked against it):
 * routes by "METHOD path" and records each request with the client certificate's CN.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { testPki } from '../../apiserver/auth/testdata/pki.ts';

/** Answers one request; `body` is the request body as text. */
export type FakeRoute = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A request the fake received. */
export interface SeenRequest {
  method: string;
  url: string;
  body: string;
  headers: IncomingMessage['headers'];
  /** CN of the client certificate, when one was presented. */
  clientCN: string | undefined;
}

/** The fake kube-apiserver. */
export class FakeKubeApi {
  readonly server: Server;
  readonly requests: SeenRequest[] = [];
  readonly routes = new Map<string, FakeRoute>();
  url = '';

  constructor() {
    const pki = testPki();
    this.server = createServer(
      {
        cert: pki.server.certPem,
        key: pki.server.keyPem,
        ca: pki.clientCA.certPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          const socket = req.socket as TLSSocket;
          const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
          this.requests.push({
            method: req.method ?? '',
            url: req.url ?? '',
            body,
            headers: req.headers,
            clientCN: peer?.subject?.CN as string | undefined,
          });
          const route = this.routes.get(`${req.method} ${(req.url ?? '').split('?')[0]}`);
          if (route === undefined)
            json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound', message: `no route ${req.url}` });
          else route(req, body, res);
        });
      },
    );
  }

  /** The CA that signed the serving certificate (PEM). */
  static get ca(): string {
    return testPki().clientCA.certPem;
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** Writes a JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** One watch line. */
export function watchLine(type: string, object: unknown): string {
  return `${JSON.stringify({ type, object })}\n`;
}

/** The query of a seen request. */
export function queryOf(request: SeenRequest): URLSearchParams {
  return new URL(request.url, 'https://x').searchParams;
}
