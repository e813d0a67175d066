/**
 * Feeds the definition catalog from the cluster: one list+watch informer per definition kind
 * (Workflow, WorkflowTask), restarted after errors. The catalog is "synced" once both listed.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../core/logger.ts';
import { DEFINITIONS_GROUP, VERSION, WORKFLOW_NAMES, WORKFLOW_TASK_NAMES } from '../core/model/resources.ts';
import type { DefinitionCatalog, DefinitionObject } from '../core/definitions/catalog.ts';

/** The part of the one {@link Logger} the informers call. */
export type InformerLogger = Pick<Logger, 'info' | 'warn'>;

/** Running informers: whether both kinds have listed, and a way to stop. */
export interface DefinitionInformers {
  synced(): boolean;
  /** Resolves once both kinds have been listed. */
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the Workflow and WorkflowTask informers into the catalog. */
export async function startDefinitionInformers(
  kubeConfig: k8s.KubeConfig,
  catalog: DefinitionCatalog,
  logger: InformerLogger,
  options: { restartDelayMs?: number } = {},
): Promise<DefinitionInformers> {
  const api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const synced = new Set<string>();
  let resolveSync: () => void = () => {};
  const syncedPromise = new Promise<void>((resolve) => (resolveSync = resolve));
  const informers: Array<k8s.Informer<k8s.KubernetesObject>> = [];
  let stopped = false;

  for (const names of [WORKFLOW_NAMES, WORKFLOW_TASK_NAMES]) {
    const kind = names.kind as 'Workflow' | 'WorkflowTask';
    const path = `/apis/${DEFINITIONS_GROUP}/${VERSION}/${names.plural}`;
    const list = async () => {
      const result = (await api.listClusterCustomObject({
        group: DEFINITIONS_GROUP,
        version: VERSION,
        plural: names.plural,
      })) as k8s.KubernetesListObject<k8s.KubernetesObject>;
      // A re-list replaces everything, so objects deleted while disconnected disappear.
      catalog.replaceAll(
        kind,
        (result.items ?? []).map((o) => ({ ...(o as DefinitionObject), kind })),
      );
      if (!synced.has(kind)) {
        synced.add(kind);
        logger.info({ kind, count: result.items?.length ?? 0 }, 'definitions listed');
        if (synced.size === 2) resolveSync();
      }
      return result;
    };
    const informer = k8s.makeInformer(kubeConfig, path, list);
    const upsert = (o: k8s.KubernetesObject) => catalog.upsert({ ...(o as DefinitionObject), kind });
    informer.on(k8s.ADD, upsert);
    informer.on(k8s.UPDATE, upsert);
    informer.on(k8s.DELETE, (o) => catalog.remove({ ...(o as DefinitionObject), kind }));
    informer.on(k8s.ERROR, (error: unknown) => {
      if (stopped) return;
      logger.warn(
        { kind, err: String((error as Error)?.message ?? error) },
        'definition informer failed; restarting',
      );
      setTimeout(() => {
        if (!stopped) informer.start().catch(() => undefined);
      }, options.restartDelayMs ?? 2_000).unref();
    });
    informers.push(informer);
    informer
      .start()
      .catch((error: unknown) =>
        logger.warn({ kind, err: String(error) }, 'definition informer did not start; retrying'),
      );
  }
  return {
    synced: () => synced.size === 2,
    waitForSync: () => syncedPromise,
    async stop() {
      stopped = true;
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
