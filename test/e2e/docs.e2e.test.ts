// docs/install.md, run as written: every shell block preceded by `<!-- doctest: NAME -->` is executed
// by bash from the repository root, on this machine. `local` is the "Try it here" flow (its own
// control plane from hack/cp-up.sh, the server as a local process, a first execution); `install-dev`
// is the development install (kustomize overlay + hack/gen-certs.sh) on a throwaway control plane.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ControlPlane } from '../harness/controlplane.ts';
import { repoRoot } from '../harness/syncflow-server.ts';

/** The shell blocks of a Markdown file marked `<!-- doctest: NAME -->`, by name. */
export function doctestBlocks(markdown: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of markdown.matchAll(/<!-- doctest: ([a-z0-9-]+) -->\s*\n```sh\n([\s\S]*?)\n```/g)) {
    if (match[1] !== undefined && match[2] !== undefined) blocks.set(match[1], match[2]);
  }
  return blocks;
}

interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script with bash in its own process group, and kills whatever it left running. */
function runScript(script: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      cwd: repoRoot,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const timer = setTimeout(killGroup, timeoutMs);
    child.on('error', reject);
    // Background jobs of the script (the server, the demo upstream) keep its pipes open: once bash
    // itself has exited, end them so that 'close' follows.
    child.on('exit', killGroup);
    child.on('close', (code) => {
      clearTimeout(timer);
      process.off('exit', killGroup);
      resolve({ code, stdout, stderr });
    });
    process.once('exit', killGroup);
  });
}

/** The environment without a control plane of the caller's (the block brings its own). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SYNCFLOW_') && key !== 'KUBECONFIG') env[key] = value;
  }
  if (process.env.SYNCFLOW_CACHE !== undefined) env.SYNCFLOW_CACHE = process.env.SYNCFLOW_CACHE;
  return { ...env, ...extra };
}

describe('docs/install.md, run as written', function () {
  this.timeout(10 * 60_000);
  const blocks = doctestBlocks(readFileSync(join(repoRoot, 'docs/install.md'), 'utf8'));

  it('marks the runnable blocks', () => {
    expect([...blocks.keys()]).to.include.members(['local', 'install-dev']);
  });

  it('"Try it here" reaches a first successful execution', async () => {
    const block = blocks.get('local') ?? '';
    // `npm ci` is the test command's first step already; running it again would replace the
    // node_modules that other processes of this run are using.
    const commands = block
      .split('\n')
      .filter((line) => !/^npm ci\b/.test(line))
      .join('\n');
    expect(commands).to.contain('hack/cp-up.sh');
    const script = [
      'set -euo pipefail',
      `trap 'if [[ -n "\${dir:-}" ]]; then hack/cp-down.sh "$dir" >/dev/null 2>&1; fi' EXIT`,
      commands,
    ].join('\n');
    const result = await runScript(script, cleanEnv(), 8 * 60_000);
    expect(result.code, `${result.stdout}\n${result.stderr.slice(-4000)}`).to.equal(0);
    expect(result.stdout).to.match(/phase: Succeeded/);
    expect(result.stdout).to.contain('email: user42@example.com');
    expect(result.stdout).to.match(/^user-profile-\S+\s+user-profile\s+Succeeded/m);
  });

  it('the development install (kustomize overlay + hack/gen-certs.sh) runs on a fresh control plane', async () => {
    // Its own control plane: the overlay replaces the APIService and Service that the shared one
    // routes to the local test server.
    const cp = await ControlPlane.start();
    try {
      // Like a fresh cluster: without cp-up.sh's ExternalName Service standing in for the local server.
      await cp.kubectl.ok(['-n', 'syncflow-system', 'delete', 'service', 'syncflow']);
      const path = `${dirname(cp.settings.kubectl)}:${process.env.PATH ?? ''}`;
      const script = ['set -euo pipefail', blocks.get('install-dev') ?? 'false'].join('\n');
      const result = await runScript(
        script,
        cleanEnv({ KUBECONFIG: cp.settings.kubeconfig, PATH: path }),
        3 * 60_000,
      );
      expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
      // The Secret's CA and the APIService's caBundle are the same CA.
      expect(result.stdout).to.contain('service/syncflow serverside-applied');
      const subjects = result.stdout.split('\n').filter((line) => line.startsWith('subject='));
      expect(subjects).to.deep.equal(['subject=CN = syncflow-ca', 'subject=CN = syncflow-ca']);
      const webhooks = await cp.kubectl.json<{ webhooks: Array<{ clientConfig: { caBundle?: string } }> }>([
        'get',
        'validatingwebhookconfiguration',
        'syncflow',
      ]);
      const apiService = await cp.kubectl.json<{ spec: { caBundle: string } }>([
        'get',
        'apiservice',
        'v1alpha1.execution.syncflow.io',
      ]);
      expect(webhooks.webhooks).to.have.length(2);
      for (const w of webhooks.webhooks) expect(w.clientConfig.caBundle).to.equal(apiService.spec.caBundle);
      // The serving certificate is for the Service's name and verifies against that CA.
      const secret = await cp.kubectl.json<{ data: Record<string, string> }>([
        '-n',
        'syncflow-system',
        'get',
        'secret',
        'syncflow-serving-cert',
      ]);
      expect(Object.keys(secret.data).sort()).to.deep.equal(['ca.crt', 'tls.crt', 'tls.key']);
      expect(secret.data['ca.crt']).to.equal(apiService.spec.caBundle);
      const { X509Certificate } = await import('node:crypto');
      const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'] ?? '', 'base64'));
      const ca = new X509Certificate(Buffer.from(secret.data['ca.crt'] ?? '', 'base64'));
      expect(cert.subjectAltName).to.contain('DNS:syncflow.syncflow-system.svc');
      expect(cert.verify(ca.publicKey)).to.equal(true);
      // Running it again (a renewal) replaces the certificate and keeps everything consistent.
      const again = await runScript(
        'set -euo pipefail\nhack/gen-certs.sh',
        cleanEnv({ KUBECONFIG: cp.settings.kubeconfig, PATH: path }),
        60_000,
      );
      expect(again.code, again.stderr).to.equal(0);
      const renewed = await cp.kubectl.json<{ spec: { caBundle: string } }>([
        'get',
        'apiservice',
        'v1alpha1.execution.syncflow.io',
      ]);
      expect(renewed.spec.caBundle).not.to.equal(apiService.spec.caBundle);
    } finally {
      await cp.stop();
    }
  });
});
