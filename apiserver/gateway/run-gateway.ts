/**
 * The direct run gateway (`POST /run/v1/namespaces/{ns}/workflows/{name}`) for application callers
 * on the hot path: the input JSON in, the workflow output JSON out, errors as problem+json. Same
 * authentication and the same RBAC check as creating a WorkflowExecution, and recorded the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Cancellation } from '../../core/engine/cancellation.ts';
import { ERROR_CATALOGUE, messageWithSuggestion, SyncflowError, type ErrorCode } from '../../core/errors.ts';
import type { RunProblem } from '../../core/model/wire.ts';
import { setRetryAfter } from '../../core/serving.ts';
import type { WorkflowExecution } from '../../core/model/execution.ts';
import type { ExecutionService, RunContext } from '../execution/service.ts';
import { parseJson, readBody } from '../http/body.ts';
import type { RequestGuard } from '../http/guard.ts';

/** An RFC 9457 problem document (the gateway's error format). */
export type Problem = RunProblem;

/**
 * The one problem+json converter: type, title and status come from the error catalogue entry of
 * `code`; `detail` and the extra members describe this occurrence.
 */
function problem(code: ErrorCode, detail: string, extra: Pick<Problem, 'instance' | 'errors'> = {}): Problem {
  const entry = ERROR_CATALOGUE[code];
  return {
    type: `https://syncflow.io/problems/${code}`,
    title: entry.title,
    status: entry.status,
    detail,
    code,
    ...extra,
  };
}

/** Builds the problem document for an error; errors outside the catalogue become a 500 without details. */
export function problemFor(error: unknown): Problem {
  if (error instanceof SyncflowError) {
    const errors = error.causes.map((c) => ({ field: c.field, message: messageWithSuggestion(c) }));
    return problem(error.code, error.message, errors.length ? { errors } : {});
  }
  return problem('InternalError', 'the server could not complete the request');
}

/**
 * The catalogue entry a failed run is answered with (docs/client.md, "Errors"): 504 when the workflow deadline
 * cut it off, 502 for any other failure.
 */
function failureCode(reason: string): ErrorCode {
  return reason === 'DeadlineExceeded' ? 'DeadlineExceeded' : 'TaskFailed';
}

function sendProblem(res: ServerResponse, problem: Problem): void {
  if (!res.headersSent) {
    setRetryAfter(res, problem.status);
    const body = JSON.stringify(problem);
    res.writeHead(problem.status, {
      'content-type': 'application/problem+json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return;
  }
  res.end(JSON.stringify(problem));
}

/** Why an execution stops when its caller closed the connection. */
const CALLER_GONE = new SyncflowError('Cancelled', 'the caller closed the connection');

/** The labels and annotations of a gateway execution: none (shared, never written to). */
const NO_METADATA: Record<string, string> = Object.freeze({}) as Record<string, string>;

const ROUTE = /^\/run\/v1\/namespaces\/([^/?]+)\/workflows\/([^/?]+)\/?(?:\?.*)?$/;

/** Limits how many executions run at once (shared with the Kubernetes API's create). */
export interface InFlightLimiter {
  /** Takes a slot; false when the limit is reached (the caller answers 429). */
  tryAcquire(): boolean;
  release(): void;
}

/**
 * The gateway as a plain Node request handler: it is the hot path, so it is served ahead of express
 * (routing and response helpers cost a measurable share of a millisecond per request). Returns false
 * when the request is not for the gateway.
 */
export function runGatewayHandler(options: {
  service: ExecutionService;
  guard: RequestGuard;
  limiter: InFlightLimiter;
  onShed?: () => void;
}) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '';
    if (!url.startsWith('/run/')) return false;
    const match = ROUTE.exec(url);
    if (!match || req.method !== 'POST') {
      sendProblem(
        res,
        problemFor(
          new SyncflowError(
            match ? 'MethodNotAllowed' : 'NotFound',
            match ? 'use POST' : `no gateway route ${url.split('?')[0] ?? ''}`,
          ),
        ),
      );
      return true;
    }
    if (!options.limiter.tryAcquire()) {
      options.onShed?.();
      sendProblem(
        res,
        problemFor(
          new SyncflowError(
            'TooManyRequests',
            'the server is running as many executions as it may; retry after 1 second',
          ),
        ),
      );
      return true;
    }
    // One listener for the connection: it frees the slot and cancels the execution if the caller
    // goes away first (a Cancellation costs far less than an AbortController per request).
    const cancellation = new Cancellation();
    let released = false;
    // A response emits 'close' once: `on` spares the wrapper `once` makes per request.
    res.on('close', () => {
      if (!res.writableFinished) cancellation.abort(CALLER_GONE);
      if (!released) {
        released = true;
        options.limiter.release();
      }
    });
    void run(match[1] as string, match[2] as string, req, res, cancellation);
    return true;
  };

  async function run(
    rawNamespace: string,
    rawName: string,
    req: IncomingMessage,
    res: ServerResponse,
    cancellation: Cancellation,
  ): Promise<void> {
    try {
      const namespace = pathSegment(rawNamespace, 'namespace');
      const name = pathSegment(rawName, 'workflow name');
      const user = await options.guard.authenticate(req);
      await options.guard.authorize(user, { verb: 'create', resource: 'workflowexecutions', namespace });
      const input = parseJson(await readBody(req), 'input');
      const context: RunContext = {
        user: user.username,
        signal: cancellation,
        // Answered as soon as the execution exists: its recording, publishing and log line follow
        // in the same tick, off the caller's latency.
        answer: (execution) => answer(res, namespace, execution),
      };
      const traceparent = req.headers.traceparent;
      if (typeof traceparent === 'string') context.traceparent = traceparent;
      await options.service.run(
        {
          namespace,
          name: undefined,
          generateName: `${name}-`,
          labels: NO_METADATA,
          annotations: NO_METADATA,
          workflowName: name,
          input,
        },
        context,
      );
    } catch (error) {
      // Once answered, what failed after (writing the answer, or recording, which the service
      // reports as a background error) can no longer be told to the caller.
      if (!res.headersSent) sendProblem(res, problemFor(error));
    }
  }
}

/** The answer of a finished execution: its output (200), or the problem of its failure. */
function answer(res: ServerResponse, namespace: string, execution: WorkflowExecution): void {
  res.setHeader('Syncflow-Execution', `${namespace}/${execution.metadata.name}`);
  const status = execution.status;
  if (status.phase === 'Succeeded') {
    const body = JSON.stringify(status.output ?? null);
    // A declared length instead of chunked encoding: Node sends headers and body in one write
    // (one TLS record) instead of a vectored write of four pieces.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const reason = status.reason ?? 'TaskFailed';
  const failed = (status.tasks ?? []).filter((t) => t.phase === 'Failed');
  // The type and code name the execution's own reason (`HTTPError`, `Cancelled`, ...).
  sendProblem(res, {
    ...problem(failureCode(reason), status.message ?? reason, {
      instance: `/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions/${execution.metadata.name}`,
      ...(failed.length
        ? {
            errors: failed.map((t) => ({
              field: `status.tasks[${t.id}]`,
              message: t.error?.message ?? 'failed',
            })),
          }
        : {}),
    }),
    type: `https://syncflow.io/problems/${reason}`,
    code: reason,
  });
}

/** A decoded path segment; 400 when it is not valid percent-encoding. */
function pathSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new SyncflowError('BadRequest', `the ${what} in the path (${raw}) is not valid percent-encoding`);
  }
}
