/** Test helper: the server's configuration from a client-node KubeConfig (what the harness hands out). */
import type { KubeConfig } from '@kubernetes/client-node';
import { fromKubeConfigDocument, type RestConfig } from '../rest/config.ts';

/** The same cluster, user and namespace as `config`'s current context. */
export function restConfigOf(config: KubeConfig): RestConfig {
  return fromKubeConfigDocument(JSON.parse(config.exportConfig()), { path: 'client-node' });
}
