/**
 * Runs a workflow from an application with the typed client and prints the outcome.
 *
 *   npx tsx examples/client/run-workflow.ts [namespace] [workflow] [input-json]
 *   npx tsx examples/client/run-workflow.ts default user-profile '{"userId":"42","withOrders":true}'
 *
 * Uses the kubeconfig from KUBECONFIG (or ~/.kube/config), as kubectl does; the examples must be
 * applied in the namespace (`kubectl apply -f examples/`) and the syncflow server running.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { SyncflowApiError, SyncflowClient } from '../../client/index.ts';

/** The output of examples/user-profile.yaml. */
interface Profile {
  email: string;
  name: string;
  orders?: Array<{ id: string; total: number }>;
  recommendations?: string[];
}

async function main(): Promise<number> {
  const [namespace = 'default', workflow = 'user-profile', inputJson = '{"userId":"42","withOrders":true}'] =
    process.argv.slice(2);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const client = new SyncflowClient(kubeConfig, { timeoutMs: 30_000 });
  try {
    const execution = await client.execute<Profile>(namespace, workflow, JSON.parse(inputJson), {
      labels: { app: 'run-workflow-example' },
    });
    const { phase, durationMs, output, reason, message } = execution.status;
    console.log(`${namespace}/${execution.metadata.name}: ${phase} in ${durationMs} ms`);
    if (phase === 'Succeeded') {
      console.log(JSON.stringify(output, null, 2));
      return 0;
    }
    // A failed workflow is a recorded result: the failing tasks say why.
    console.log(`${reason}: ${message}`);
    for (const task of execution.status.tasks ?? []) {
      if (task.phase === 'Failed')
        console.log(
          `  task ${task.id}: ${task.error?.reason} ${task.error?.message} (HTTP ${task.httpStatus ?? '-'})`,
        );
    }
    return 1;
  } catch (error) {
    if (error instanceof SyncflowApiError) {
      // The server refused: bad input (422, with field paths), unknown workflow (404), RBAC (403), ...
      console.error(`${error.code} ${error.reason}: ${error.message}`);
      for (const cause of error.causes) console.error(`  ${cause.field}: ${cause.message}`);
      return 2;
    }
    throw error;
  } finally {
    client.close();
  }
}

process.exitCode = await main();
