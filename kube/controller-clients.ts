/**
 * The controller's collaborators over the Kubernetes API: status subresource writes (merge patch),
 * core/v1 Events, and the coordination.k8s.io/v1 Lease of leader election.
 */
import * as k8s from '@kubernetes/client-node';
import {
  DEFINITIONS_API_VERSION,
  DEFINITIONS_GROUP,
  VERSION,
  WORKFLOW_NAMES,
  WORKFLOW_TASK_NAMES,
} from '../core/model/resources.ts';
import type { WorkflowStatus, WorkflowTaskStatus } from '../core/model/schema.ts';
import type { LeaseClient, LeaseRecord, StoredLease } from '../controller/leader-election.ts';
import type { DefinitionEvent, EventRecorder, StatusWriter } from '../controller/status-controller.ts';

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
      {
        group: DEFINITIONS_GROUP,
        version: VERSION,
        namespace,
        plural,
        name,
        body: { status },
        fieldManager: 'syncflow-controller',
      },
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

/**
 * One named Lease. Written as plain JSON through the generic custom-objects client: the typed client
 * serialises MicroTime with milliseconds, which kube-apiserver rejects (it wants microseconds).
 */
export class KubeLeaseClient implements LeaseClient {
  private readonly api: k8s.CustomObjectsApi;
  private readonly path: { group: string; version: string; plural: string; namespace: string };

  constructor(
    kubeConfig: k8s.KubeConfig,
    namespace: string,
    private readonly name: string,
  ) {
    this.api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.path = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace };
  }

  async get(): Promise<StoredLease | undefined> {
    try {
      return toStored(
        (await this.api.getNamespacedCustomObject({ ...this.path, name: this.name })) as LeaseObject,
      );
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  async create(spec: LeaseRecord): Promise<StoredLease> {
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.path.namespace },
      spec: toSpec(spec),
    };
    return toStored((await this.api.createNamespacedCustomObject({ ...this.path, body })) as LeaseObject);
  }

  async replace(spec: LeaseRecord, resourceVersion: string): Promise<StoredLease> {
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.path.namespace, resourceVersion },
      spec: toSpec(spec),
    };
    return toStored(
      (await this.api.replaceNamespacedCustomObject({ ...this.path, name: this.name, body })) as LeaseObject,
    );
  }
}

interface LeaseObject {
  metadata?: { resourceVersion?: string };
  spec?: LeaseRecord;
}

function toSpec(record: LeaseRecord): LeaseRecord {
  return {
    holderIdentity: record.holderIdentity ?? '',
    ...(record.leaseDurationSeconds !== undefined
      ? { leaseDurationSeconds: record.leaseDurationSeconds }
      : {}),
    ...(record.acquireTime ? { acquireTime: microTime(record.acquireTime) } : {}),
    ...(record.renewTime ? { renewTime: microTime(record.renewTime) } : {}),
    ...(record.leaseTransitions !== undefined ? { leaseTransitions: record.leaseTransitions } : {}),
  };
}

function toStored(lease: LeaseObject): StoredLease {
  return { resourceVersion: lease.metadata?.resourceVersion ?? '', spec: lease.spec ?? {} };
}

/** MicroTime as kube-apiserver requires it: RFC 3339 with exactly six fractional digits. */
export function microTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
