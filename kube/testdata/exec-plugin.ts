/**
 * A fake client-go credential plugin for the kube/rest tests. Run as its own process (the
 * `users[].user.exec` entry {@link fakeExecPlugin} builds: this node, tsx, this file), it appends
 * a line per run to a file (so tests count runs, concurrent ones too), can save the
 * KUBERNETES_EXEC_INFO it was given, and prints an ExecCredential: a token `token-<run>`, a client
 * certificate, output that is not JSON, or it fails with secrets on stdout and stderr.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);

/** How the fake answers. */
export interface FakePluginOptions {
  /** Gets one line per run. */
  runsFile: string;
  apiVersion?: string;
  /** What it prints: `token` (default), `cert`, `garbage`, or `fail` (exit code 3). */
  mode?: 'token' | 'cert' | 'garbage' | 'fail';
  /** The status.expirationTimestamp it prints. */
  expires?: string;
  /** Where it saves KUBERNETES_EXEC_INFO. */
  infoFile?: string;
  /** PEM printed in `cert` mode. */
  cert?: string;
  key?: string;
  /** More fields of the exec entry (interactiveMode, provideClusterInfo, installHint, ...). */
  extra?: Record<string, unknown>;
}

/** The `users[].user.exec` entry that runs this fake. */
export function fakeExecPlugin(options: FakePluginOptions): Record<string, unknown> {
  const env: Record<string, string | undefined> = {
    FAKE_PLUGIN_RUNS: options.runsFile,
    FAKE_PLUGIN_MODE: options.mode ?? 'token',
    FAKE_PLUGIN_EXPIRES: options.expires,
    FAKE_PLUGIN_INFO: options.infoFile,
    FAKE_PLUGIN_CERT: options.cert,
    FAKE_PLUGIN_KEY: options.key,
  };
  const apiVersion = options.apiVersion ?? 'client.authentication.k8s.io/v1';
  return {
    apiVersion,
    command: process.execPath,
    args: ['--import', 'tsx/esm', SCRIPT],
    env: Object.entries(env).flatMap(([name, value]) => (value === undefined ? [] : [{ name, value }])),
    ...(apiVersion.endsWith('/v1') ? { interactiveMode: 'Never' } : {}),
    ...options.extra,
  };
}

/** How many times the fake has run. */
export function pluginRuns(runsFile: string): number {
  return existsSync(runsFile) ? readFileSync(runsFile, 'utf8').split('\n').length - 1 : 0;
}

function main(env: NodeJS.ProcessEnv): void {
  const runsFile = env.FAKE_PLUGIN_RUNS ?? '';
  appendFileSync(runsFile, 'run\n');
  const run = pluginRuns(runsFile);
  if (env.FAKE_PLUGIN_INFO) writeFileSync(env.FAKE_PLUGIN_INFO, env.KUBERNETES_EXEC_INFO ?? '');
  const apiVersion = JSON.parse(env.KUBERNETES_EXEC_INFO ?? '{}').apiVersion as string;
  const status: Record<string, string> = {};
  switch (env.FAKE_PLUGIN_MODE) {
    case 'fail':
      process.stdout.write('{"status":{"token":"leaked-stdout-token"}}');
      process.stderr.write('error: leaked-stderr-token\n');
      process.exit(3);
      break;
    case 'garbage':
      process.stdout.write('token: leaked-garbage-token\n');
      return;
    case 'cert':
      status.clientCertificateData = env.FAKE_PLUGIN_CERT ?? '';
      status.clientKeyData = env.FAKE_PLUGIN_KEY ?? '';
      break;
    default:
      status.token = `token-${run}`;
  }
  if (env.FAKE_PLUGIN_EXPIRES) status.expirationTimestamp = env.FAKE_PLUGIN_EXPIRES;
  process.stdout.write(JSON.stringify({ apiVersion, kind: 'ExecCredential', status }));
}

if (process.argv[1] === SCRIPT) main(process.env);
