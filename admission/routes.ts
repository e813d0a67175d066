/**
 * The validating webhook endpoints kube-apiserver calls:
 *   POST /admission/v1/workflows       Workflow CREATE/UPDATE
 *   POST /admission/v1/workflowtasks   WorkflowTask CREATE/UPDATE/DELETE
 * Every well-formed review gets an HTTP 200 AdmissionReview answer (a failed check is a denial that
 * says so); only a body that is not a review gets 400.
 *
 * Authentication: none beyond TLS, as Kubernetes webhook servers usually do — kube-apiserver verifies
 * our serving certificate against the configuration's caBundle but presents no client certificate
 * unless an AdmissionConfiguration tells it to. The endpoints have no side effects; a caller reaching
 * them learns only whether definitions or Secrets of a given name exist (never Secret values). Restrict
 * who can reach the port (NetworkPolicy) where that matters. See admission/README.md.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { FreshDefinitions, type CachedDefinitions, type LiveDefinitions } from './definitions.ts';
import {
  admissionResponse,
  deny,
  parseAdmissionReview,
  type AdmissionDecision,
  type AdmissionRequest,
} from './review.ts';
import type { SecretDirectory } from './secrets.ts';
import { WorkflowTaskAdmission } from './workflow-task.ts';
import { WorkflowAdmission } from './workflow.ts';

/** The paths the ValidatingWebhookConfiguration points at. */
export const ADMISSION_PATHS = {
  workflows: '/admission/v1/workflows',
  workflowtasks: '/admission/v1/workflowtasks',
} as const;

/** Logging of decisions (no object contents, no secrets). */
export interface AdmissionLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What the webhook routes are built from. */
export interface AdmissionRouteOptions {
  /** The informers' view of definitions (`DefinitionCatalog`). */
  definitions: CachedDefinitions;
  /** Live reads for what the informers have not delivered yet; cache only without it. */
  live?: LiveDefinitions;
  secrets?: SecretDirectory;
  logger?: AdmissionLogger;
  /** Observes each decision (metrics); `durationMs` runs from the request's arrival to the answer. */
  onDecision?: (event: { kind: string; operation: string; allowed: boolean; durationMs: number }) => void;
}

/** A reviewer of one kind. */
interface Reviewer {
  review(request: AdmissionRequest): Promise<AdmissionDecision>;
}

/** The admission router; mount it before any load shedding (kube-apiserver retries nothing). */
export function admissionRoutes(options: AdmissionRouteOptions): express.Router {
  const definitions = new FreshDefinitions(options.definitions, options.live);
  const shared = { definitions, ...(options.secrets ? { secrets: options.secrets } : {}) };
  const router = express.Router();
  // Two objects of at most 1.5 MiB each (etcd's limit) plus the envelope.
  const json = express.json({ limit: '4mb', type: () => true });
  // Timed from arrival, so reading and parsing the body count too.
  router.use([ADMISSION_PATHS.workflows, ADMISSION_PATHS.workflowtasks], (_req, res, next) => {
    res.locals.admissionStarted = performance.now();
    next();
  });
  router.post(ADMISSION_PATHS.workflows, json, handler('Workflow', new WorkflowAdmission(shared), options));
  router.post(
    ADMISSION_PATHS.workflowtasks,
    json,
    handler('WorkflowTask', new WorkflowTaskAdmission(shared), options),
  );
  router.all([ADMISSION_PATHS.workflows, ADMISSION_PATHS.workflowtasks], (req, res) => {
    res
      .status(405)
      .setHeader('Allow', 'POST')
      .json({ message: `${req.method} is not allowed: kube-apiserver POSTs AdmissionReviews here` });
  });
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/admission/')) return next(error);
    const status = (error as { status?: number }).status ?? 400;
    res
      .status(status >= 400 && status < 500 ? status : 400)
      .json({ message: `the body is not a JSON AdmissionReview: ${(error as Error).message}` });
  });
  return router;
}

function handler(kind: 'Workflow' | 'WorkflowTask', reviewer: Reviewer, options: AdmissionRouteOptions) {
  return async (req: Request, res: Response) => {
    const started =
      typeof res.locals.admissionStarted === 'number' ? res.locals.admissionStarted : performance.now();
    const request = parseAdmissionReview(req.body);
    if ('error' in request) {
      res.status(400).json({ message: request.error });
      return;
    }
    let decision: AdmissionDecision;
    if (request.kind !== kind) {
      decision = deny({
        code: 'BadRequest',
        message: `this webhook (${req.path}) checks ${kind} objects, got ${request.kind || 'no kind'}: fix the rules of the ValidatingWebhookConfiguration`,
        causes: [],
        kind: request.kind,
        name: request.name,
      });
    } else {
      try {
        decision = await reviewer.review(request);
      } catch (error) {
        const reason = (error as Error)?.message ?? String(error);
        options.logger?.warn(
          { kind, namespace: request.namespace, name: request.name, err: reason },
          'admission check failed',
        );
        decision = deny({
          code: 'ServiceUnavailable',
          message: `syncflow could not check ${kind} ${request.namespace}/${request.name}: ${reason}; retry`,
          causes: [],
          kind,
          name: request.name,
        });
      }
    }
    const durationMs = performance.now() - started;
    if (!decision.allowed) {
      options.logger?.info(
        {
          kind,
          namespace: request.namespace,
          name: request.name,
          operation: request.operation,
          dryRun: request.dryRun,
          code: decision.denial.code,
          causes: decision.denial.causes.map((c) => `${c.code} ${c.field}`),
        },
        'admission denied',
      );
    }
    options.onDecision?.({ kind, operation: request.operation, allowed: decision.allowed, durationMs });
    res.status(200).json(admissionResponse(request.uid, decision));
  };
}
