/**
 * The controller's collaborators over the Kubernetes API: status subresource writes (merge patch),
 * core/v1 Events, and the coordination.k8s.io/v1 Lease of leader election.
 */
import * as k8s from '@kubernetes/client-node';
import { DEFINITIONS_API_VERSION, DEFINITIONS_GROUP, VERSION, WORKFLOW_NAMES, WORKFLOW_TASK_NAMES } from '../../core/model/resources.ts';
import type { WorkflowStatus, WorkflowTaskStatus } from '../../core/model/schema.ts';
import type { LeaseClient, LeaseRecord, StoredLease } from './leader-election.ts';
import type { DefinitionEvent, EventRecorder, StatusWriter } from './status-controller.ts';

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** Writes `status` through the status subresource. */
export class KubeStatusWriter implements StatusWriter {
  private readonly api: k8s.CustomObjectsApi;

  constructor(kubeConfig: k8s.KubeConfig) {
    this.api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  async writeWorkflowStatus(namespace: string, name: string, status: WorkflowStatus): Promise<void> {
    await this.patch(WORKFLOW_NAMES.plural, namespace, name, status);
  }

  async writeTaskStatus(namespace: string, name: string, status: WorkflowTaskStatus): Promise<void> {
    await this.patch(WORKFLOW_TASK_NAMES.plural, namespace, name, status);
  }

  private async patch(plural: string, namespace: string, name: string, status: object): Promise<void> {
    await this.api.patchNamespacedCustomObjectStatus(
      { group: DEFINITIONS_GROUP, version: VERSION, namespace, plural, name, body: { status }, fieldManager: 'syncflow-controller' },
      MERGE_PATCH,
    );
  }
}

/** Records core/v1 Events (shown by `kubectl describe` and `kubectl get events`). */
export class KubeEventRecorder implements EventRecorder {
  private readonly api: k8s.CoreV1Api;

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly instance: string,
  ) {
    this.api = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  async record(event: DefinitionEvent): Promise<void> {
    const now = new Date();
    await this.api.createNamespacedEvent({
      namespace: event.namespace,
      body: {
        metadata: { generateName: `${event.name}.`, namespace: event.namespace },
        involvedObject: {
          apiVersion: DEFINITIONS_API_VERSION,
          kind: event.kind,
          name: event.name,
          namespace: event.namespace,
          ...(event.uid ? { uid: event.uid } : {}),
        },
        type: event.type,
        reason: event.reason,
        // Event messages are capped at 1 KiB by the API server.
        message: event.message.length > 1024 ? `${event.message.slice(0, 1023)}…` : event.message,
        source: { component: 'syncflow-controller' },
        reportingComponent: 'syncflow.io/controller',
        reportingInstance: this.instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}

/** One named Lease. */
export class KubeLeaseClient implements LeaseClient {
  private readonly api: k8s.CoordinationV1Api;

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  }

  async get(): Promise<StoredLease | undefined> {
    try {
      return toStored(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  async create(spec: LeaseRecord): Promise<StoredLease> {
    return toStored(
      await this.api.createNamespacedLease({
        namespace: this.namespace,
        body: { metadata: { name: this.name, namespace: this.namespace }, spec: toSpec(spec) },
      }),
    );
  }

  async replace(spec: LeaseRecord, resourceVersion: string): Promise<StoredLease> {
    return toStored(
      await this.api.replaceNamespacedLease({
        name: this.name,
        namespace: this.namespace,
        body: { metadata: { name: this.name, namespace: this.namespace, resourceVersion }, spec: toSpec(spec) },
      }),
    );
  }
}

function toSpec(record: LeaseRecord): k8s.V1LeaseSpec {
  return {
    holderIdentity: record.holderIdentity ?? '',
    ...(record.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: record.leaseDurationSeconds } : {}),
    ...(record.acquireTime ? { acquireTime: new Date(record.acquireTime) } : {}),
    ...(record.renewTime ? { renewTime: new Date(record.renewTime) } : {}),
    ...(record.leaseTransitions !== undefined ? { leaseTransitions: record.leaseTransitions } : {}),
  } as k8s.V1LeaseSpec;
}

function toStored(lease: k8s.V1Lease): StoredLease {
  const spec = lease.spec ?? {};
  const time = (value: unknown) => (value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : undefined);
  const acquireTime = time(spec.acquireTime);
  const renewTime = time(spec.renewTime);
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    spec: {
      ...(spec.holderIdentity !== undefined ? { holderIdentity: spec.holderIdentity } : {}),
      ...(spec.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: spec.leaseDurationSeconds } : {}),
      ...(acquireTime ? { acquireTime } : {}),
      ...(renewTime ? { renewTime } : {}),
      ...(spec.leaseTransitions !== undefined ? { leaseTransitions: spec.leaseTransitions } : {}),
    },
  };
}
