/**
 * The live-events stream's wire protocol (DESIGN §9.2, docs/stream.md): JSON text messages over one
 * WebSocket, each an object with a `type`. The server and the TypeScript client share these types;
 * pure types and constants, so the browser imports them too.
 */
import type { ExecutionEvent } from './events.ts';
import type { WorkflowExecution } from './execution.ts';

/** A request's identifier, chosen by the client and echoed on every message about it. */
export type StreamId = string | number;

/** Which breakpoints a debug run stops at: `*` (every task) or task ids. */
export interface DebugOptions {
  breakpoints: string[];
}

/** Client → server. */
export type StreamRequest =
  | {
      type: 'execute';
      id: StreamId;
      namespace: string;
      workflow: string;
      /** A recorded WorkflowRevision of `workflow` to run instead of its current definition. */
      workflowRevision?: string;
      input?: unknown;
      labels?: Record<string, string>;
      debug?: DebugOptions;
    }
  | {
      type: 'subscribe';
      id: StreamId;
      namespace: string;
      workflow?: string;
      labelSelector?: string;
      /** Coalesce events that come faster than one per `batchMs` into `batch` messages (10–1000). */
      batchMs?: number;
    }
  | { type: 'unsubscribe'; id: StreamId }
  | { type: 'continue'; id: StreamId }
  | { type: 'skip'; id: StreamId; output: unknown }
  | { type: 'abort'; id: StreamId };

/** The execution an event belongs to. */
export interface StreamExecution {
  namespace: string;
  /** Its name as it stands; the `ExecutionFinished` message carries the recorded one. */
  name: string;
  uid: string;
  workflow: string;
}

/** A live event (every engine event but `ExecutionFinished`), tagged with the request and the execution. */
export type StreamEventMessage = Exclude<ExecutionEvent, { type: 'ExecutionFinished' }> & {
  id: StreamId;
  execution: StreamExecution;
};

/** A Kubernetes `meta.k8s.io/v1` Status, as the rest of the API answers errors. */
export interface StreamStatus {
  kind: 'Status';
  apiVersion: 'v1';
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
  details?: { causes?: { field?: string; message?: string; reason?: string }[] };
}

/** Server → client. */
export type StreamMessage =
  | StreamEventMessage
  | {
      type: 'ExecutionFinished';
      id: StreamId;
      seq: number;
      time: string;
      execution: StreamExecution;
      /** The final, recorded WorkflowExecution. */
      object: WorkflowExecution;
    }
  /** The execution will never be recorded under the name its earlier events carried. */
  | { type: 'ExecutionGone'; id: StreamId; execution: StreamExecution }
  /** A subscription is in place: events of executions that start from now on reach the client. */
  | { type: 'subscribed'; id: StreamId }
  | { type: 'unsubscribed'; id: StreamId }
  /** A debug run waits before `task` with its resolved request (secrets redacted). */
  | { type: 'paused'; id: StreamId; task: string; request: unknown }
  | { type: 'error'; id: StreamId | null; status: StreamStatus }
  /** `dropped` messages of request `id` were not sent: the client read too slowly. */
  | { type: 'overflow'; id: StreamId; dropped: number }
  /** Events of subscription `id` that came within `batchMs` of each other, in order (subscribe `batchMs`). */
  | { type: 'batch'; id: StreamId; messages: StreamMessage[] }
  | { type: 'heartbeat'; time: string };

/** Close codes of the stream (1000–1011 from RFC 6455; 4000–4999 are the protocol's own). */
export const STREAM_CLOSE = {
  /** The client closed, or the server ended the connection normally. */
  normal: 1000,
  /** The server is shutting down: reconnect (to another replica). */
  goingAway: 1001,
  /** A binary message: the protocol is JSON text. */
  unsupportedData: 1003,
  /** A message that is not JSON at all. */
  invalidPayload: 1007,
  /** A message larger than the server accepts. */
  tooBig: 1009,
  /** The server failed; reconnect. */
  internalError: 1011,
  /** The peer answered no ping within the heartbeat interval (the server only terminates). */
  heartbeatTimeout: 4000,
  /** The client let its answers (or a watch its events) pile up past the server's limit. */
  slowReader: 4001,
} as const;

/** The subprotocol prefix that carries a bearer token from clients that cannot set headers (browsers). */
export const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.authorization.k8s.io.';

/** The subprotocol of this protocol, offered beside the bearer token one (a browser needs one echoed). */
export const STREAM_PROTOCOL = 'stream.syncflow.io';
