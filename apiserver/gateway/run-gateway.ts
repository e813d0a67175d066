/**
 * The direct run gateway (`POST /run/v1/namespaces/{ns}/workflows/{name}`) for application callers
 * on the hot path: the input JSON in, the workflow output JSON out, errors as problem+json. Same
 * authentication and the same RBAC check as creating a WorkflowExecution, and recorded the same way.
 */
import express, { type Request, type Response, type Router } from 'express';
import { ERROR_CATALOGUE, SyncflowError } from '../../core/errors.ts';
import type { RunProblem } from '../../core/model/wire.ts';
import type { ExecutionService } from '../execution/service.ts';
import { parseJson, readBody } from '../http/body.ts';
import type { RequestGuard } from '../http/guard.ts';

/** Status codes of the gateway by the execution's failure reason (DESIGN.md §4). */
const FAILURE_STATUS: Record<string, number> = { DeadlineExceeded: 504 };

/** An RFC 9457 problem document (the gateway's error format). */
export type Problem = RunProblem;

/** Builds the problem document for an error. */
export function problemFor(error: unknown): Problem {
  if (error instanceof SyncflowError) {
    let status = ERROR_CATALOGUE[error.code].status;
    // Bad input is the caller's 422; malformed JSON stays 400.
    if (error.code === 'InvalidInput') status = 422;
    return {
      type: `https://syncflow.io/problems/${error.code}`,
      title: ERROR_CATALOGUE[error.code].title,
      status,
      detail: error.message,
      code: error.code,
      ...(error.causes.length ? { errors: error.causes.map((c) => ({ field: c.field, message: c.suggestion ? `${c.message} (${c.suggestion})` : c.message })) } : {}),
    };
  }
  return { type: 'https://syncflow.io/problems/InternalError', title: 'internal error', status: 500, detail: 'the server could not complete the request', code: 'InternalError' };
}

function sendProblem(res: Response, problem: Problem): void {
  if (problem.status === 429 || problem.status === 503) res.setHeader('Retry-After', '1');
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}

/** Routes of the gateway. */
export function runGatewayRoutes(options: { service: ExecutionService; guard: RequestGuard }): Router {
  const router = express.Router({ strict: true });
  router.post('/run/v1/namespaces/:namespace/workflows/:name', async (req: Request, res: Response) => {
    const namespace = req.params.namespace as string;
    const name = req.params.name as string;
    try {
      const user = await options.guard.authenticate(req);
      await options.guard.authorize(user, { verb: 'create', resource: 'workflowexecutions', namespace });
      const input = parseJson(await readBody(req), 'input');
      const controller = new AbortController();
      const onClose = () => {
        if (!res.writableFinished) controller.abort();
      };
      res.once('close', onClose);
      const traceparent = req.headers.traceparent;
      const execution = await options.service.run(
        { namespace, name: undefined, generateName: `${name}-`, labels: {}, annotations: {}, workflowName: name, input },
        { user: user.username, signal: controller.signal, ...(typeof traceparent === 'string' ? { traceparent } : {}) },
      );
      res.off('close', onClose);
      res.setHeader('Syncflow-Execution', `${namespace}/${execution.metadata.name}`);
      const status = execution.status;
      if (status.phase === 'Succeeded') {
        res.status(200).type('application/json').send(JSON.stringify(status.output ?? null));
        return;
      }
      const reason = status.reason ?? 'TaskFailed';
      const failed = (status.tasks ?? []).filter((t) => t.phase === 'Failed');
      sendProblem(res, {
        type: `https://syncflow.io/problems/${reason}`,
        title: reason === 'DeadlineExceeded' ? 'workflow deadline exceeded' : 'workflow failed',
        status: FAILURE_STATUS[reason] ?? 502,
        detail: status.message ?? reason,
        code: reason,
        instance: `/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions/${execution.metadata.name}`,
        ...(failed.length ? { errors: failed.map((t) => ({ field: `status.tasks[${t.id}]`, message: t.error?.message ?? 'failed' })) } : {}),
      });
    } catch (error) {
      sendProblem(res, problemFor(error));
    }
  });
  return router;
}
