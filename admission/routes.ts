/**
 * The validating webhook endpoints kube-apiserver calls:
 *   POST /admission/v1/workflows       Workflow CREATE/UPDATE
 *   POST /admission/v1/workflowtasks   WorkflowTask CREATE/UPDATE/DELETE
 * Every well-formed review gets an HTTP 200 AdmissionReview answer (a failed check is a denial that
 * says so); only a body that is not a review gets 400.
 *
 * Callers: kube-apiserver presents a client certificate to webhooks when an AdmissionConfiguration
 * tells it to (docs/install.md). With `callers` that verify it, reviews from anyone else are refused
 * (403) before their body is read; without, every review is answered, but a caller not authenticated
 * as the API server gets no suggestions and no names of other objects (`withoutNamespaceDetails`).
 * Reviews have their own in-flight limit (429) and body limit (413), both checked before the body
 * is read. See admission/README.md and docs/operations.md.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../core/logger.ts';
import { releaseWhenDone, setRetryAfter } from '../core/serving.ts';
import { FreshDefinitions, type CachedDefinitions, type LiveDefinitions } from './definitions.ts';
import {
  admissionResponse,
  deny,
  parseAdmissionReview,
  withoutNamespaceDetails,
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

/** The part of the one {@link Logger} admission calls: decisions, no object contents, no secrets. */
export type AdmissionLogger = Pick<Logger, 'info' | 'warn'>;

/** Largest review body read (an UPDATE carries the object twice): definitions up to ~1 MiB each. */
export const ADMISSION_MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Who sent a review. */
export type AdmissionCaller = { apiServer: true } | { apiServer: false; refusal?: string };

/** Tells the API server's reviews from anyone else's (by its client certificate). */
export interface AdmissionCallers {
  identify(req: IncomingMessage): AdmissionCaller;
}

/** Limits the reviews in flight (the server's `WorkLimiter`). */
export interface AdmissionLimiter {
  tryAcquire(): boolean;
  release(): void;
}

/** Nobody is known to be the API server: every review is answered without namespace details. */
export const UNAUTHENTICATED_CALLERS: AdmissionCallers = { identify: () => ({ apiServer: false }) };

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
  /** Who may see namespace details, and whether others are refused (default: nobody, nobody). */
  callers?: AdmissionCallers;
  /** Reviews in flight; beyond it 429 (default: unlimited). */
  limiter?: AdmissionLimiter;
  /** Called for each review refused with 429. */
  onShed?: () => void;
  /** Body limit in bytes (default {@link ADMISSION_MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
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
  const maxBodyBytes = options.maxBodyBytes ?? ADMISSION_MAX_BODY_BYTES;
  const json = express.json({ limit: maxBodyBytes, type: () => true });
  const callers = options.callers ?? UNAUTHENTICATED_CALLERS;
  // Timed from arrival, so reading and parsing the body count too. Who is calling, how large the
  // body is said to be and how many reviews are running are decided before the body is read.
  router.post([ADMISSION_PATHS.workflows, ADMISSION_PATHS.workflowtasks], (req, res, next) => {
    res.locals.admissionStarted = performance.now();
    const caller = callers.identify(req);
    if (!caller.apiServer && caller.refusal) {
      refuse(req, res, 403, `reviews are accepted from the API server only: ${caller.refusal}`);
      return;
    }
    res.locals.apiServer = caller.apiServer;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      refuse(
        req,
        res,
        413,
        `the review is ${declared} bytes; this webhook reads at most ${maxBodyBytes} bytes`,
      );
      return;
    }
    const limiter = options.limiter;
    if (limiter) {
      if (!limiter.tryAcquire()) {
        options.onShed?.();
        setRetryAfter(res, 429);
        refuse(
          req,
          res,
          429,
          'the server is checking as many reviews as it may at once; retry after 1 second',
        );
        return;
      }
      releaseWhenDone(res, () => limiter.release());
    }
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

/** Answers without reading the body; the connection is closed after it so an unread body costs nothing. */
function refuse(req: Request, res: Response, status: number, message: string): void {
  res.setHeader('Connection', 'close');
  res.status(status).json({ message });
  req.resume();
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
    res
      .status(200)
      .json(
        admissionResponse(
          request.uid,
          res.locals.apiServer === true ? decision : withoutNamespaceDetails(decision),
        ),
      );
  };
}
