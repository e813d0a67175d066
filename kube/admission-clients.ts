/**
 * The admission collaborators over the Kubernetes API: live reads of definitions and the key names
 * of Secrets (values are read by the client but dropped here, never kept or logged).
 */
import * as k8s from '@kubernetes/client-node';
import { DEFINITIONS_GROUP, VERSION, WORKFLOW_NAMES, WORKFLOW_TASK_NAMES } from '../core/model/resources.ts';
import type { LiveDefinitions, StoredDefinition } from '../admission/definitions.ts';
import type { SecretDirectory } from '../admission/secrets.ts';
import type { SecretReader } from '../core/secrets.ts';

function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

/** Definitions read straight from kube-apiserver. */
export class KubeLiveDefinitions implements LiveDefinitions {
  private readonly api: k8s.CustomObjectsApi;

  constructor(kubeConfig: k8s.KubeConfig) {
    this.api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  async getTask(namespace: string, name: string): Promise<StoredDefinition | undefined> {
    try {
      const object = (await this.api.getNamespacedCustomObject({
        group: DEFINITIONS_GROUP,
        version: VERSION,
        namespace,
        plural: WORKFLOW_TASK_NAMES.plural,
        name,
      })) as StoredDefinition;
      return { ...object, kind: 'WorkflowTask' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async listWorkflows(namespace: string): Promise<StoredDefinition[]> {
    const list = (await this.api.listNamespacedCustomObject({
      group: DEFINITIONS_GROUP,
      version: VERSION,
      namespace,
      plural: WORKFLOW_NAMES.plural,
    })) as { items?: StoredDefinition[] };
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
