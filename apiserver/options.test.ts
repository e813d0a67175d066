import { expect } from 'chai';
import { defaultServerOptions, parseServerFlags, serverUsage, validateServerOptions } from './options.ts';

describe('server options', () => {
  const base = defaultServerOptions({
    DATABASE_URL: 'postgres://u:p@db:5432/syncflow',
    POD_NAME: 'syncflow-0',
  });

  it('parses --flag value, --flag=value, booleans and repeatable lists', () => {
    const { options, errors } = parseServerFlags(
      [
        '--secure-port',
        '9443',
        '--tls-cert-file=/c.pem',
        '--tls-private-key-file',
        '/k.pem',
        '--egress-allow-loopback',
        '--leader-elect=false',
        '--egress-deny-cidr',
        '10.0.0.0/8,192.168.0.0/16',
        '--egress-deny-cidr=172.16.0.0/12',
        '--host-alias',
        'demo.svc=127.0.0.88',
      ],
      base,
    );
    expect(errors).to.deep.equal([]);
    const { config } = validateServerOptions(options);
    expect(config).to.deep.include({
      securePort: 9443,
      tlsCertFile: '/c.pem',
      leaderElect: false,
      databaseUrl: 'postgres://u:p@db:5432/syncflow',
      podName: 'syncflow-0',
    });
    expect(config?.egress.allowLoopback).to.equal(true);
    expect(config?.egress.denyCidrs).to.deep.equal(['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12']);
    expect(config?.hostAliases.get('demo.svc')).to.equal('127.0.0.88');
    expect(config?.historyRetentionMs).to.equal(7 * 86_400_000);
    expect(config?.shutdownGraceMs).to.equal(30_000);
    expect(config).to.deep.include({ maxInFlight: 1024, maxConnections: 4096, maxEventLoopDelayMs: 100 });
  });

  it('reads the overload limits and refuses a connection cap below the in-flight limit', () => {
    const parsed = parseServerFlags(
      [
        '--tls-cert-file=/c',
        '--tls-private-key-file=/k',
        '--max-in-flight=256',
        '--max-connections=512',
        '--max-event-loop-delay=0',
      ],
      base,
    );
    expect(validateServerOptions(parsed.options).config).to.deep.include({
      maxInFlight: 256,
      maxConnections: 512,
      maxEventLoopDelayMs: 0,
    });
    const bad = parseServerFlags(
      [
        '--tls-cert-file=/c',
        '--tls-private-key-file=/k',
        '--max-in-flight=256',
        '--max-connections=100',
        '--max-event-loop-delay=soon',
      ],
      base,
    );
    const errors = validateServerOptions(bad.options).errors.join('\n');
    expect(errors).to.contain('--max-connections 100: must be at least --max-in-flight (256)');
    expect(errors).to.contain('--max-event-loop-delay soon: use a duration such as 100ms, or 0 to disable');
    expect(
      validateServerOptions({ ...bad.options, maxConnections: 'x', maxEventLoopDelay: '50ms' }).errors.join(),
    ).to.contain('--max-connections x: must be a positive integer');
  });

  it('reports every problem at once, naming the flag and the fix', () => {
    const { options, errors: parseErrors } = parseServerFlags(
      [
        'stray',
        '--nope',
        '--leader-elect=maybe',
        '--secure-port=0',
        '--history-retention=forever',
        '--max-in-flight=-1',
        '--history-max-queued=x',
        '--shutdown-grace=soon',
        '--egress-max-redirects=99',
        '--log-level=loud',
        '--database-url=mysql://x',
        '--host-alias=broken',
        '--tls-cert-file',
      ],
      base,
    );
    const { config, errors } = validateServerOptions(options);
    expect(config).to.equal(undefined);
    const all = [...parseErrors, ...errors].join('\n');
    for (const expected of [
      'unexpected argument "stray"',
      'unknown flag --nope',
      '--leader-elect takes true or false',
      '--tls-cert-file needs a value',
      '--secure-port 0: must be a port number',
      '--tls-cert-file is required',
      '--tls-private-key-file is required',
      '--history-retention forever',
      '--history-max-queued x',
      '--max-in-flight -1',
      '--shutdown-grace soon',
      '--egress-max-redirects 99',
      '--log-level loud',
      '--database-url: must be a postgres://',
      '--host alias "broken": use HOST=ADDRESS',
    ]) {
      expect(all).to.contain(expected);
    }
    expect(validateServerOptions({ ...options, databaseUrl: 'not a url' }).errors.join()).to.contain(
      'is not a valid URL',
    );
  });

  it('reads the admission limits and client CA, and refuses allowed names without a CA', () => {
    const parsed = parseServerFlags(
      [
        '--tls-cert-file=/c',
        '--tls-private-key-file=/k',
        '--admission-client-ca=/ca.pem',
        '--admission-allowed-names=kube-apiserver,other',
        '--admission-max-in-flight=8',
      ],
      base,
    );
    expect(validateServerOptions(parsed.options).config).to.deep.include({
      admissionClientCa: '/ca.pem',
      admissionAllowedNames: ['kube-apiserver', 'other'],
      admissionMaxInFlight: 8,
    });
    expect(
      validateServerOptions({ ...parsed.options, admissionClientCa: '', admissionMaxInFlight: '0' }).errors,
    ).to.deep.equal([
      '--admission-max-in-flight 0: must be a positive integer',
      '--admission-allowed-names needs --admission-client-ca (the CA that signs those names)',
    ]);
  });

  it('reads the debug run limit and idle bound (defaults 4 and 5m), naming a bad value and the fix', () => {
    const tls = ['--tls-cert-file=/c', '--tls-private-key-file=/k'];
    expect(validateServerOptions(parseServerFlags(tls, base).options).config).to.deep.include({
      maxDebugRuns: 4,
      debugIdleTimeoutMs: 300_000,
    });
    const given = parseServerFlags([...tls, '--max-debug-runs=2', '--debug-idle-timeout', '90s'], base);
    expect(validateServerOptions(given.options).config).to.deep.include({
      maxDebugRuns: 2,
      debugIdleTimeoutMs: 90_000,
    });
    const bad = parseServerFlags([...tls, '--max-debug-runs=0', '--debug-idle-timeout=later'], base);
    expect(validateServerOptions(bad.options).errors).to.deep.equal([
      '--max-debug-runs 0: must be a positive integer',
      '--debug-idle-timeout later: use a duration such as 5m or 30s',
    ]);
  });

  it('reads the leader election timings (client-go defaults 15s, 10s, 2s) and refuses an order that could elect two leaders', () => {
    const tls = ['--tls-cert-file=/c', '--tls-private-key-file=/k'];
    expect(validateServerOptions(parseServerFlags(tls, base).options).config?.leaderElection).to.deep.equal({
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
    const short = parseServerFlags(
      [
        ...tls,
        '--leader-elect-lease-duration=4s',
        '--leader-elect-renew-deadline',
        '3s',
        '--leader-elect-retry-period=500ms',
      ],
      base,
    );
    expect(short.errors).to.deep.equal([]);
    expect(validateServerOptions(short.options).config?.leaderElection).to.deep.equal({
      leaseDurationMs: 4_000,
      renewDeadlineMs: 3_000,
      retryPeriodMs: 500,
    });
    const unparsable = parseServerFlags(
      [
        ...tls,
        '--leader-elect-lease-duration=soon',
        '--leader-elect-renew-deadline=0s',
        '--leader-elect-retry-period=-1s',
      ],
      base,
    );
    expect(validateServerOptions(unparsable.options).errors).to.deep.equal([
      '--leader-elect-lease-duration soon: use a duration such as 15s',
      '--leader-elect-renew-deadline 0s: use a duration such as 10s',
      '--leader-elect-retry-period -1s: use a duration such as 2s',
    ]);
    const subSecond = parseServerFlags(
      [
        ...tls,
        '--leader-elect-lease-duration=800ms',
        '--leader-elect-renew-deadline=600ms',
        '--leader-elect-retry-period=200ms',
      ],
      base,
    );
    expect(validateServerOptions(subSecond.options).errors).to.deep.equal([
      '--leader-elect-lease-duration 800ms: must be at least 1s (a Lease records whole seconds)',
    ]);
    // A leader must give up before others may take over, and must try to renew in time.
    const disordered = parseServerFlags(
      [
        ...tls,
        '--leader-elect-lease-duration=5s',
        '--leader-elect-renew-deadline=5s',
        '--leader-elect-retry-period=5s',
      ],
      base,
    );
    expect(validateServerOptions(disordered.options).errors).to.deep.equal([
      '--leader-elect-renew-deadline 5s: must be shorter than --leader-elect-lease-duration (5s), or a replica could take the Lease while the leader still acts',
      '--leader-elect-retry-period 5s: must be shorter than --leader-elect-renew-deadline (5s), or the leader gives up before it tries to renew again',
    ]);
  });

  it('documents every flag in --help', () => {
    const usage = serverUsage();
    for (const flag of [
      '--secure-port',
      '--database-url',
      '--egress-allow-cidr',
      '--host-alias',
      '--max-in-flight',
      '--max-connections',
      '--max-event-loop-delay',
      '--admission-client-ca',
      '--admission-max-in-flight',
      '--max-debug-runs',
      '--debug-idle-timeout',
      '--leader-elect-lease-duration',
      '--leader-elect-renew-deadline',
      '--leader-elect-retry-period',
    ])
      expect(usage).to.contain(flag);
  });
});

describe('server options: tracing', () => {
  const required = ['--tls-cert-file=/c.pem', '--tls-private-key-file=/k.pem'];
  const configOf = (args: string[], env: Record<string, string> = {}) => {
    const parsed = parseServerFlags([...required, ...args], defaultServerOptions(env));
    expect(parsed.errors).to.deep.equal([]);
    return validateServerOptions(parsed.options);
  };

  it('is off by default (no endpoint), whatever the sampler says', () => {
    expect(configOf([]).config?.tracing).to.equal(undefined);
    expect(configOf([], { OTEL_TRACES_SAMPLER: 'always_on' }).config?.tracing).to.equal(undefined);
  });

  it('is on with --otel-endpoint: OTLP/HTTP traces path, parent-based, every new trace, service syncflow', () => {
    expect(configOf(['--otel-endpoint', 'http://collector:4318/']).config?.tracing).to.deep.equal({
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'syncflow',
      ratio: 1,
      parentBased: true,
    });
  });

  it('takes the standard OTEL_* variables, and the flags over them', () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example:4318',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
      OTEL_SERVICE_NAME: 'syncflow-eu',
    };
    expect(configOf([], env).config?.tracing).to.deep.equal({
      endpoint: 'https://otlp.example:4318/v1/traces',
      serviceName: 'syncflow-eu',
      ratio: 0.01,
      parentBased: false,
    });
    expect(
      configOf(
        ['--otel-sampler=parentbased_traceidratio', '--otel-sampling-ratio=0.25', '--otel-service-name=x'],
        env,
      ).config?.tracing,
    ).to.deep.include({ ratio: 0.25, parentBased: true, serviceName: 'x' });
    expect(configOf([], { ...env, OTEL_SDK_DISABLED: 'true' }).config?.tracing).to.equal(undefined);
  });

  it('maps always_on, always_off and their parent-based forms to a ratio of 1 or 0', () => {
    const on = ['--otel-endpoint=http://c:4318'];
    expect(configOf([...on, '--otel-sampler=always_off']).config?.tracing).to.deep.include({
      ratio: 0,
      parentBased: false,
    });
    expect(configOf([...on, '--otel-sampler=parentbased_always_off']).config?.tracing).to.deep.include({
      ratio: 0,
      parentBased: true,
    });
    expect(
      configOf([...on, '--otel-sampler=always_on', '--otel-sampling-ratio=0.5']).config?.tracing,
    ).to.deep.include({
      ratio: 1,
      parentBased: false,
    });
  });

  it('names a bad endpoint, sampler or ratio and the fix', () => {
    const { errors } = configOf([
      '--otel-endpoint=collector:4318',
      '--otel-sampler=sometimes',
      '--otel-sampling-ratio=2',
    ]);
    expect(errors).to.deep.equal([
      '--otel-endpoint collector:4318: must be the http:// or https:// URL of an OTLP/HTTP receiver, such as http://otel-collector:4318',
      '--otel-sampler sometimes: use parentbased_traceidratio, traceidratio, parentbased_always_on, always_on, parentbased_always_off or always_off',
      '--otel-sampling-ratio 2: must be a number from 0 to 1, such as 0.01 for 1% of new traces',
    ]);
  });

  it('documents the tracing flags in --help', () => {
    const usage = serverUsage();
    for (const flag of ['--otel-endpoint', '--otel-sampler', '--otel-sampling-ratio', '--otel-service-name'])
      expect(usage).to.contain(flag);
  });
});
