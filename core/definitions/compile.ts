/**
 * Compiles WorkflowTask and Workflow definitions once into the typed values the executor runs:
 * parsed templates, compiled schemas and conditions, durations in milliseconds and the built graph.
 * The validator calls the same functions, so validation and execution cannot disagree about
 * dependencies or syntax.
 */
import { CEL_COST_LIMIT, compileCondition, type CompiledCondition } from '../condition.ts';
import { formatDuration, parseDuration } from '../duration.ts';
import { sha256Hex } from '../sha256.ts';
import type { FieldError } from '../errors.ts';
import { DependencyCycleError, ExecutionGraph } from '../graph/execution-graph.ts';
import { dnsLabelErrors } from '../model/names.ts';
import { LIMITS } from '../model/resources.ts';
import { RETRY_CLASSES } from '../model/literals.ts';
import type { HttpMethod, RetryClass, WorkflowDocument, WorkflowTaskDocument } from '../model/schema.ts';
import { compileJsonSchema, type CompiledSchema } from '../schema/json-schema.ts';
import { closestName } from '../suggest.ts';
import { collectRefs, compileValue, joinField, type CompiledValue } from '../template/compiled-value.ts';
import { formatRef, type TemplateRef } from '../template/parser.ts';
import { compileUrlTemplate, type UrlTemplate } from '../template/url.ts';

/** Retry behaviour of a task with defaults applied. */
export interface RetryPolicy {
  maxAttempts: number;
  initialMs: number;
  maxMs: number;
  multiplier: number;
  retryOn: ReadonlySet<RetryClass>;
  /** POST and PATCH are retried only when this is true or the request has an Idempotency-Key. */
  retryNonIdempotent: boolean;
}

/** Circuit breaker settings with defaults applied (durations in ms). */
export interface BreakerSettings {
  failureRatio: number;
  minimumRequests: number;
  windowMs: number;
  openForMs: number;
  halfOpenProbes: number;
  /** Identifies equal settings: tasks of one origin with equal settings share a breaker. */
  key: string;
}

/** Hedging settings: a fixed delay in ms, or the task's observed p95. */
export interface HedgeSettings {
  afterMs: number | 'p95';
  maxExtraPercent: number;
}

/** Response cache settings of a task. */
export interface CacheSettings {
  ttlMs: number;
  maxEntries: number;
}

/**
 * What a task declares beyond a plain call. Absent on tasks that declare none of it, so the
 * executor's plain path checks one field per call and nothing more.
 */
export interface TaskResilience {
  /** Header that carries the execution's stable key for this step (and element). */
  idempotencyHeader: string | undefined;
  breaker: BreakerSettings | undefined;
  hedge: HedgeSettings | undefined;
  cache: CacheSettings | undefined;
}

/** A secret the task reads, resolved by name in the task's namespace at run time. */
export interface SecretBinding {
  name: string;
  secretName: string;
  key: string;
}

/** A WorkflowTask ready to run. */
export interface CompiledTask {
  name: string;
  namespace: string;
  method: HttpMethod;
  url: CompiledValue;
  /** The URL with each template's component decided (scheme, host and port fixed). */
  urlTemplate: UrlTemplate;
  query: CompiledValue | undefined;
  headers: CompiledValue | undefined;
  body: CompiledValue | undefined;
  inputSchema: CompiledSchema | undefined;
  outputSchema: CompiledSchema | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  secrets: readonly SecretBinding[];
  maxResponseBytes: number;
  /** Present on WebSocket tasks: which message completes the exchange. */
  websocket: WebSocketSettings | undefined;
  /** Idempotency key, circuit breaker, hedging and caching; `undefined` when none is declared. */
  resilience: TaskResilience | undefined;
  /** The source spec, for revisions and snapshots. */
  spec: WorkflowTaskDocument['spec'];
}

/** A WebSocket task's completion rule: the Nth message, or the first matching `match`. */
export interface WebSocketSettings {
  nth: number;
  match: CompiledCondition | undefined;
}

/** A map step's compiled settings. */
export interface MapSettings {
  /** The array the step runs over: an input or a producer's output reference. */
  items: TemplateRef;
  concurrency: number;
  /** failFast: the first failed element fails the step; collect: failures give null. */
  failFast: boolean;
  /** With collect: failures tolerated before the step fails. */
  maxFailedItems: number;
}

/** One step of a compiled workflow. */
export interface CompiledStep {
  id: string;
  index: number;
  taskRef: string;
  task: CompiledTask;
  input: CompiledValue;
  when: CompiledCondition | undefined;
  /** Every dependency: explicit `dependsOn`, template references and `when` references. */
  dependsOn: readonly string[];
  /** Dependencies whose output this step's input reads (skipped producer ⇒ skipped consumer). */
  dataDependencies: readonly string[];
  onError: 'fail' | 'continue';
  /** Present on map steps only. */
  map?: MapSettings;
}

/** The definition a revision hashes and stores: the workflow spec and each referenced task spec by task name. */
export interface RevisionSnapshot {
  workflow: WorkflowDocument['spec'];
  tasks: Record<string, WorkflowTaskDocument['spec']>;
}

/** A Workflow ready to run. */
export interface CompiledWorkflow {
  name: string;
  namespace: string;
  /** `sha256:<hex>` of `revisionSnapshot` (computed lazily). */
  readonly revision: string;
  /** What a WorkflowRevision stores: this spec and the specs of the tasks it references (built lazily, once). */
  readonly revisionSnapshot: RevisionSnapshot;
  inputSchema: CompiledSchema | undefined;
  steps: ReadonlyMap<string, CompiledStep>;
  graph: ExecutionGraph;
  output: CompiledValue | undefined;
  timeoutMs: number;
  maxConcurrency: number;
  spec: WorkflowDocument['spec'];
}

/** A compilation outcome: the compiled value when there were no errors, and every error found. */
export interface Compiled<T> {
  value: T | undefined;
  errors: FieldError[];
}

/** Compiles a task's duration field, recording an error when it does not parse. */
function duration(text: string | undefined, fallback: number, field: string, errors: FieldError[]): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined) {
    errors.push({
      code: 'InvalidDuration',
      field,
      message: `\`${text}\` is not a duration`,
      suggestion: 'write a whole number with a unit: ms, s, m or h (e.g. `2s`)',
    });
    return fallback;
  }
  return ms;
}

function schema(source: Record<string, unknown> | undefined, field: string, errors: FieldError[]) {
  if (source === undefined) return undefined;
  const compiled = compileJsonSchema(source);
  if (compiled instanceof Error) {
    errors.push({ code: 'InvalidSchema', field, message: `invalid JSON Schema: ${compiled.message}` });
    return undefined;
  }
  return compiled;
}

/** Compiles a templated value, recording syntax errors with their field path and column. */
function templated(value: unknown, field: string, errors: FieldError[]): CompiledValue {
  const result = compileValue(value);
  for (const { at, error } of result.errors) {
    errors.push({
      code: 'TemplateSyntax',
      field: joinField(field, at),
      message: error.message,
      ...(error.suggestion ? { suggestion: error.suggestion } : {}),
    });
  }
  return result.value;
}

/** Compiles a WorkflowTask whose shape has already been validated. */
export function compileTask(doc: WorkflowTaskDocument): Compiled<CompiledTask> {
  const errors: FieldError[] = [];
  const spec = doc.spec;
  const namespace = doc.metadata.namespace ?? 'default';
  const secrets: SecretBinding[] = [];
  const secretNames = new Set<string>();
  (spec.secrets ?? []).forEach((secret, i) => {
    const field = `spec.secrets[${i}]`;
    if (secretNames.has(secret.name)) {
      errors.push({
        code: 'DuplicateName',
        field: `${field}.name`,
        message: `secret \`${secret.name}\` is declared twice`,
      });
    }
    secretNames.add(secret.name);
    const ref = secret.secretKeyRef;
    if (ref.namespace !== undefined && ref.namespace !== namespace) {
      errors.push({
        code: 'CrossNamespaceSecret',
        field: `${field}.secretKeyRef.namespace`,
        message: `secret ${ref.namespace}/${ref.name} is in another namespace; tasks may read Secrets of their own namespace (${namespace}) only`,
        suggestion: 'copy the Secret into this namespace and remove `namespace`',
      });
    }
    secrets.push({ name: secret.name, secretName: ref.name, key: ref.key });
  });

  const url = templated(spec.http.url, 'spec.http.url', errors);
  let urlTemplate = compileUrlTemplate(url);
  if (Array.isArray(urlTemplate)) {
    for (const problem of urlTemplate) {
      errors.push({
        code: 'UrlTemplatePosition',
        field: 'spec.http.url',
        message: problem.message,
        suggestion: problem.suggestion,
      });
    }
    urlTemplate = { parts: [], checkHost: false, checkPath: false };
  }
  const query =
    spec.http.query === undefined ? undefined : templated(spec.http.query, 'spec.http.query', errors);
  const headers =
    spec.http.headers === undefined ? undefined : templated(spec.http.headers, 'spec.http.headers', errors);
  const websocket = spec.websocket ? webSocketOf(spec, errors) : undefined;
  if (!spec.websocket && /^wss?:\/\//i.test(spec.http.url)) {
    errors.push({
      code: 'FieldInvalid',
      field: 'spec.http.url',
      message: 'a ws:// or wss:// URL needs `websocket`: what to send and which message completes the task',
      suggestion: 'add `websocket: {}` (completes with the first message) or use http:// or https://',
    });
  }
  // A WebSocket task's message is its request body: resolved, redacted and recorded as one.
  const bodyField = spec.websocket ? 'spec.websocket.message' : 'spec.http.body';
  const bodySource = spec.websocket ? spec.websocket.message : spec.http.body;
  const body = bodySource === undefined ? undefined : templated(bodySource, bodyField, errors);
  const inputSchema = schema(spec.inputSchema, 'spec.inputSchema', errors);
  const outputSchema = schema(spec.outputSchema, 'spec.outputSchema', errors);

  // A task sees only its own input and its declared secrets.
  const parts: Array<[string, CompiledValue | undefined]> = [
    ['spec.http.url', url],
    ['spec.http.query', query],
    ['spec.http.headers', headers],
    [bodyField, body],
  ];
  for (const [base, value] of parts) {
    if (!value) continue;
    for (const { ref, at } of collectRefs(value)) {
      const field = joinField(base, at);
      if (ref.source === 'task') {
        errors.push({
          code: 'TemplateScope',
          field,
          message: `a WorkflowTask cannot read \`tasks.${ref.taskId}\`; pass the value through its input`,
          suggestion: 'use `{{input.<field>}}` and map it in the Workflow',
        });
      } else if (ref.source === 'item' || ref.source === 'index') {
        errors.push(mapOnly(ref, field));
      } else if (ref.source === 'secret' && !secretNames.has(ref.name)) {
        const near = closestName(ref.name, secretNames);
        errors.push({
          code: 'UnknownSecret',
          field,
          message: `secret \`${ref.name}\` is not declared in spec.secrets`,
          suggestion: near
            ? `did you mean \`${near}\`?`
            : `add {name: ${ref.name}, secretKeyRef: {...}} to spec.secrets`,
        });
      }
    }
  }
  const retry = spec.retry;
  const policy: RetryPolicy = {
    maxAttempts: retry?.maxAttempts ?? 1,
    initialMs: duration(retry?.backoff?.initial, 100, 'spec.retry.backoff.initial', errors),
    maxMs: duration(retry?.backoff?.max, 2_000, 'spec.retry.backoff.max', errors),
    multiplier: retry?.backoff?.multiplier ?? 2,
    retryOn: new Set((retry?.retryOn ?? DEFAULT_RETRY_CLASSES).map((c) => String(c) as RetryClass)),
    retryNonIdempotent: retry?.retryNonIdempotent ?? false,
  };
  const task: CompiledTask = {
    name: doc.metadata.name ?? '',
    namespace,
    method: spec.http.method,
    url,
    urlTemplate,
    query,
    headers,
    body,
    inputSchema,
    outputSchema,
    timeoutMs: duration(spec.timeout, LIMITS.defaultTaskTimeoutMs, 'spec.timeout', errors),
    retry: policy,
    secrets,
    maxResponseBytes: spec.maxResponseBytes ?? LIMITS.defaultMaxResponseBytes,
    resilience: resilienceOf(spec, body, errors),
    websocket,
    spec,
  };
  return { value: errors.length ? undefined : task, errors };
}

/**
 * Compiles a WebSocket task's settings and refuses what does not fit a WebSocket exchange: a
 * method other than GET (the handshake), an http or https URL, an http body (the message is
 * `websocket.message`), and hedging, caching or a circuit breaker, which apply to HTTP calls only.
 */
function webSocketOf(spec: WorkflowTaskDocument['spec'], errors: FieldError[]): WebSocketSettings {
  const ws = spec.websocket as NonNullable<WorkflowTaskDocument['spec']['websocket']>;
  if (spec.http.method !== 'GET') {
    errors.push({
      code: 'FieldInvalid',
      field: 'spec.http.method',
      message: `a WebSocket task opens with a GET handshake, not ${spec.http.method}`,
      suggestion: 'use `method: GET`',
    });
  }
  if (!/^wss?:\/\//i.test(spec.http.url)) {
    errors.push({
      code: 'FieldInvalid',
      field: 'spec.http.url',
      message: 'a WebSocket task connects to a ws:// or wss:// URL',
      suggestion: 'write the URL as `ws://host/path` or `wss://host/path`',
    });
  }
  if (spec.http.body !== undefined) {
    errors.push({
      code: 'FieldInvalid',
      field: 'spec.http.body',
      message: 'a WebSocket handshake has no body',
      suggestion: 'move it to `websocket.message`, which is sent once the connection is open',
    });
  }
  for (const name of ['hedge', 'cache', 'circuitBreaker'] as const) {
    if (spec[name] !== undefined) {
      errors.push({
        code: 'FieldInvalid',
        field: `spec.${name}`,
        message: `\`${name}\` applies to HTTP calls, not to WebSocket tasks`,
        suggestion: `remove \`${name}\``,
      });
    }
  }
  const complete = ws.complete ?? {};
  if (complete.nth !== undefined && complete.match !== undefined) {
    errors.push({
      code: 'FieldInvalid',
      field: 'spec.websocket.complete',
      message: 'name either `nth` or `match`, not both',
    });
  }
  let match: CompiledCondition | undefined;
  if (complete.match !== undefined) {
    const compiled = compileCondition(complete.match);
    if (compiled instanceof Error) {
      errors.push({
        code: 'InvalidWhen',
        field: 'spec.websocket.complete.match',
        message: `invalid CEL expression: ${compiled.message.split('\n')[0]}`,
      });
    } else if (compiled.taskRefs.length > 0) {
      errors.push({
        code: 'TemplateScope',
        field: 'spec.websocket.complete.match',
        message: 'the expression reads `message`, the received message; a task cannot read other steps',
      });
    } else {
      match = compiled;
    }
  }
  return { nth: complete.nth ?? 1, match };
}

/** Elements of a map step in flight at once unless the step says otherwise. */
const DEFAULT_MAP_CONCURRENCY = 10;

/** Retried unless the policy names its classes: every class but `circuit-open`, which waits out the breaker. */
const DEFAULT_RETRY_CLASSES = RETRY_CLASSES.filter((c) => c !== 'circuit-open');

/** The error for `{{item}}` or `{{index}}` outside a map step's input. */
function mapOnly(ref: TemplateRef, field: string): FieldError {
  return {
    code: 'TemplateScope',
    field,
    message: `\`{{${formatRef(ref)}}}\` exists only in the input of a step with \`map\``,
    suggestion:
      'add `map: {items: "{{input.<array>}}"}` to the step, or pass the value through the task input',
  };
}

/**
 * Compiles idempotency key, circuit breaker, hedging and caching; `undefined` when the task
 * declares none. Refuses hedging of a non-idempotent call without an idempotency key, and caching
 * of a request whose body carries a secret unless the author opted in.
 */
function resilienceOf(
  spec: WorkflowTaskDocument['spec'],
  body: CompiledValue | undefined,
  errors: FieldError[],
): TaskResilience | undefined {
  const { idempotencyKey, circuitBreaker, hedge, cache } = spec;
  if (!idempotencyKey && !circuitBreaker && !hedge && !cache) return undefined;
  let breaker: BreakerSettings | undefined;
  if (circuitBreaker) {
    const settings = {
      failureRatio: circuitBreaker.failureRatio ?? 0.5,
      minimumRequests: circuitBreaker.minimumRequests ?? 10,
      windowMs: duration(circuitBreaker.window, 10_000, 'spec.circuitBreaker.window', errors),
      openForMs: duration(circuitBreaker.openFor, 5_000, 'spec.circuitBreaker.openFor', errors),
      halfOpenProbes: circuitBreaker.halfOpenProbes ?? 1,
    };
    breaker = { ...settings, key: canonicalJson(settings) };
  }
  let hedging: HedgeSettings | undefined;
  if (hedge) {
    const method = spec.http.method;
    const keyed =
      idempotencyKey !== undefined ||
      Object.keys(spec.http.headers ?? {}).some((h) => h.toLowerCase() === 'idempotency-key');
    if ((method === 'POST' || method === 'PATCH') && !keyed) {
      errors.push({
        code: 'FieldInvalid',
        field: 'spec.hedge',
        message: `hedging sends the request twice; a ${method} without an idempotency key could take effect twice`,
        suggestion:
          'add `idempotencyKey: {header: Idempotency-Key}` (for an upstream that honours it) or remove hedge',
      });
    }
    hedging = {
      afterMs: hedge.after === 'p95' ? 'p95' : duration(hedge.after, 0, 'spec.hedge.after', errors),
      maxExtraPercent: hedge.maxExtraPercent ?? 10,
    };
  }
  let caching: CacheSettings | undefined;
  if (cache) {
    const secretInBody = body !== undefined && collectRefs(body).some((r) => r.ref.source === 'secret');
    if (secretInBody && !cache.allowSecretsInBody) {
      errors.push({
        code: 'FieldInvalid',
        field: 'spec.cache',
        message: 'the request body carries a secret: its responses are not cached unless you opt in',
        suggestion:
          'set `cache.allowSecretsInBody: true` if sharing these responses is safe, or remove cache',
      });
    }
    caching = {
      ttlMs: duration(cache.ttl, 0, 'spec.cache.ttl', errors),
      maxEntries: cache.maxEntries ?? 1_000,
    };
  }
  return {
    idempotencyHeader: idempotencyKey?.header,
    breaker,
    hedge: hedging,
    cache: caching,
  };
}

/** Looks up compiled tasks of the workflow's namespace by name. */
export interface TaskResolver {
  /** The compiled task, `undefined` when no such task exists, `null` when it exists but is invalid. */
  get(name: string): CompiledTask | null | undefined;
  names(): Iterable<string>;
}

/** Compiles a Workflow whose shape has already been validated, against the tasks it may reference. */
export function compileWorkflow(doc: WorkflowDocument, tasks: TaskResolver): Compiled<CompiledWorkflow> {
  const errors: FieldError[] = [];
  const spec = doc.spec;
  const ids = new Set<string>();
  spec.tasks.forEach((step, i) => {
    errors.push(...dnsLabelErrors(step.id, `spec.tasks[${i}].id`));
    if (ids.has(step.id)) {
      errors.push({
        code: 'DuplicateName',
        field: `spec.tasks[${i}].id`,
        message: `step id \`${step.id}\` is used twice`,
      });
    }
    ids.add(step.id);
  });

  const timeoutMs = duration(spec.timeout, LIMITS.defaultWorkflowTimeoutMs, 'spec.timeout', errors);
  if (timeoutMs > LIMITS.maxWorkflowTimeoutMs) {
    errors.push({
      code: 'TimeoutTooLarge',
      field: 'spec.timeout',
      message: `${spec.timeout} exceeds the server maximum of 5m`,
      suggestion: 'use at most `5m`',
    });
  }

  const steps = new Map<string, CompiledStep>();
  let incomplete = false;
  spec.tasks.forEach((step, i) => {
    const base = `spec.tasks[${i}]`;
    const task = tasks.get(step.taskRef.name);
    if (task === undefined) {
      const near = closestName(step.taskRef.name, tasks.names());
      errors.push({
        code: 'TaskNotFound',
        field: `${base}.taskRef.name`,
        message: `WorkflowTask \`${step.taskRef.name}\` does not exist in namespace ${doc.metadata.namespace ?? 'default'}`,
        ...(near ? { suggestion: `did you mean \`${near}\`?` } : {}),
      });
    }
    const input = templated(step.input ?? {}, `${base}.input`, errors);
    let when: CompiledCondition | undefined;
    if (step.when !== undefined) {
      const compiled = compileCondition(step.when, {
        input: spec.inputSchema,
        taskOutput: (id) => {
          const producer = spec.tasks.find((s) => s.id === id);
          return producer ? tasks.get(producer.taskRef.name)?.spec.outputSchema : undefined;
        },
      });
      if (compiled instanceof Error) {
        errors.push({
          code: 'InvalidWhen',
          field: `${base}.when`,
          message: `invalid CEL expression: ${compiled.message.split('\n')[0]}`,
        });
      } else if (compiled.estimatedCost > CEL_COST_LIMIT) {
        const unbounded = compiled.unboundedPaths;
        errors.push({
          code: 'WhenTooCostly',
          field: `${base}.when`,
          message: `estimated cost ${compiled.estimatedCost.toLocaleString('en-US')} exceeds the limit of ${CEL_COST_LIMIT.toLocaleString('en-US')} (nested comprehensions multiply by each list's size)`,
          suggestion: unbounded.length
            ? `declare bounds in the schemas: ${unbounded.slice(0, 4).join(', ')}; or avoid nesting comprehensions`
            : 'lower the declared bounds or avoid nesting comprehensions',
        });
      } else {
        when = compiled;
      }
    }
    const refs = collectRefs(input);
    const dataDependencies = new Set<string>();
    let map: MapSettings | undefined;
    if (step.map) {
      const items = templated(step.map.items, `${base}.map.items`, errors);
      if (items.kind !== 'exact' || (items.ref.source !== 'input' && items.ref.source !== 'task')) {
        errors.push({
          code: 'FieldInvalid',
          field: `${base}.map.items`,
          message: 'must be exactly one template naming an array',
          suggestion: 'write e.g. `{{input.items}}` or `{{tasks.<id>.output.<path>}}`',
        });
      } else {
        map = {
          items: items.ref,
          concurrency: step.map.concurrency ?? DEFAULT_MAP_CONCURRENCY,
          failFast: (step.map.onItemError ?? 'failFast') === 'failFast',
          maxFailedItems: step.map.maxFailedItems ?? Number.POSITIVE_INFINITY,
        };
        if (items.ref.source === 'task') {
          if (ids.has(items.ref.taskId)) dataDependencies.add(items.ref.taskId);
          else unknownStep(items.ref.taskId, `${base}.map.items`, ids, errors);
        }
      }
    }
    for (const { ref, at } of refs) {
      if ((ref.source === 'item' || ref.source === 'index') && !step.map) {
        errors.push(mapOnly(ref, joinField(`${base}.input`, at)));
      } else if (ref.source === 'secret') {
        errors.push({
          code: 'TemplateScope',
          field: joinField(`${base}.input`, at),
          message: 'a Workflow cannot read secrets; declare the secret on the WorkflowTask',
          suggestion: 'move `{{secrets.' + ref.name + '}}` into the task spec.http',
        });
      } else if (ref.source === 'task') {
        dataDependencies.add(ref.taskId);
      }
    }
    const explicit = step.dependsOn ?? [];
    explicit.forEach((dep, j) => {
      if (!ids.has(dep)) unknownStep(dep, `${base}.dependsOn[${j}]`, ids, errors);
    });
    for (const dep of when?.taskRefs ?? []) {
      if (!ids.has(dep)) unknownStep(dep, `${base}.when`, ids, errors);
    }
    for (const dep of dataDependencies) {
      if (!ids.has(dep)) {
        const at = refs.find((r) => r.ref.source === 'task' && r.ref.taskId === dep)?.at ?? [];
        unknownStep(dep, joinField(`${base}.input`, at), ids, errors);
      }
    }
    const dependsOn = [...new Set([...explicit, ...dataDependencies, ...(when?.taskRefs ?? [])])].filter(
      (d) => ids.has(d),
    );
    if (dependsOn.includes(step.id)) {
      errors.push({
        code: 'DependencyCycle',
        field: `${base}`,
        message: `step \`${step.id}\` depends on itself`,
      });
    }
    if (!task) {
      incomplete = true;
      return;
    }
    if (task.timeoutMs > timeoutMs) {
      errors.push({
        code: 'TimeoutTooLarge',
        field: `${base}.taskRef.name`,
        message: `task \`${task.name}\` timeout ${task.spec.timeout ?? `${formatDuration(task.timeoutMs)} (the default)`} exceeds the workflow timeout ${spec.timeout ?? `${formatDuration(timeoutMs)} (the default)`}`,
        suggestion: 'raise spec.timeout or lower the task timeout',
      });
    }
    steps.set(step.id, {
      id: step.id,
      index: i,
      taskRef: step.taskRef.name,
      task,
      input,
      when,
      dependsOn,
      dataDependencies: [...dataDependencies].filter((d) => ids.has(d)),
      onError: step.onError ?? 'fail',
      ...(map ? { map } : {}),
    });
  });

  const output = spec.output === undefined ? undefined : templated(spec.output, 'spec.output', errors);
  for (const { ref, at } of output ? collectRefs(output) : []) {
    if (ref.source === 'task' && !ids.has(ref.taskId))
      unknownStep(ref.taskId, joinField('spec.output', at), ids, errors);
    if (ref.source === 'secret') {
      errors.push({
        code: 'TemplateScope',
        field: joinField('spec.output', at),
        message: 'the workflow output cannot read secrets',
      });
    }
    if (ref.source === 'item' || ref.source === 'index')
      errors.push(mapOnly(ref, joinField('spec.output', at)));
  }

  let graph: ExecutionGraph | undefined;
  try {
    graph = ExecutionGraph.build(
      spec.tasks.map((step) => ({
        id: step.id,
        dependsOn: dependenciesOf(step, spec.tasks, steps),
      })),
    );
  } catch (error) {
    if (!(error instanceof DependencyCycleError)) throw error;
    const first = spec.tasks.findIndex((s) => s.id === error.cycle[0]);
    errors.push({
      code: 'DependencyCycle',
      field: `spec.tasks[${first}]`,
      message: `dependency cycle: ${error.cycle.join(' -> ')}`,
      suggestion: 'remove one of the references or dependsOn edges in the cycle',
    });
  }
  const inputSchema = schema(spec.inputSchema, 'spec.inputSchema', errors);
  if (errors.length > 0 || incomplete || !graph) return { value: undefined, errors };
  let revision: string | undefined;
  let snapshot: RevisionSnapshot | undefined;
  return {
    value: {
      name: doc.metadata.name ?? '',
      namespace: doc.metadata.namespace ?? 'default',
      // Hashing every spec is the costliest part of compiling and validation never needs it.
      get revision() {
        return (revision ??= revisionHash(this.revisionSnapshot));
      },
      get revisionSnapshot() {
        return (snapshot ??= revisionSnapshotOf(
          spec,
          [...steps.values()].map((s) => s.task),
        ));
      },
      inputSchema,
      steps,
      graph,
      output,
      timeoutMs,
      maxConcurrency: spec.maxConcurrency ?? LIMITS.defaultMaxConcurrency,
      spec,
    },
    errors,
  };
}

function dependenciesOf(
  step: WorkflowDocument['spec']['tasks'][number],
  all: WorkflowDocument['spec']['tasks'],
  steps: Map<string, CompiledStep>,
): string[] {
  const compiled = steps.get(step.id);
  if (compiled && compiled.index === all.indexOf(step)) return [...compiled.dependsOn];
  // The step did not compile (unknown task): still take its template edges for cycle detection.
  const refs = collectRefs(compileValue(step.input ?? {}).value);
  if (step.map) refs.push(...collectRefs(compileValue(step.map.items).value));
  return [...(step.dependsOn ?? []), ...refs.flatMap((r) => (r.ref.source === 'task' ? [r.ref.taskId] : []))];
}

function unknownStep(id: string, field: string, ids: Set<string>, errors: FieldError[]): void {
  const near = closestName(id, ids);
  errors.push({
    code: 'UnknownTask',
    field,
    message: `no step with id \`${id}\` in spec.tasks`,
    ...(near ? { suggestion: `did you mean \`${near}\`?` } : {}),
  });
}

/** JSON with object keys sorted, so equal documents hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The snapshot of a workflow spec together with the specs of the tasks it references. */
function revisionSnapshotOf(
  spec: WorkflowDocument['spec'],
  tasks: readonly CompiledTask[],
): RevisionSnapshot {
  const taskSpecs: Record<string, WorkflowTaskDocument['spec']> = {};
  for (const task of tasks) taskSpecs[task.name] = task.spec;
  return { workflow: spec, tasks: taskSpecs };
}

/** The revision hash of a snapshot: `sha256:` and the hex digest of its canonical JSON. */
function revisionHash(snapshot: RevisionSnapshot): string {
  return `sha256:${sha256Hex(canonicalJson(snapshot))}`;
}
