/**
 * For e2e suites that put a stand-in extension server where the APIService points (on control planes
 * from hack/cp-up.sh: an ExternalName Service to localhost:<SYNCFLOW_SERVER_PORT>).
 */
import { connect } from 'node:net';
import type { ControlPlane } from './controlplane.ts';

/** True when something accepts TCP connections on 127.0.0.1:port (e.g. a real syncflow server). */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true)).once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** Any change to the Service makes the aggregator re-check the backend now rather than at resync. */
export async function pokeApiServiceBackend(cp: ControlPlane): Promise<void> {
  await cp.kubectl.ok([
    'annotate',
    '--overwrite',
    'service',
    'syncflow',
    '-n',
    'syncflow-system',
    `e2e/poke=${Date.now()}`,
  ]);
}

/** Polls the APIService's Available condition once a second until it is True; returns the last status seen. */
export async function waitForApiServiceAvailable(
  cp: ControlPlane,
  seconds: number,
): Promise<string | undefined> {
  let status: string | undefined;
  for (let attempt = 0; attempt < seconds && status !== 'True'; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    const view = await cp.kubectl.json<{ status?: { conditions?: { type: string; status: string }[] } }>([
      'get',
      'apiservice',
      'v1alpha1.execution.syncflow.io',
    ]);
    status = view.status?.conditions?.find((c) => c.type === 'Available')?.status;
  }
  return status;
}

/** The discovery document a stand-in serves at /apis/execution.syncflow.io/v1alpha1. */
export function stubDiscovery(verbs: string[]): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'execution.syncflow.io/v1alpha1',
    resources: [
      {
        name: 'workflowexecutions',
        singularName: 'workflowexecution',
        namespaced: true,
        kind: 'WorkflowExecution',
        verbs,
      },
    ],
  };
}
