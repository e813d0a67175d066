/** The Kubernetes client configuration, loaded once by the server command and passed to every adapter. */
import { KubeConfig } from '@kubernetes/client-node';

export type { KubeConfig };

/** Loads a kubeconfig file, or the in-cluster service account when `path` is empty. */
export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}
