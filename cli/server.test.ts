/**
 * `syncflow server --workers N` as a process: a worker that cannot start must exit (so that its
 * primary replaces it, and gives up when they keep failing) rather than live on, idle, held by its
 * channel to the primary — which left a pod Running and never Ready.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from '../bench/api/pki.ts';

const BIN = new URL('../bin/syncflow.js', import.meta.url).pathname;

describe('syncflow server --workers', function () {
  // Each worker loads the server through tsx: seconds each on a loaded 2-core machine.
  this.timeout(240_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncflow-server-cli-'));
    await selfSignedCertificate(dir, '127.0.0.1', 'tls');
    // A cluster that refuses connections: every worker's start-up fails.
    await writeFile(
      join(dir, 'kubeconfig'),
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
        'contexts: [{name: c, context: {cluster: c, user: u}}]',
        'users: [{name: u, user: {token: t}}]',
        'current-context: c',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits non-zero when its workers cannot start, after replacing them a few times', async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'server',
        '--workers=2',
        '--secure-port=1',
        '--bind-address=127.0.0.1',
        `--tls-cert-file=${join(dir, 'tls.crt')}`,
        `--tls-private-key-file=${join(dir, 'tls.key')}`,
        `--kubeconfig=${join(dir, 'kubeconfig')}`,
        '--database-url=postgres://127.0.0.1:1/none',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 200_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code, `still running; output:\n${output.slice(-3000)}`).to.equal(1);
    expect(output).to.contain('a worker exited; starting another');
    expect(output).to.contain('workers keep exiting; stopping the server');
    expect(output).to.contain('cannot read ConfigMap kube-system/extension-apiserver-authentication');
  });
});
