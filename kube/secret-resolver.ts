/**
 * Secret values for task templates, read from the execution's own namespace only (the namespace is
 * fixed per resolver, so a workflow can never reach another namespace's Secrets), with a short
 * cache so that the hot path rarely waits for the API server.
 */
import type { KubeConfig } from './config.ts';
import { clientFor, type KubeClient } from './rest/client.ts';
import type { SecretReference, SecretResolver } from '../core/engine/collaborators.ts';
import { TtlCache } from '../core/ttl-cache.ts';
import type { NamespacedSecrets, SecretReader } from '../core/secrets.ts';

/** `SecretReader` over the Kubernetes API. */
export class KubeSecretReader implements SecretReader {
  private readonly client: KubeClient;

  constructor(kubeConfig: KubeConfig) {
    this.client = clientFor(kubeConfig);
  }

  async read(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      const secret = await this.client.get<{ data?: Record<string, string> }>(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      );
      return secret.data ?? {};
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === 404) return undefined;
      // A Secret's answer holds its values: name the status only, never what came back.
      throw new Error(`reading Secret ${namespace}/${name} failed with ${code ?? 'an error'}`);
    }
  }
}

/** Caches Secrets per namespace for `ttlMs` (default 10 s); values never leave this object except to the engine. */
export class CachedSecrets implements NamespacedSecrets {
  /** A Secret's data, boxed so that an absent Secret (`data: undefined`) is cached too. */
  private readonly cache: TtlCache<{ data: Record<string, string> | undefined }>;
  private readonly ttlMs: number;

  constructor(
    private readonly reader: SecretReader,
    options: { ttlMs?: number; now?: () => number; maxEntries?: number } = {},
  ) {
    this.cache = new TtlCache({ maxEntries: options.maxEntries ?? 10_000, now: options.now ?? Date.now });
    this.ttlMs = options.ttlMs ?? 10_000;
  }

  forNamespace(namespace: string): SecretResolver {
    return { resolve: (ref: SecretReference) => this.resolve(namespace, ref) };
  }

  private async resolve(namespace: string, ref: SecretReference): Promise<string | undefined> {
    // The resolver's namespace wins over whatever the reference says.
    const load = async () => ({ data: await this.reader.read(namespace, ref.secretName) });
    const { value: secret } = await this.cache.getOrLoad(
      `${namespace}/${ref.secretName}`,
      load,
      () => this.ttlMs,
    );
    const value = secret.data?.[ref.key];
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  }
}

/** Secrets given directly (the local CLI's `--secret name=value`), keyed by Secret name and key. */
export class StaticSecrets implements NamespacedSecrets {
  constructor(private readonly values: ReadonlyMap<string, string>) {}
  forNamespace(): SecretResolver {
    return {
      resolve: (ref) => this.values.get(`${ref.secretName}/${ref.key}`) ?? this.values.get(ref.secretName),
    };
  }
}
