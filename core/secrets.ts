/**
 * Secret access shared by the wings: the admission webhook checks that referenced Secrets exist,
 * the execution service resolves them for tasks. Kubernetes implements the reader (kube/); tests
 * and `syncflow run` use in-memory ones.
 */
import type { SecretResolver } from './engine/collaborators.ts';

/** Reads one Secret's data (base64 values), `undefined` when it does not exist. */
export interface SecretReader {
  read(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

/** Resolves secrets of one namespace only. */
export interface NamespacedSecrets {
  forNamespace(namespace: string): SecretResolver;
}
