// Fakes for the console's servers: a kube-apiserver that echoes what reached it, and kubeconfigs naming it.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer } from 'ws';

/** A kube-apiserver stand-in: answers 200 with a JSON echo (403 for `Bearer nobody`); WebSockets get one ADDED. */
export class EchoApiServer {
  readonly server: Server;
  readonly seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> =
    [];
  readonly sockets: WebSocketServer;

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const code = req.headers.authorization === 'Bearer nobody' ? 403 : 200;
        res
          .writeHead(code, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: code === 200 ? 'Echo' : 'Status', code, url: req.url }));
      });
    });
    this.sockets = new WebSocketServer({ server: this.server });
    this.sockets.on('connection', (socket, req) => {
      socket.send(
        JSON.stringify({
          type: 'ADDED',
          url: req.url,
          authorization: req.headers.authorization,
          protocols: req.headers['sec-websocket-protocol'],
        }),
      );
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const client of this.sockets.clients) client.terminate();
    this.sockets.close();
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** A kubeconfig naming `server` with a bearer token (or no credentials at all). */
export function kubeConfigFor(server: string, token?: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: server.startsWith('http:') }],
    users: [{ name: 'u', ...(token ? { token } : {}) }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return config;
}
