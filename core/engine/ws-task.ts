/**
 * WebSocket tasks: the handshake is the task's HTTP GET (URL, query, headers, secrets, egress
 * policy and redaction exactly as for HTTP), the templated message is its body, and the task
 * completes with the first message, the Nth, or the first a CEL predicate over `message` accepts.
 * The client that opens sockets lives in adapters/; the completion rule is decided here.
 */
import type { WebSocketSettings } from '../definitions/compile.ts';
import { SyncflowError } from '../errors.ts';
import type { TaskRequest, TaskResponse } from './task-http.ts';

/**
 * Opens WebSocket connections for tasks. `exchange` connects to `request.url` with its headers,
 * sends `request.body` once open (when present), and offers each message's text to `accept`;
 * it resolves with status 101 and the accepted message as body, or with the handshake's answer
 * when the upstream refused the upgrade. Rejects like `TaskHttpClient.send` (ConnectError,
 * EgressDenied, ResponseTooLarge, or the signal's reason), and with what `accept` throws.
 */
export interface TaskWebSocketClient {
  exchange(request: TaskRequest, accept: (text: string) => boolean): Promise<TaskResponse>;
  close(): Promise<void>;
}

/** The status of a completed exchange (101 Switching Protocols, the handshake's own). */
export const WEBSOCKET_COMPLETED = 101;

/** The completion rule of one exchange: true for the message that completes the task. */
export function completion(settings: WebSocketSettings): (text: string) => boolean {
  const match = settings.match;
  if (!match) {
    let seen = 0;
    return () => ++seen >= settings.nth;
  }
  return (text) => {
    let message: unknown = text;
    try {
      message = JSON.parse(text);
    } catch {
      // Not JSON: the predicate sees the text.
    }
    try {
      return match.evaluate({ input: undefined, tasks: {}, message } as Parameters<typeof match.evaluate>[0]);
    } catch (error) {
      // A predicate about a field this message does not have does not match it.
      if (error instanceof Error && error.message.startsWith('No such key')) return false;
      if (error instanceof SyncflowError) throw error;
      throw new SyncflowError(
        'InvalidWhen',
        `websocket.complete.match \`${match.source}\` failed on a message: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      );
    }
  };
}
