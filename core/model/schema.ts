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
  MAX_TRACED_ITEMS,
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
        {
          description:
            'Failure classes that are retried: 5xx, 429, connect-error, timeout (the default: all four), circuit-open.',
        },
      ),
    ),
    retryNonIdempotent: Type.Optional(
      Type.Boolean({ description: 'Allow retrying POST and PATCH without an Idempotency-Key header.' }),
    ),
  },
  { ...closed, description: 'Retry policy.' },
);

const WebSocketSpec = Type.Object(
  {
    message: Type.Optional(
      UserJson('Templated JSON message sent (as JSON text) once the connection is open.'),
    ),
    complete: Type.Optional(
      Type.Object(
        {
          nth: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 10_000,
              description: 'Complete with the Nth message (1-based).',
            }),
          ),
          match: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                'CEL over `message` (the message parsed as JSON, or its text): complete with the first that matches.',
            }),
          ),
        },
        { ...closed, description: 'Which message completes the task (default: the first).' },
      ),
    ),
  },
  {
    ...closed,
    description:
      'Makes the task a WebSocket exchange: http.url (ws:// or wss://) and http.headers make the handshake (a GET), `message` is sent once open, and the completing message is the output, all within the task timeout.',
  },
);

const IdempotencyKeySpec = Type.Object(
  {
    header: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
      description: 'Request header that carries the key, e.g. Idempotency-Key.',
    }),
  },
  {
    ...closed,
    description:
      'Sends a key that is stable per execution and step (and element of a map) in the named header, the same on every attempt, so that retried or hedged non-idempotent calls are safe with upstreams that honour it.',
  },
);

const CircuitBreakerSpec = Type.Object(
  {
    failureRatio: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description: 'Share of failed calls in the window that opens the circuit (default 0.5).',
      }),
    ),
    minimumRequests: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        description: 'Calls in the window before the ratio is judged (default 10).',
      }),
    ),
    window: Type.Optional(Duration('Sliding window of calls that are counted (default 10s).')),
    openFor: Type.Optional(
      Duration('How long an open circuit fails calls fast before probing (default 5s).'),
    ),
    halfOpenProbes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Trial calls let through when half-open; all must succeed to close (default 1).',
      }),
    ),
  },
  {
    ...closed,
    description:
      'A circuit breaker per upstream origin (scheme, host and port) and settings, shared by every execution on a replica: failures are 5xx, 429, timeouts and connection errors; an open circuit fails calls at once with reason CircuitOpen.',
  },
);

const HedgeSpec = Type.Object(
  {
    after: Type.String({
      pattern: '^(p95|[0-9]+(ms|s|m|h))$',
      description:
        'Delay before the second attempt: a duration, or p95 (the task’s observed 95th percentile).',
    }),
    maxExtraPercent: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Budget: hedges are at most this share of the task’s calls on a replica (default 10).',
      }),
    ),
  },
  {
    ...closed,
    description:
      'Hedged requests: when the first attempt has not answered after `after`, a second identical one is sent and the first answer wins; the other is cancelled. Idempotent methods only, or with idempotencyKey.',
  },
);

const CacheSpec = Type.Object(
  {
    ttl: Duration('How long a successful response is reused.'),
    maxEntries: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        description:
          'Entries kept for this task on a replica, least recently used dropped first (default 1000).',
      }),
    ),
    allowSecretsInBody: Type.Optional(
      Type.Boolean({
        description: 'Cache although the request body carries a secret (refused otherwise).',
      }),
    ),
  },
  {
    ...closed,
    description:
      'Response caching: successful responses are reused for `ttl`, keyed by the resolved request (method, URL, headers, body); a hit sends nothing.',
  },
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
    websocket: Type.Optional(WebSocketSpec),
    idempotencyKey: Type.Optional(IdempotencyKeySpec),
    circuitBreaker: Type.Optional(CircuitBreakerSpec),
    hedge: Type.Optional(HedgeSpec),
    cache: Type.Optional(CacheSpec),
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

const MapSpec = Type.Object(
  {
    items: Type.String({
      minLength: 1,
      description:
        'Exactly one template naming an array: {{input.<path>}} or {{tasks.<id>.output.<path>}}. The task runs once per element, with {{item}}, {{item.<path>}} and {{index}} in the step input.',
    }),
    concurrency: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1024, description: 'Elements in flight at once (default 10).' }),
    ),
    onItemError: Type.Optional(
      Type.Union([Type.Literal('failFast'), Type.Literal('collect')], {
        description:
          'failFast (default): the first failed element fails the step and cancels the rest; collect: failed elements give null in the output, up to maxFailedItems.',
      }),
    ),
    maxFailedItems: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'With collect: failed elements tolerated; one more fails the step (default: no limit).',
      }),
    ),
  },
  {
    ...closed,
    description:
      'Runs the task once per element of an array; the output is the array of results in input order.',
  },
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
    map: Type.Optional(MapSpec),
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

const MapItemStatus = Type.Object(
  {
    index: Type.Integer(),
    phase: Type.Union(TASK_PHASES.map((p) => Type.Literal(p))),
    durationMs: Type.Optional(Type.Number()),
    attempts: Type.Optional(Type.Integer()),
    httpStatus: Type.Optional(Type.Integer()),
    cached: Type.Optional(Type.Boolean()),
    hedged: Type.Optional(Type.Boolean()),
    error: Type.Optional(Type.Object({ reason: Type.String(), message: Type.String() })),
  },
  { description: 'How one element of a map step ran.' },
);

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
    input: Type.Optional(
      UserJson(
        'The input after templates, secrets redacted; over 4 KiB of JSON it is {truncated: true, bytes, preview}.',
      ),
    ),
    request: Type.Optional(
      Type.Object(
        {
          method: Type.String(),
          url: Type.String(),
          headers: Type.Optional(StringMap('Request headers.')),
          body: Type.Optional(UserJson('The JSON body, or {truncated: true, bytes, preview}.')),
          truncated: Type.Optional(
            Type.Boolean({ description: 'Headers and body left out: the request was over 4 KiB.' }),
          ),
          bytes: Type.Optional(Type.Integer({ description: 'Size of the request left out.' })),
        },
        {
          description:
            'The request resolved before the first attempt (templates applied, secrets redacted, at most 4 KiB): what was sent, or would have been for a substituted output.',
        },
      ),
    ),
    cached: Type.Optional(
      Type.Boolean({ description: 'The output came from the response cache; no request was sent.' }),
    ),
    hedged: Type.Optional(
      Type.Boolean({ description: 'A hedge (second identical request) was sent; the first answer won.' }),
    ),
    itemCount: Type.Optional(Type.Integer({ description: 'Map steps: number of elements.' })),
    failedItems: Type.Optional(Type.Integer({ description: 'Map steps: elements that failed.' })),
    items: Type.Optional(
      Type.Array(MapItemStatus, {
        description: `Map steps: one entry per element in input order (the first ${MAX_TRACED_ITEMS} and every failed one, bounded).`,
      }),
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
          items: Type.Optional(
            Type.Integer({ description: 'Map steps: number of elements, when the input decides it.' }),
          ),
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
    workflowRevision: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        description:
          'Name of a recorded WorkflowRevision of the workflow to run instead of its current definition (re-running an execution as it ran).',
      }),
    ),
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
