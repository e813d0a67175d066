/** The Kubernetes client configuration, loaded once by the server command and passed to every adapter. */
import { loadInClusterConfig, loadKubeConfigFile, type RestConfig } from './rest/config.ts';

/** What every adapter is built from: kube-apiserver's address, TLS trust and the server's credentials. */
export type KubeConfig = RestConfig;

/** Loads a kubeconfig file, or the in-cluster service account when `path` is empty. */
export async function loadKubeConfig(path: string): Promise<KubeConfig> {
  return path ? await loadKubeConfigFile(path) : loadInClusterConfig();
}
