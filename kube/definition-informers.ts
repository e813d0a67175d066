/**
 * Feeds the definition catalog from the cluster: one list+watch per definition kind (Workflow,
 * WorkflowTask), resumed from its resourceVersion, re-listed on 410 Gone and retried with back-off
 * after errors (kube/rest/informer.ts). The catalog is "synced" once both kinds listed.
 */
import type { Logger } from '../core/logger.ts';
import { DEFINITIONS_GROUP, VERSION, WORKFLOW_NAMES, WORKFLOW_TASK_NAMES } from '../core/model/resources.ts';
import type { DefinitionCatalog, DefinitionObject } from '../core/definitions/catalog.ts';
import type { KubeConfig } from './config.ts';
import { clientFor } from './rest/client.ts';
import { startListWatch, type ListWatch } from './rest/informer.ts';

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
  kubeConfig: KubeConfig,
  catalog: DefinitionCatalog,
  logger: InformerLogger,
  options: { restartDelayMs?: number } = {},
): Promise<DefinitionInformers> {
  const client = clientFor(kubeConfig);
  const synced = new Set<string>();
  let resolveSync: () => void = () => {};
  const syncedPromise = new Promise<void>((resolve) => (resolveSync = resolve));
  const watches: ListWatch[] = [];

  for (const names of [WORKFLOW_NAMES, WORKFLOW_TASK_NAMES]) {
    const kind = names.kind as 'Workflow' | 'WorkflowTask';
    const withKind = (o: DefinitionObject): DefinitionObject => ({ ...o, kind });
    watches.push(
      startListWatch<DefinitionObject>({
        client,
        path: `/apis/${DEFINITIONS_GROUP}/${VERSION}/${names.plural}`,
        backoffMs: options.restartDelayMs ?? 2_000,
        onList(items) {
          // A re-list replaces everything, so objects deleted while disconnected disappear.
          catalog.replaceAll(kind, items.map(withKind));
          if (!synced.has(kind)) {
            synced.add(kind);
            logger.info({ kind, count: items.length }, 'definitions listed');
            if (synced.size === 2) resolveSync();
          }
        },
        onEvent(type, object) {
          if (type === 'DELETED') catalog.remove(withKind(object));
          else catalog.upsert(withKind(object));
        },
        onError(error) {
          logger.warn(
            { kind, err: String((error as Error)?.message ?? error) },
            'definition informer failed; retrying',
          );
        },
      }),
    );
  }
  return {
    synced: () => synced.size === 2,
    waitForSync: () => syncedPromise,
    async stop() {
      await Promise.all(watches.map((w) => w.stop()));
    },
  };
}
