/**
 * The admission collaborators over the Kubernetes API: live reads of definitions and the key names
 * of Secrets (values are read by the client but dropped here, never kept or logged).
 */
import type { KubeConfig } from './config.ts';
import { clientFor, type KubeClient } from './rest/client.ts';
import { DEFINITIONS_GROUP, VERSION, WORKFLOW_NAMES, WORKFLOW_TASK_NAMES } from '../core/model/resources.ts';
import type { LiveDefinitions, StoredDefinition } from '../admission/definitions.ts';
import type { SecretDirectory } from '../admission/secrets.ts';
import type { SecretReader } from '../core/secrets.ts';

function collection(namespace: string, plural: string): string {
  return `/apis/${DEFINITIONS_GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

/** Definitions read straight from kube-apiserver. */
export class KubeLiveDefinitions implements LiveDefinitions {
  private readonly client: KubeClient;

  constructor(kubeConfig: KubeConfig) {
    this.client = clientFor(kubeConfig);
  }

  async getTask(namespace: string, name: string): Promise<StoredDefinition | undefined> {
    try {
      const object = await this.client.get<StoredDefinition>(
        `${collection(namespace, WORKFLOW_TASK_NAMES.plural)}/${encodeURIComponent(name)}`,
      );
      return { ...object, kind: 'WorkflowTask' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async listWorkflows(namespace: string): Promise<StoredDefinition[]> {
    const list = await this.client.list<StoredDefinition>(collection(namespace, WORKFLOW_NAMES.plural));
    return (list.items ?? []).map((item) => ({ ...item, kind: 'Workflow' }));
  }
}

/** Secret key names from kube-apiserver. */
export class KubeSecretDirectory implements SecretDirectory {
  /** Reads through the server's Secret reader (one Kubernetes client for both uses). */
  constructor(private readonly reader: SecretReader) {}

  async keysOf(namespace: string, name: string): Promise<readonly string[] | undefined> {
    const data = await this.reader.read(namespace, name);
    return data === undefined ? undefined : Object.keys(data);
  }
}
