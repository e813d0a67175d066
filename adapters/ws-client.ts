/**
 * `TaskWebSocketClient` over the `ws` package, under the same egress policy as HTTP tasks: the URL
 * is checked (ws as http, wss as https) before connecting, and the socket resolves its host through
 * the policy's pinning lookup, so it connects only to an address that was checked. The handshake
 * follows no redirect (a 3xx answer is returned like any refusal), and messages larger than the
 * task's response limit end the exchange.
 */
import { WebSocket, type RawData } from 'ws';
import type { CancelSignal } from '../core/engine/cancellation.ts';
import type { TaskRequest, TaskResponse } from '../core/engine/task-http.ts';
import { WEBSOCKET_COMPLETED, type TaskWebSocketClient } from '../core/engine/ws-task.ts';
import { SyncflowError } from '../core/errors.ts';
import { MAX_RESPONSE_BYTES_CEILING } from '../core/model/literals.ts';
import type { EgressPolicy } from './egress/policy.ts';

/** Bytes of a refused handshake's body kept for the error message. */
const REFUSAL_BODY_LIMIT = 4_096;

/** Options of the WebSocket client. */
export interface WsTaskClientOptions {
  policy: EgressPolicy;
}

/** WebSocket exchanges of tasks, each on its own connection. */
export class WsTaskClient implements TaskWebSocketClient {
  private readonly policy: EgressPolicy;

  constructor(options: WsTaskClientOptions) {
    this.policy = options.policy;
  }

  exchange(request: TaskRequest, accept: (text: string) => boolean): Promise<TaskResponse> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return Promise.reject(new SyncflowError('TemplateResolution', `invalid WebSocket URL ${request.url}`));
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      return Promise.reject(
        new SyncflowError('EgressDenied', `scheme ${url.protocol} is not a WebSocket scheme; use ws or wss`),
      );
    }
    const checked = new URL(url);
    checked.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    const decision = this.policy.checkUrl(checked);
    if (!decision.allowed)
      return Promise.reject(
        new SyncflowError('EgressDenied', `egress to ${url.host} denied: ${decision.reason}`),
      );
    return new Exchange(url, request, accept, this.policy).promise;
  }

  async close(): Promise<void> {
    // Every exchange closes its own connection.
  }
}

/** One connection: open, send, wait for the accepted message, close. */
class Exchange {
  readonly promise: Promise<TaskResponse>;
  private resolve: (response: TaskResponse) => void = () => {};
  private reject: (error: unknown) => void = () => {};
  private settled = false;
  private readonly socket: WebSocket;
  private readonly signal: CancelSignal;
  private readonly onAbort = () => this.fail(this.signal.reason);

  constructor(
    private readonly url: URL,
    request: TaskRequest,
    private readonly accept: (text: string) => boolean,
    policy: EgressPolicy,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.signal = request.signal;
    this.socket = new WebSocket(url, {
      headers: request.headers,
      // ws hands these to net.connect/tls.connect: the pinning lookup of the egress policy.
      lookup: policy.lookup as never,
      followRedirects: false,
      perMessageDeflate: false,
      maxPayload: Math.min(request.maxResponseBytes, MAX_RESPONSE_BYTES_CEILING),
    });
    if (this.signal.aborted) {
      this.fail(this.signal.reason);
      return;
    }
    this.signal.once('abort', this.onAbort);
    const message = request.body;
    this.socket.on('open', () => {
      if (message !== undefined) this.socket.send(message);
    });
    this.socket.on('message', (data: RawData) => this.received(data));
    this.socket.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < REFUSAL_BODY_LIMIT) chunks.push(chunk);
        size += chunk.length;
      });
      const done = () =>
        this.succeed({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).subarray(0, REFUSAL_BODY_LIMIT),
        });
      res.on('end', done);
      res.on('error', done);
    });
    this.socket.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.fail(
          new SyncflowError(
            'ResponseTooLarge',
            `a message from ${this.url.host} is larger than the task's limit of ${request.maxResponseBytes} bytes`,
          ),
        );
        return;
      }
      // The policy's own refusal (EgressDenied from the lookup) stays what it is.
      for (let e: unknown = error; e instanceof Error; e = e.cause) {
        if (e instanceof SyncflowError) {
          this.fail(e);
          return;
        }
      }
      this.fail(
        new SyncflowError('ConnectError', `cannot reach ${this.url.host}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    });
    this.socket.on('close', (code: number) =>
      this.fail(
        new SyncflowError(
          'ConnectError',
          `the WebSocket to ${this.url.host} closed (code ${code}) before the awaited message`,
        ),
      ),
    );
  }

  private received(data: RawData): void {
    if (this.settled) return;
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as Buffer).toString('utf8');
    let accepted: boolean;
    try {
      accepted = this.accept(text);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (accepted) this.succeed({ status: WEBSOCKET_COMPLETED, headers: {}, body: Buffer.from(text, 'utf8') });
  }

  private succeed(response: TaskResponse): void {
    if (this.settled) return;
    this.settled = true;
    this.finish();
    this.resolve(response);
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.finish();
    this.reject(error);
  }

  private finish(): void {
    this.signal.removeListener('abort', this.onAbort);
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    else this.socket.terminate();
  }
}
