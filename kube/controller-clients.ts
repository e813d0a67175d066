/**
 * The controller's collaborators over the Kubernetes API: status subresource writes (merge patch),
 * core/v1 Events, and the coordination.k8s.io/v1 Lease of leader election.
 */
import type { KubeConfig } from './config.ts';
import { clientFor, type KubeClient } from './rest/client.ts';
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

/** Writes `status` through the status subresource. */
export class KubeStatusWriter implements StatusWriter {
  private readonly client: KubeClient;

  constructor(kubeConfig: KubeConfig) {
    this.client = clientFor(kubeConfig);
  }

  async writeWorkflowStatus(namespace: string, name: string, status: WorkflowStatus): Promise<void> {
    await this.patch(WORKFLOW_NAMES.plural, namespace, name, status);
  }

  async writeTaskStatus(namespace: string, name: string, status: WorkflowTaskStatus): Promise<void> {
    await this.patch(WORKFLOW_TASK_NAMES.plural, namespace, name, status);
  }

  private async patch(plural: string, namespace: string, name: string, status: object): Promise<void> {
    await this.client.mergePatch(
      `/apis/${DEFINITIONS_GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}/status`,
      { status },
      { query: { fieldManager: 'syncflow-controller' } },
    );
  }
}

/** Records core/v1 Events (shown by `kubectl describe` and `kubectl get events`). */
export class KubeEventRecorder implements EventRecorder {
  private readonly client: KubeClient;

  constructor(
    kubeConfig: KubeConfig,
    private readonly instance: string,
  ) {
    this.client = clientFor(kubeConfig);
  }

  async record(event: DefinitionEvent): Promise<void> {
    const now = new Date().toISOString();
    await this.client.create(`/api/v1/namespaces/${encodeURIComponent(event.namespace)}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
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
    });
  }
}

/**
 * One named Lease, written as plain JSON: MicroTime must carry exactly six fractional digits, which
 * kube-apiserver requires ({@link microTime}).
 */
export class KubeLeaseClient implements LeaseClient {
  private readonly client: KubeClient;
  private readonly namespace: string;
  private readonly collection: string;

  constructor(
    kubeConfig: KubeConfig,
    namespace: string,
    private readonly name: string,
  ) {
    this.client = clientFor(kubeConfig);
    this.namespace = namespace;
    this.collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  }

  async get(): Promise<StoredLease | undefined> {
    try {
      return toStored(
        await this.client.get<LeaseObject>(`${this.collection}/${encodeURIComponent(this.name)}`),
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
      metadata: { name: this.name, namespace: this.namespace },
      spec: toSpec(spec),
    };
    return toStored(await this.client.create<LeaseObject>(this.collection, body));
  }

  async replace(spec: LeaseRecord, resourceVersion: string): Promise<StoredLease> {
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, resourceVersion },
      spec: toSpec(spec),
    };
    return toStored(
      await this.client.replace<LeaseObject>(`${this.collection}/${encodeURIComponent(this.name)}`, body),
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
