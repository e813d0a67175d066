/**
 * `circuitbreakers`: the circuit breakers of the replica that answers, read-only and
 * cluster-scoped (one breaker serves every namespace's executions that call its origin, so seeing
 * it takes a cluster-wide grant). Breakers live in each replica's memory: every item names the
 * replica (`replica`), and two list calls may reach different replicas.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { BreakerStatus } from '../../../core/engine/breaker.ts';
import { SyncflowError } from '../../../core/errors.ts';
import { EXECUTION_API_VERSION } from '../../../core/model/resources.ts';
import {
  circuitBreakerTable,
  parseIncludeObject,
  wantsTable,
  type CircuitBreakerLike,
} from '../../api/table.ts';
import type { RequestGuard } from '../../http/guard.ts';
import { sendError } from '../workflowexecutions/rest.ts';

/** Where the breakers are read: the executor's circuit breakers. */
export interface BreakerSource {
  states(): readonly BreakerStatus[];
}

/** Collaborators of the circuitbreakers handlers. */
export interface CircuitBreakerRestOptions {
  guard: RequestGuard;
  breakers: BreakerSource;
  /** The answering replica's name (the pod name). */
  replica: string;
}

/** One breaker as the API serves it. */
interface CircuitBreakerObject extends CircuitBreakerLike {
  apiVersion: string;
  kind: 'CircuitBreaker';
  settings: Omit<BreakerStatus['settings'], 'key'>;
}

const RESOURCE = 'circuitbreakers';

/** Routes under `/apis/execution.syncflow.io/v1alpha1`: list only. */
export function circuitBreakerRoutes(options: CircuitBreakerRestOptions): Router {
  const router = express.Router({ strict: true });
  router.get(`/${RESOURCE}`, async (req: Request, res: Response) => {
    const watch = req.query.watch === 'true' || req.query.watch === '1';
    try {
      const user = await options.guard.authenticate(req);
      await options.guard.authorize(user, { verb: watch ? 'watch' : 'list', resource: RESOURCE });
      if (watch) throw new SyncflowError('MethodNotAllowed', 'circuitbreakers cannot be watched; list them');
      const items = breakerObjects(options.breakers.states(), options.replica);
      if (wantsTable(req.headers.accept)) {
        const includeObject = parseIncludeObject(
          typeof req.query.includeObject === 'string' ? req.query.includeObject : undefined,
        );
        res.status(200).json(circuitBreakerTable({ items }, includeObject ? { includeObject } : {}));
        return;
      }
      res.status(200).json({
        apiVersion: EXECUTION_API_VERSION,
        kind: 'CircuitBreakerList',
        metadata: {},
        items,
      });
    } catch (error) {
      sendError(res, error, 'CircuitBreaker');
    }
  });
  return router;
}

/** The breakers as objects, named after their origin (`http-users.svc-8080`; a repeat gets `-2`, `-3`). */
function breakerObjects(states: readonly BreakerStatus[], replica: string): CircuitBreakerObject[] {
  const seen = new Map<string, number>();
  return states.map((s) => {
    const base = s.origin
      .replace(/:\/\//, '-')
      .replace(/[^a-z0-9.-]/gi, '-')
      .toLowerCase();
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const { key: _key, ...settings } = s.settings;
    const object: CircuitBreakerObject = {
      apiVersion: EXECUTION_API_VERSION,
      kind: 'CircuitBreaker',
      metadata: { name: n === 1 ? base : `${base}-${n}` },
      origin: s.origin,
      replica,
      state: s.state,
      failureRatio: s.failureRatio,
      requests: s.requests,
      settings,
    };
    if (s.openedAt !== undefined) object.openedAt = new Date(s.openedAt).toISOString();
    return object;
  });
}
