/**
 * The v1alpha1 model: one TypeBox definition per object, from which the TypeScript types
 * (`Static<>`), the runtime shape validator and the CRD `openAPIV3Schema` are all derived.
 *
 * Conventions that the CRD generator relies on:
 * - `additionalProperties: false` marks closed objects for the runtime validator; the CRD generator
 *   strips it (structural schemas reject it next to `properties`; the API server prunes instead).
 * - `UserJson` marks places where user-provided JSON lives (schemas, templated bodies, inputs,
 *   outputs); only those carry `x-kubernetes-preserve-unknown-fields`.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  DURATION_PATTERN,
  HTTP_METHODS,
  MAX_RESPONSE_BYTES_CEILING,
  PRESERVE_UNKNOWN,
  RETRY_CLASSES,
} from './literals.ts';

// Re-exported for the modules that import them from here (the CRD and OpenAPI generators, tests).
export { MAX_RESPONSE_BYTES_CEILING, PRESERVE_UNKNOWN };

/** Arbitrary JSON value written by users (schemas, templated bodies, inputs, outputs). */
export const UserJson = (description: string) =>
  Type.Unsafe<unknown>({ description, [PRESERVE_UNKNOWN]: true });

/** A JSON object written by users (JSON Schemas, inputs). */
export const UserObject = (description: string) =>
  Type.Unsafe<Record<string, unknown>>({ type: 'object', description, [PRESERVE_UNKNOWN]: true });

const closed = { additionalProperties: false } as const;

const Duration = (description: string) => Type.String({ pattern: DURATION_PATTERN, description });

const StringMap = (description: string) => Type.Record(Type.String(), Type.String(), { description });

const HttpSpec = Type.Object(
  {
    method: Type.Union(
      HTTP_METHODS.map((m) => Type.Literal(m)),
      { description: 'HTTP method: GET, POST, PUT, PATCH or DELETE.' },
    ),
    url: Type.String({ minLength: 1, description: 'Templated URL of the upstream call.' }),
    query: Type.Optional(StringMap('Templated query parameters.')),
    headers: Type.Optional(StringMap('Templated request headers.')),
    body: Type.Optional(UserJson('Templated JSON request body.')),
  },
  { ...closed, description: 'The HTTP call this task makes.' },
);

const SecretRef = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name used in templates as {{secrets.<name>}}.' }),
    secretKeyRef: Type.Object(
      {
        name: Type.String({ minLength: 1, description: 'Name of the Secret in the same namespace.' }),
        key: Type.String({ minLength: 1, description: 'Key inside the Secret.' }),
        namespace: Type.Optional(
          Type.String({ description: 'Must be omitted or equal to the task namespace.' }),
        ),
      },
      { ...closed, description: 'Secret key selector.' },
    ),
  },
  { ...closed, description: 'A secret value made available to templates.' },
);

const RetrySpec = Type.Object(
  {
    maxAttempts: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10, description: 'Attempts including the first (1-10).' }),
    ),
    backoff: Type.Optional(
      Type.Object(
        {
          initial: Type.Optional(Duration('First backoff delay (default 100ms).')),
          max: Type.Optional(Duration('Largest backoff delay (default 2s).')),
          multiplier: Type.Optional(
            Type.Number({ minimum: 1, maximum: 10, description: 'Growth factor (default 2).' }),
          ),
        },
        { ...closed, description: 'Exponential backoff with full jitter.' },
      ),
    ),
    retryOn: Type.Optional(
      Type.Array(
        // YAML reads a bare 429 as a number, so the number is accepted too.
        Type.Union([...RETRY_CLASSES.map((c) => Type.Literal(c)), Type.Literal(429)]),
        { description: 'Failure classes that are retried: 5xx, 429, connect-error, timeout.' },
      ),
    ),
    retryNonIdempotent: Type.Optional(
      Type.Boolean({ description: 'Allow retrying POST and PATCH without an Idempotency-Key header.' }),
    ),
  },
  { ...closed, description: 'Retry policy.' },
);

export const WorkflowTaskSpec = Type.Object(
  {
    description: Type.Optional(Type.String({ description: 'Human-readable description.' })),
    inputSchema: Type.Optional(UserObject('JSON Schema of the task input.')),
    outputSchema: Type.Optional(UserObject('JSON Schema of the parsed JSON response body.')),
    http: HttpSpec,
    secrets: Type.Optional(Type.Array(SecretRef, { description: 'Secret values for templates.' })),
    timeout: Type.Optional(Duration('Per-attempt timeout (default 5s).')),
    retry: Type.Optional(RetrySpec),
    maxResponseBytes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_RESPONSE_BYTES_CEILING,
        description: 'Largest accepted response body in bytes (default 10 MiB, at most 64 MiB).',
      }),
    ),
  },
  { ...closed, description: 'An HTTP task that workflows compose.' },
);

const Condition = Type.Object(
  {
    type: Type.String(),
    status: Type.String({ description: 'True, False or Unknown.' }),
    reason: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
    lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
    observedGeneration: Type.Optional(Type.Integer()),
  },
  { ...closed, description: 'Standard Kubernetes condition.' },
);

export const WorkflowTaskStatus = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer()),
    usedBy: Type.Optional(Type.Integer({ description: 'Number of Workflows that reference this task.' })),
    conditions: Type.Optional(Type.Array(Condition)),
  },
  { ...closed, description: 'Observed state of the task.' },
);

const WorkflowStep = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 63, description: 'Unique DNS label of this step.' }),
    taskRef: Type.Object(
      { name: Type.String({ minLength: 1, description: 'Name of a WorkflowTask in the namespace.' }) },
      { ...closed, description: 'The WorkflowTask this step runs.' },
    ),
    input: Type.Optional(UserJson('Templated input of the task.')),
    dependsOn: Type.Optional(
      Type.Array(Type.String(), { description: 'Explicit dependencies besides template references.' }),
    ),
    when: Type.Optional(Type.String({ description: 'CEL condition; false skips the step.' })),
    onError: Type.Optional(
      Type.Union([Type.Literal('fail'), Type.Literal('continue')], {
        description: 'fail (default) fails the workflow; continue records the failure and goes on.',
      }),
    ),
  },
  { ...closed, description: 'One step of the workflow DAG.' },
);

export const WorkflowSpec = Type.Object(
  {
    description: Type.Optional(Type.String({ description: 'Human-readable description.' })),
    inputSchema: Type.Optional(UserObject('JSON Schema of the workflow input.')),
    tasks: Type.Array(WorkflowStep, { minItems: 1, description: 'The steps of the DAG.' }),
    output: Type.Optional(UserJson('Templated output mapping.')),
    timeout: Type.Optional(Duration('Whole-workflow deadline (default 30s, at most 5m).')),
    maxConcurrency: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1024, description: 'Tasks in flight per execution (default 16).' }),
    ),
  },
  { ...closed, description: 'A DAG of WorkflowTasks.' },
);

export const WorkflowStatus = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer()),
    conditions: Type.Optional(Type.Array(Condition)),
    revision: Type.Optional(Type.String({ description: 'sha256 of the spec and its tasks specs.' })),
    taskCount: Type.Optional(Type.Integer({ description: 'Number of steps, for printing.' })),
    parallelGroups: Type.Optional(Type.Array(Type.Array(Type.String()))),
  },
  { ...closed, description: 'Observed state of the workflow.' },
);

const ObjectMeta = Type.Object(
  {
    name: Type.Optional(Type.String()),
    generateName: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { description: 'Standard object metadata.' },
);

export const WorkflowTaskDocument = Type.Object(
  {
    apiVersion: Type.Literal('syncflow.io/v1alpha1'),
    kind: Type.Literal('WorkflowTask'),
    metadata: ObjectMeta,
    spec: WorkflowTaskSpec,
    status: Type.Optional(WorkflowTaskStatus),
  },
  closed,
);

export const WorkflowDocument = Type.Object(
  {
    apiVersion: Type.Literal('syncflow.io/v1alpha1'),
    kind: Type.Literal('Workflow'),
    metadata: ObjectMeta,
    spec: WorkflowSpec,
    status: Type.Optional(WorkflowStatus),
  },
  closed,
);

export const TASK_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped', 'Cancelled'] as const;

const TaskAttempt = Type.Object({
  attempt: Type.Integer(),
  startTime: Type.String(),
  durationMs: Type.Number(),
  httpStatus: Type.Optional(Type.Integer()),
  reason: Type.Optional(
    Type.String({ description: 'Why the attempt failed: an error code such as HTTPError or Timeout.' }),
  ),
  error: Type.Optional(Type.String()),
});

export const TaskExecutionStatus = Type.Object(
  {
    id: Type.String(),
    taskRef: Type.Optional(Type.String()),
    phase: Type.Union(TASK_PHASES.map((p) => Type.Literal(p))),
    startTime: Type.Optional(Type.String()),
    completionTime: Type.Optional(Type.String()),
    durationMs: Type.Optional(Type.Number()),
    waitMs: Type.Optional(Type.Number({ description: 'Time from ready to started.' })),
    attempts: Type.Optional(Type.Integer()),
    httpStatus: Type.Optional(Type.Integer()),
    output: Type.Optional(UserJson('Parsed JSON response body.')),
    error: Type.Optional(
      Type.Object({ reason: Type.String(), message: Type.String() }, { description: 'Why the task failed.' }),
    ),
    attemptLog: Type.Optional(Type.Array(TaskAttempt, { description: 'Every attempt with its outcome.' })),
    overlappedWith: Type.Optional(Type.Array(Type.String(), { description: 'Tasks that ran concurrently.' })),
    substituted: Type.Optional(
      Type.Boolean({ description: 'The output was given by a debugger (skip); no request was sent.' }),
    ),
  },
  { description: 'Execution record of one step.' },
);

export const ExecutionPlan = Type.Object(
  {
    order: Type.Array(Type.String()),
    parallelGroups: Type.Array(Type.Array(Type.String())),
    tasks: Type.Optional(
      Type.Array(
        Type.Object({
          id: Type.String(),
          taskRef: Type.String(),
          dependsOn: Type.Array(Type.String()),
          input: Type.Optional(UserJson('Input resolved from the workflow input, where computable.')),
          when: Type.Optional(Type.String({ description: 'true, false or unknown.' })),
        }),
      ),
    ),
    estimatedDurationMs: Type.Optional(Type.Number()),
  },
  { description: 'Dry-run plan.' },
);

/** Pending: planned by a dry run, never run. Running: in flight (seen by watch). */
export const EXECUTION_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;

export const WorkflowExecutionSpec = Type.Object(
  {
    workflowRef: Type.Object(
      { name: Type.String({ minLength: 1, description: 'Workflow in the same namespace.' }) },
      { ...closed, description: 'The workflow to run.' },
    ),
    input: Type.Optional(UserJson('Input of the workflow.')),
  },
  { ...closed, description: 'What to run.' },
);

export const WorkflowExecutionStatus = Type.Object(
  {
    phase: Type.Union(EXECUTION_PHASES.map((p) => Type.Literal(p))),
    reason: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
    output: Type.Optional(UserJson('The workflow output.')),
    workflowRevision: Type.Optional(Type.String()),
    startTime: Type.Optional(Type.String()),
    completionTime: Type.Optional(Type.String()),
    durationMs: Type.Optional(Type.Number()),
    user: Type.Optional(Type.String({ description: 'Who ran the execution.' })),
    tasks: Type.Optional(Type.Array(TaskExecutionStatus)),
    plan: Type.Optional(ExecutionPlan),
  },
  { description: 'Result of the execution; immutable once written.' },
);

/** Types derived from the schemas above: they cannot drift from the CRDs or the validator. */
export type WorkflowTaskSpec = Static<typeof WorkflowTaskSpec>;
export type WorkflowSpec = Static<typeof WorkflowSpec>;
export type WorkflowStep = Static<typeof WorkflowStep>;
export type WorkflowStatus = Static<typeof WorkflowStatus>;
export type WorkflowTaskStatus = Static<typeof WorkflowTaskStatus>;
export type WorkflowTaskDocument = Static<typeof WorkflowTaskDocument>;
export type WorkflowDocument = Static<typeof WorkflowDocument>;
export type WorkflowExecutionSpec = Static<typeof WorkflowExecutionSpec>;
export type WorkflowExecutionStatus = Static<typeof WorkflowExecutionStatus>;
export type TaskExecutionStatus = Static<typeof TaskExecutionStatus>;
export type TaskPhase = (typeof TASK_PHASES)[number];
export type ExecutionPhase = (typeof EXECUTION_PHASES)[number];
export type ExecutionPlan = Static<typeof ExecutionPlan>;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export type RetryClass = (typeof RETRY_CLASSES)[number];
export type Condition = Static<typeof Condition>;
