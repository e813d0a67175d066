// syncflow's validating webhooks (hack/controlplane/webhooks.yaml) installed for one namespace of a
// suite: the namespace gets a label unique to the caller and the configuration selects only it, so
// suites sharing the control plane are not affected.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot, type ControlPlane } from './controlplane.ts';

const SELECTOR_KEY = 'syncflow.io/e2e-webhooks';

/**
 * Installs the webhooks for `namespace` and waits (up to 60 s) until kube-apiserver calls them (its
 * configuration informer lags); resolves with a function that removes them.
 */
export async function installWebhooks(cp: ControlPlane, namespace: string): Promise<() => Promise<void>> {
  const run = `${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  const name = `syncflow-e2e-${run}`;
  const s = cp.settings;
  const ca = readFileSync(join(dirname(s.tlsCertFile as string), 'syncflow-ca.crt')).toString('base64');
  const configuration = readFileSync(join(repoRoot, 'hack/controlplane/webhooks.yaml'), 'utf8')
    .replaceAll('${NAME}', name)
    .replaceAll('${PORT}', String(s.serverPort))
    .replaceAll('${CA_BUNDLE}', ca)
    .replaceAll('${SELECTOR_KEY}', SELECTOR_KEY)
    .replaceAll('${SELECTOR_VALUE}', run);
  await cp.kubectl.ok(['label', 'namespace', namespace, `${SELECTOR_KEY}=${run}`, '--overwrite']);
  await cp.kubectl.ok(['apply', '-f', '-'], { stdin: configuration });
  const probe = JSON.stringify({
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: 'webhook-probe', namespace },
    spec: { tasks: [{ id: 'a', taskRef: { name: 'no-such-task' } }] },
  });
  let last = '';
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const result = await cp.kubectl.run(['apply', '--dry-run=server', '-f', '-'], { stdin: probe });
    last = `${result.code} ${result.stdout} ${result.stderr}`.trim();
    if (result.code !== 0 && result.stderr.includes('TaskNotFound'))
      return async () => {
        await cp.kubectl.run(['delete', 'validatingwebhookconfiguration', name, '--ignore-not-found']);
      };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the webhooks were never called (last kubectl answer: ${last})`);
}
