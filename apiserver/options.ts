/**
 * `syncflow server` options: flags and environment → `ServerOptions` → `validate()` (every problem
 * at once, each naming the flag and the fix) → `ServerConfig` with parsed values.
 */
import { parseDuration } from '../core/duration.ts';
import { parseHostAliases } from '../adapters/egress/host-aliases.ts';
import { workerCount } from './workers.ts';
import type { TracingConfig } from '../adapters/tracing.ts';

/** Options as given on the command line (strings, before validation). */
export interface ServerOptions {
  securePort: string;
  bindAddress: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  kubeconfig: string;
  databaseUrl: string;
  embeddedDataDir: string;
  historyRetention: string;
  historyMaxQueued: string;
  maxInFlight: string;
  maxConnections: string;
  maxEventLoopDelay: string;
  admissionMaxInFlight: string;
  admissionClientCa: string;
  admissionAllowedNames: string[];
  shutdownGrace: string;
  egressAllowLoopback: boolean;
  egressAllowCidrs: string[];
  egressDenyCidrs: string[];
  egressAllowHosts: string[];
  egressDenyHosts: string[];
  egressMaxRedirects: string;
  hostAliases: string[];
  logLevel: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  podName: string;
  anonymousAuth: boolean;
  workers: string;
  maxDebugRuns: string;
  debugIdleTimeout: string;
  otelEndpoint: string;
  otelSampler: string;
  otelSamplingRatio: string;
  otelServiceName: string;
}

/** Validated, parsed configuration. */
export interface ServerConfig {
  securePort: number;
  bindAddress: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  /** Path of a kubeconfig; in-cluster configuration when empty. */
  kubeconfig: string;
  /** PostgreSQL URL; the embedded PGlite database when empty. */
  databaseUrl: string;
  embeddedDataDir: string;
  historyRetentionMs: number;
  historyMaxQueued: number;
  maxInFlight: number;
  /** Open connections; more are closed as they are accepted. */
  maxConnections: number;
  /** Event loop delay above which executions are refused with 429; 0 disables. */
  maxEventLoopDelayMs: number;
  /** Admission reviews checked at once before 429. */
  admissionMaxInFlight: number;
  /** CA bundle file of the client certificate kube-apiserver presents to webhooks; empty: not checked. */
  admissionClientCa: string;
  /** Accepted common names of that certificate; empty: any the CA signed. */
  admissionAllowedNames: string[];
  shutdownGraceMs: number;
  egress: {
    allowLoopback: boolean;
    allowCidrs: string[];
    denyCidrs: string[];
    allowHosts: string[];
    denyHosts: string[];
    maxRedirects: number;
  };
  /** Host names resolved to fixed addresses (`demo.svc=127.0.0.88`), for local development. */
  hostAliases: Map<string, string>;
  logLevel: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  /** Lease timings, as client-go's leader election takes them. */
  leaderElection: LeaderElectionTimings;
  podName: string;
  anonymousAuth: boolean;
  /** Event loops (worker processes) of this server; 1 runs the server in this process. */
  workers: number;
  /** Debug runs at once on this replica before 429. */
  maxDebugRuns: number;
  /** How long a debug pause waits for a decision before the run ends with DebugTimeout. */
  debugIdleTimeoutMs: number;
  /** OpenTelemetry tracing of executions; off (absent) without an endpoint. */
  tracing?: TracingConfig;
}

/** How long a Lease holds, how long a leader tries to renew it, and how often replicas try. */
export interface LeaderElectionTimings {
  /** A Lease unchanged this long may be taken by another replica. */
  leaseDurationMs: number;
  /** A leader that could not renew for this long stops acting as leader. */
  renewDeadlineMs: number;
  /** Time between acquire or renew attempts. */
  retryPeriodMs: number;
}

/** Defaults, also shown in `--help`. */
export function defaultServerOptions(env: Record<string, string | undefined> = {}): ServerOptions {
  return {
    securePort: '8443',
    bindAddress: '0.0.0.0',
    tlsCertFile: '',
    tlsPrivateKeyFile: '',
    kubeconfig: env.KUBECONFIG ?? '',
    databaseUrl: env.DATABASE_URL ?? '',
    embeddedDataDir: '',
    historyRetention: '7d',
    historyMaxQueued: '20000',
    maxInFlight: '1024',
    maxConnections: '4096',
    maxEventLoopDelay: '100ms',
    admissionMaxInFlight: '32',
    admissionClientCa: '',
    admissionAllowedNames: [],
    shutdownGrace: '30s',
    egressAllowLoopback: false,
    egressAllowCidrs: [],
    egressDenyCidrs: [],
    egressAllowHosts: [],
    egressDenyHosts: [],
    egressMaxRedirects: '0',
    hostAliases: [],
    logLevel: env.LOG_LEVEL ?? 'info',
    leaderElect: true,
    leaderElectionNamespace: env.POD_NAMESPACE ?? 'syncflow-system',
    leaderElectLeaseDuration: '15s',
    leaderElectRenewDeadline: '10s',
    leaderElectRetryPeriod: '2s',
    podName: env.POD_NAME ?? env.HOSTNAME ?? 'syncflow',
    anonymousAuth: false,
    workers: env.SYNCFLOW_WORKERS ?? '1',
    maxDebugRuns: '4',
    debugIdleTimeout: '5m',
    // The OpenTelemetry SDK's standard variables (OTEL_SDK_DISABLED=true turns tracing off).
    otelEndpoint: env.OTEL_SDK_DISABLED === 'true' ? '' : (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? ''),
    otelSampler: env.OTEL_TRACES_SAMPLER ?? 'parentbased_traceidratio',
    otelSamplingRatio: env.OTEL_TRACES_SAMPLER_ARG ?? '1',
    otelServiceName: env.OTEL_SERVICE_NAME ?? 'syncflow',
  };
}

interface FlagSpec {
  key: keyof ServerOptions;
  help: string;
}

const FLAGS: Record<string, FlagSpec> = {
  'secure-port': { key: 'securePort', help: 'HTTPS port (default 8443)' },
  'bind-address': { key: 'bindAddress', help: 'address to listen on (default 0.0.0.0)' },
  'tls-cert-file': { key: 'tlsCertFile', help: 'serving certificate (PEM); reloaded when it changes' },
  'tls-private-key-file': { key: 'tlsPrivateKeyFile', help: 'serving key (PEM); reloaded when it changes' },
  kubeconfig: {
    key: 'kubeconfig',
    help: 'kubeconfig to reach the cluster (default: in-cluster, or $KUBECONFIG)',
  },
  'database-url': {
    key: 'databaseUrl',
    help: 'PostgreSQL URL (default $DATABASE_URL; embedded PGlite when empty)',
  },
  'embedded-data-dir': {
    key: 'embeddedDataDir',
    help: 'directory of the embedded database (default: in memory)',
  },
  'history-retention': {
    key: 'historyRetention',
    help: 'how long executions are kept (default 7d; units ms s m h d)',
  },
  'history-max-queued': {
    key: 'historyMaxQueued',
    help: 'executions buffered while the database is slow (default 20000)',
  },
  'max-in-flight': { key: 'maxInFlight', help: 'concurrent executions before 429 (default 1024)' },
  'max-connections': {
    key: 'maxConnections',
    help: 'open connections; more are closed on accept (default 4096)',
  },
  'max-event-loop-delay': {
    key: 'maxEventLoopDelay',
    help: 'refuse executions with 429 while the event loop is this late (default 100ms; 0 disables)',
  },
  'admission-max-in-flight': {
    key: 'admissionMaxInFlight',
    help: 'admission reviews checked at once before 429 (default 32)',
  },
  'admission-client-ca': {
    key: 'admissionClientCa',
    help: 'CA of the client certificate kube-apiserver presents to webhooks; others are refused',
  },
  'admission-allowed-names': {
    key: 'admissionAllowedNames',
    help: 'accepted common names of that certificate (repeatable; default: any)',
  },
  'shutdown-grace': {
    key: 'shutdownGrace',
    help: 'time to finish in-flight executions on SIGTERM (default 30s)',
  },
  'egress-allow-loopback': {
    key: 'egressAllowLoopback',
    help: 'allow task URLs on 127.0.0.0/8 and ::1 (development only)',
  },
  'egress-allow-cidr': {
    key: 'egressAllowCidrs',
    help: 'only call these CIDR blocks (repeatable, comma-separated)',
  },
  'egress-deny-cidr': { key: 'egressDenyCidrs', help: 'never call these CIDR blocks (repeatable)' },
  'egress-allow-host': {
    key: 'egressAllowHosts',
    help: 'only call these hosts; *.example.com for subdomains (repeatable)',
  },
  'egress-deny-host': { key: 'egressDenyHosts', help: 'never call these hosts (repeatable)' },
  'egress-max-redirects': {
    key: 'egressMaxRedirects',
    help: 'redirect hops followed, each re-checked (default 0)',
  },
  'host-alias': {
    key: 'hostAliases',
    help: 'resolve HOST to ADDRESS, as HOST=ADDRESS (repeatable; development)',
  },
  'log-level': { key: 'logLevel', help: 'trace, debug, info, warn or error (default info)' },
  'leader-elect': {
    key: 'leaderElect',
    help: 'elect one replica to run the status controller (default true)',
  },
  'leader-election-namespace': { key: 'leaderElectionNamespace', help: 'namespace of the leader Lease' },
  'leader-elect-lease-duration': {
    key: 'leaderElectLeaseDuration',
    help: 'a Lease not renewed this long may be taken by another replica (default 15s)',
  },
  'leader-elect-renew-deadline': {
    key: 'leaderElectRenewDeadline',
    help: 'the leader stops leading when it could not renew for this long (default 10s)',
  },
  'leader-elect-retry-period': {
    key: 'leaderElectRetryPeriod',
    help: 'time between attempts to acquire or renew the Lease (default 2s)',
  },
  'pod-name': { key: 'podName', help: 'identity in leader election (default $POD_NAME)' },
  'anonymous-auth': { key: 'anonymousAuth', help: 'treat requests without credentials as system:anonymous' },
  workers: {
    key: 'workers',
    help: 'worker processes sharing the port: a number, or auto = one per CPU (default $SYNCFLOW_WORKERS or 1)',
  },
  'max-debug-runs': { key: 'maxDebugRuns', help: 'debug runs at once (per process) before 429 (default 4)' },
  'debug-idle-timeout': {
    key: 'debugIdleTimeout',
    help: 'a debug pause without a decision this long ends the run with DebugTimeout (default 5m)',
  },
  'otel-endpoint': {
    key: 'otelEndpoint',
    help: 'export OpenTelemetry traces to this OTLP/HTTP receiver, e.g. http://otel-collector:4318 (default $OTEL_EXPORTER_OTLP_ENDPOINT; tracing is off when empty)',
  },
  'otel-sampler': {
    key: 'otelSampler',
    help: 'parentbased_traceidratio, traceidratio, parentbased_always_on, always_on, parentbased_always_off or always_off (default $OTEL_TRACES_SAMPLER or parentbased_traceidratio)',
  },
  'otel-sampling-ratio': {
    key: 'otelSamplingRatio',
    help: 'fraction of new traces recorded by the traceidratio samplers, 0 to 1 (default $OTEL_TRACES_SAMPLER_ARG or 1)',
  },
  'otel-service-name': {
    key: 'otelServiceName',
    help: 'service.name of the spans (default $OTEL_SERVICE_NAME or syncflow)',
  },
};

/** `--help` text. */
export function serverUsage(): string {
  const lines = Object.entries(FLAGS).map(([flag, spec]) => `  --${flag.padEnd(28)} ${spec.help}`);
  return `usage: syncflow server [flags]\n\nflags:\n${lines.join('\n')}\n`;
}

/** Parses `--flag value`, `--flag=value` and boolean `--flag` / `--flag=false`. */
export function parseServerFlags(
  args: readonly string[],
  base: ServerOptions,
): { options: ServerOptions; errors: string[] } {
  const options: ServerOptions = {
    ...base,
    egressAllowCidrs: [...base.egressAllowCidrs],
    egressDenyCidrs: [...base.egressDenyCidrs],
    egressAllowHosts: [...base.egressAllowHosts],
    egressDenyHosts: [...base.egressDenyHosts],
    hostAliases: [...base.hostAliases],
    admissionAllowedNames: [...base.admissionAllowedNames],
  };
  const errors: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      errors.push(`unexpected argument ${JSON.stringify(arg)}: flags start with --`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = FLAGS[name];
    if (!spec) {
      errors.push(`unknown flag --${name} (see syncflow server --help)`);
      continue;
    }
    const current = options[spec.key];
    if (typeof current === 'boolean') {
      const value = eq < 0 ? 'true' : arg.slice(eq + 1);
      if (value !== 'true' && value !== 'false')
        errors.push(`--${name} takes true or false, got ${JSON.stringify(value)}`);
      (options[spec.key] as boolean) = value === 'true';
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else value = args[++i];
    if (value === undefined) {
      errors.push(`--${name} needs a value`);
      continue;
    }
    if (Array.isArray(current))
      current.push(
        ...value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      );
    else (options[spec.key] as string) = value;
  }
  return { options, errors };
}

function retention(text: string): number | undefined {
  const days = /^([0-9]+)d$/.exec(text);
  if (days) return Number(days[1]) * 86_400_000;
  return parseDuration(text);
}

const SAMPLERS = [
  'parentbased_traceidratio',
  'traceidratio',
  'parentbased_always_on',
  'always_on',
  'parentbased_always_off',
  'always_off',
];

/** The tracing configuration: undefined when no endpoint is set; problems are appended to `errors`. */
function tracingConfig(o: ServerOptions, errors: string[]): TracingConfig | undefined {
  if (!o.otelEndpoint) return undefined;
  let endpoint: string | undefined;
  try {
    const url = new URL(o.otelEndpoint);
    if (url.protocol === 'http:' || url.protocol === 'https:')
      endpoint = `${url.href.replace(/\/+$/, '')}/v1/traces`;
  } catch {
    // reported below
  }
  if (endpoint === undefined)
    errors.push(
      `--otel-endpoint ${o.otelEndpoint}: must be the http:// or https:// URL of an OTLP/HTTP receiver, such as http://otel-collector:4318`,
    );
  if (!SAMPLERS.includes(o.otelSampler))
    errors.push(`--otel-sampler ${o.otelSampler}: use ${SAMPLERS.slice(0, -1).join(', ')} or always_off`);
  const ratio = o.otelSamplingRatio.trim() === '' ? NaN : Number(o.otelSamplingRatio);
  if (!(ratio >= 0 && ratio <= 1))
    errors.push(
      `--otel-sampling-ratio ${o.otelSamplingRatio}: must be a number from 0 to 1, such as 0.01 for 1% of new traces`,
    );
  if (endpoint === undefined || !SAMPLERS.includes(o.otelSampler) || !(ratio >= 0 && ratio <= 1))
    return undefined;
  const kind = o.otelSampler.replace(/^parentbased_/, '');
  return {
    endpoint,
    serviceName: o.otelServiceName,
    ratio: kind === 'always_on' ? 1 : kind === 'always_off' ? 0 : ratio,
    parentBased: o.otelSampler.startsWith('parentbased_'),
  };
}

function positiveInt(text: string): number | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * The Lease timings, in the order client-go requires (lease duration > renew deadline > retry
 * period): otherwise a replica could take the Lease while the leader still acts, or the leader
 * would give up before its next attempt to renew. Problems are appended to `errors`.
 */
function leaderElectionTimings(o: ServerOptions, errors: string[]): LeaderElectionTimings | undefined {
  const positive = (text: string) => {
    const ms = parseDuration(text);
    return ms !== undefined && ms > 0 ? ms : undefined;
  };
  const leaseDurationMs = positive(o.leaderElectLeaseDuration);
  const renewDeadlineMs = positive(o.leaderElectRenewDeadline);
  const retryPeriodMs = positive(o.leaderElectRetryPeriod);
  const before = errors.length;
  if (leaseDurationMs === undefined)
    errors.push(`--leader-elect-lease-duration ${o.leaderElectLeaseDuration}: use a duration such as 15s`);
  else if (leaseDurationMs < 1_000)
    errors.push(
      `--leader-elect-lease-duration ${o.leaderElectLeaseDuration}: must be at least 1s (a Lease records whole seconds)`,
    );
  if (renewDeadlineMs === undefined)
    errors.push(`--leader-elect-renew-deadline ${o.leaderElectRenewDeadline}: use a duration such as 10s`);
  if (retryPeriodMs === undefined)
    errors.push(`--leader-elect-retry-period ${o.leaderElectRetryPeriod}: use a duration such as 2s`);
  if (errors.length > before) return undefined;
  if ((renewDeadlineMs as number) >= (leaseDurationMs as number))
    errors.push(
      `--leader-elect-renew-deadline ${o.leaderElectRenewDeadline}: must be shorter than --leader-elect-lease-duration (${o.leaderElectLeaseDuration}), or a replica could take the Lease while the leader still acts`,
    );
  if ((retryPeriodMs as number) >= (renewDeadlineMs as number))
    errors.push(
      `--leader-elect-retry-period ${o.leaderElectRetryPeriod}: must be shorter than --leader-elect-renew-deadline (${o.leaderElectRenewDeadline}), or the leader gives up before it tries to renew again`,
    );
  if (errors.length > before) return undefined;
  return {
    leaseDurationMs: leaseDurationMs as number,
    renewDeadlineMs: renewDeadlineMs as number,
    retryPeriodMs: retryPeriodMs as number,
  };
}

/** Checks every option; returns the config, or every problem found. */
export function validateServerOptions(o: ServerOptions): { config?: ServerConfig; errors: string[] } {
  const errors: string[] = [];
  const port = Number(o.securePort);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    errors.push(`--secure-port ${o.securePort}: must be a port number from 1 to 65535`);
  if (!o.tlsCertFile) errors.push('--tls-cert-file is required: the server only serves HTTPS');
  if (!o.tlsPrivateKeyFile) errors.push('--tls-private-key-file is required: the server only serves HTTPS');
  const retentionMs = retention(o.historyRetention);
  if (retentionMs === undefined || retentionMs <= 0)
    errors.push(`--history-retention ${o.historyRetention}: use a duration such as 7d, 12h or 30m`);
  const maxQueued = positiveInt(o.historyMaxQueued);
  if (maxQueued === undefined)
    errors.push(`--history-max-queued ${o.historyMaxQueued}: must be a positive integer`);
  const maxInFlight = positiveInt(o.maxInFlight);
  if (maxInFlight === undefined) errors.push(`--max-in-flight ${o.maxInFlight}: must be a positive integer`);
  const maxConnections = positiveInt(o.maxConnections);
  if (maxConnections === undefined)
    errors.push(`--max-connections ${o.maxConnections}: must be a positive integer`);
  else if (maxInFlight !== undefined && maxConnections < maxInFlight) {
    errors.push(
      `--max-connections ${o.maxConnections}: must be at least --max-in-flight (${o.maxInFlight}), or callers would be cut off instead of getting 429`,
    );
  }
  const maxEventLoopDelayMs = o.maxEventLoopDelay === '0' ? 0 : parseDuration(o.maxEventLoopDelay);
  if (maxEventLoopDelayMs === undefined)
    errors.push(
      `--max-event-loop-delay ${o.maxEventLoopDelay}: use a duration such as 100ms, or 0 to disable`,
    );
  const admissionMaxInFlight = positiveInt(o.admissionMaxInFlight);
  if (admissionMaxInFlight === undefined)
    errors.push(`--admission-max-in-flight ${o.admissionMaxInFlight}: must be a positive integer`);
  if (o.admissionAllowedNames.length > 0 && !o.admissionClientCa)
    errors.push('--admission-allowed-names needs --admission-client-ca (the CA that signs those names)');
  const grace = parseDuration(o.shutdownGrace);
  if (grace === undefined) errors.push(`--shutdown-grace ${o.shutdownGrace}: use a duration such as 30s`);
  const redirects = Number(o.egressMaxRedirects);
  if (!Number.isInteger(redirects) || redirects < 0 || redirects > 20)
    errors.push(`--egress-max-redirects ${o.egressMaxRedirects}: must be an integer from 0 to 20`);
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(o.logLevel)) {
    errors.push(`--log-level ${o.logLevel}: use trace, debug, info, warn or error`);
  }
  if (o.databaseUrl) {
    try {
      const url = new URL(o.databaseUrl);
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
        errors.push('--database-url: must be a postgres:// or postgresql:// URL');
    } catch {
      errors.push('--database-url: is not a valid URL (expected postgres://user:password@host:5432/db)');
    }
  }
  let workers = 1;
  try {
    workers = workerCount(o.workers);
  } catch (error) {
    errors.push((error as Error).message);
  }
  const maxDebugRuns = positiveInt(o.maxDebugRuns);
  if (maxDebugRuns === undefined)
    errors.push(`--max-debug-runs ${o.maxDebugRuns}: must be a positive integer`);
  const debugIdleTimeoutMs = parseDuration(o.debugIdleTimeout);
  if (debugIdleTimeoutMs === undefined || debugIdleTimeoutMs <= 0)
    errors.push(`--debug-idle-timeout ${o.debugIdleTimeout}: use a duration such as 5m or 30s`);
  const leaderElection = leaderElectionTimings(o, errors);
  const tracing = tracingConfig(o, errors);
  const { aliases: hostAliases, errors: aliasErrors } = parseHostAliases(o.hostAliases);
  errors.push(...aliasErrors.map((e) => `--${e}`));
  if (errors.length) return { errors };
  return {
    errors,
    config: {
      securePort: port,
      bindAddress: o.bindAddress,
      tlsCertFile: o.tlsCertFile,
      tlsPrivateKeyFile: o.tlsPrivateKeyFile,
      kubeconfig: o.kubeconfig,
      databaseUrl: o.databaseUrl,
      embeddedDataDir: o.embeddedDataDir,
      historyRetentionMs: retentionMs as number,
      historyMaxQueued: maxQueued as number,
      maxInFlight: maxInFlight as number,
      maxConnections: maxConnections as number,
      maxEventLoopDelayMs: maxEventLoopDelayMs as number,
      admissionMaxInFlight: admissionMaxInFlight as number,
      admissionClientCa: o.admissionClientCa,
      admissionAllowedNames: o.admissionAllowedNames,
      shutdownGraceMs: grace as number,
      egress: {
        allowLoopback: o.egressAllowLoopback,
        allowCidrs: o.egressAllowCidrs,
        denyCidrs: o.egressDenyCidrs,
        allowHosts: o.egressAllowHosts,
        denyHosts: o.egressDenyHosts,
        maxRedirects: redirects,
      },
      hostAliases,
      logLevel: o.logLevel,
      leaderElect: o.leaderElect,
      leaderElectionNamespace: o.leaderElectionNamespace,
      leaderElection: leaderElection as LeaderElectionTimings,
      podName: o.podName,
      anonymousAuth: o.anonymousAuth,
      workers,
      maxDebugRuns: maxDebugRuns as number,
      debugIdleTimeoutMs: debugIdleTimeoutMs as number,
      ...(tracing ? { tracing } : {}),
    },
  };
}
