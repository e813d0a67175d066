/**
 * OpenTelemetry tracing of executions: the engine's {@link ExecutionTracer} hook over the
 * OpenTelemetry SDK, exported over OTLP/HTTP. The server imports this module only when tracing is
 * on, so with tracing off neither the SDK nor this module is ever loaded.
 *
 * Spans: one SERVER span per execution (the caller's `traceparent` is its parent) and one CLIENT
 * span per HTTP attempt of a task, whose own context is the `traceparent` the upstream receives.
 * Attributes come only from the definition (workflow, task ids, method, declared URL template)
 * and from outcomes (status code, phase, error code): never inputs, outputs, headers or the
 * resolved URL, so no secret or user value can reach a span.
 */
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  diag,
  isSpanContextValid,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import type {
  AttemptSpan,
  ExecutionSpan,
  ExecutionTracer,
  TracedAttempt,
  TracedExecution,
} from '../core/engine/trace.ts';

/** How tracing is configured (validated by the server's options). */
export interface TracingConfig {
  /** OTLP/HTTP traces URL, e.g. `http://otel-collector:4318/v1/traces`. */
  endpoint: string;
  /** `service.name` of the spans. */
  serviceName: string;
  /** Fraction of new traces recorded, from 0 to 1. */
  ratio: number;
  /** A caller's sampled flag decides for its trace (the ratio applies to new traces only). */
  parentBased: boolean;
}

/** Tracing while the server runs. */
export interface Tracing {
  tracer: ExecutionTracer;
  /** Exports every finished span now. */
  flush(): Promise<void>;
  /** Exports what is left and stops. */
  shutdown(): Promise<void>;
}

// Incubating in the semantic conventions (not exported by the stable entry point).
const ATTR_URL_TEMPLATE = 'url.template';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Options of {@link startTracing}. */
export interface TracingOptions {
  /** Replaces the OTLP exporter (tests); spans are then exported as they end, not in batches. */
  exporter?: SpanExporter;
  /**
   * Told of the SDK's warnings and errors (a failed export, spans dropped from a full queue): at
   * most one per `problemIntervalMs` (default a minute), with how many were left out before it.
   */
  onProblem?: (message: string, suppressed: number) => void;
  problemIntervalMs?: number;
}

/** Starts an OpenTelemetry tracer provider for executions. */
export function startTracing(config: TracingConfig, options: TracingOptions = {}): Tracing {
  const problem = options.onProblem
    ? reportProblems(options.onProblem, options.problemIntervalMs ?? 60_000)
    : undefined;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }),
    sampler: samplerOf(config),
    spanProcessors: [
      options.exporter
        ? new SimpleSpanProcessor({ exporter: options.exporter })
        : new BatchSpanProcessor({
            exporter: new OTLPTraceExporter({ url: config.endpoint }),
            scheduledDelayMillis: 1_000,
          }),
    ],
  });
  return {
    tracer: new OtelExecutionTracer(provider.getTracer('syncflow')),
    // A failed export is a problem to report, as it is when the batch timer exports.
    flush: () =>
      provider.forceFlush().catch((error: unknown) => {
        if (!problem) throw error;
        problem(error instanceof Error ? error.message : String(error));
      }),
    shutdown: async () => {
      await provider.shutdown();
      if (options.onProblem) diag.disable();
    },
  };
}

/** Routes the SDK's diagnostics of level warn and above to `report`, throttled (a down collector fails every batch). */
function reportProblems(
  report: (message: string, suppressed: number) => void,
  intervalMs: number,
): (message: string, ...args: unknown[]) => void {
  let last = -Infinity;
  let suppressed = 0;
  const problem = (message: string, ...args: unknown[]) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    report(
      [message, ...args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)))].join(' '),
      suppressed,
    );
    suppressed = 0;
  };
  const ignore = () => {};
  diag.setLogger(
    { error: problem, warn: problem, info: ignore, debug: ignore, verbose: ignore },
    DiagLogLevel.WARN,
  );
  return problem;
}

function samplerOf(config: TracingConfig): Sampler {
  const root = config.ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(config.ratio);
  return config.parentBased ? new ParentBasedSampler({ root }) : root;
}

/** The caller's span context from its `traceparent`; the root context when absent or malformed. */
function callerContext(traceparent: string | undefined): Context {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!match) return ROOT_CONTEXT;
  const spanContext = {
    traceId: match[1] as string,
    spanId: match[2] as string,
    traceFlags: parseInt(match[3] as string, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT;
}

/** {@link ExecutionTracer} over an OpenTelemetry tracer. */
class OtelExecutionTracer implements ExecutionTracer {
  constructor(private readonly tracer: Tracer) {}

  startExecution(start: TracedExecution): ExecutionSpan | undefined {
    const span = this.tracer.startSpan(
      `execute ${start.namespace}/${start.workflow}`,
      {
        kind: SpanKind.SERVER,
        startTime: start.startTime,
        attributes: {
          [ATTR_K8S_NAMESPACE_NAME]: start.namespace,
          'syncflow.workflow': start.workflow,
        },
      },
      callerContext(start.traceparent),
    );
    // Not sampled: the SDK gave a span that records nothing; the engine needs nothing from it.
    return span.isRecording() ? new OtelExecutionSpan(this.tracer, span) : undefined;
  }
}

class OtelExecutionSpan implements ExecutionSpan {
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  startAttempt(attempt: TracedAttempt): AttemptSpan {
    const span = this.tracer.startSpan(
      `${attempt.method} ${attempt.task}`,
      {
        kind: SpanKind.CLIENT,
        startTime: attempt.startTime,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: attempt.method,
          [ATTR_URL_TEMPLATE]: attempt.urlTemplate,
          'syncflow.task': attempt.task,
          'syncflow.task_ref': attempt.taskRef,
          'syncflow.attempt': attempt.attempt,
          ...(attempt.attempt > 1 ? { [ATTR_HTTP_REQUEST_RESEND_COUNT]: attempt.attempt - 1 } : {}),
        },
      },
      this.context,
    );
    return new OtelAttemptSpan(span);
  }

  end(end: { phase: string; reason?: string; endTime: number }): void {
    this.span.setAttribute('syncflow.phase', end.phase);
    if (end.reason) {
      this.span.setAttribute(ATTR_ERROR_TYPE, end.reason);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: end.reason });
    }
    this.span.end(end.endTime);
  }
}

class OtelAttemptSpan implements AttemptSpan {
  readonly traceparent: string;

  constructor(private readonly span: Span) {
    const context = span.spanContext();
    this.traceparent = `00-${context.traceId}-${context.spanId}-0${context.traceFlags & TraceFlags.SAMPLED}`;
  }

  end(end: { httpStatus?: number; reason?: string; endTime: number }): void {
    if (end.httpStatus !== undefined) this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, end.httpStatus);
    if (end.reason) {
      this.span.setAttribute(ATTR_ERROR_TYPE, end.reason);
      // Only the error code: the engine's messages may quote the upstream's answer.
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: end.reason });
    }
    this.span.end(end.endTime);
  }
}
