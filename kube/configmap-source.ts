/** {@link ConfigMapSource} for the authentication ConfigMap on the server's REST client (get + watch). */
import { errorFields, SILENT_LOGGER, type Logger } from '../core/logger.ts';
import type { KubeConfig } from './config.ts';
import { clientFor, type KubeClient } from './rest/client.ts';

interface ConfigMap {
  data?: Record<string, string>;
}

/** Namespace and name of the ConfigMap kube-apiserver maintains for extension API servers. */
export const AUTHENTICATION_CONFIGMAP = {
  namespace: 'kube-system',
  name: 'extension-apiserver-authentication',
} as const;

/** The ConfigMap's data, read and watched through a narrow interface (Kubernetes or a fake). */
export interface ConfigMapSource {
  /** The current `data`, or undefined when the ConfigMap does not exist. */
  get(): Promise<Record<string, string> | undefined>;
  /** Calls `onChange` with the new `data` (undefined on deletion) until the returned stop function runs. */
  watch(onChange: (data: Record<string, string> | undefined) => void): () => void;
}

/** Options of {@link KubernetesConfigMapSource}. */
export interface KubernetesConfigMapSourceOptions {
  kubeConfig: KubeConfig;
  namespace?: string;
  name?: string;
  logger?: Logger;
  /** Delay before re-establishing a closed watch; doubles up to 30 s while failing. Default 1 s. */
  rewatchDelayMs?: number;
}

/** Reads and watches one ConfigMap (by default kube-system/extension-apiserver-authentication). */
export class KubernetesConfigMapSource implements ConfigMapSource {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #name: string;
  readonly #logger: Logger;
  readonly #rewatchDelayMs: number;

  constructor(options: KubernetesConfigMapSourceOptions) {
    this.#client = clientFor(options.kubeConfig);
    this.#namespace = options.namespace ?? AUTHENTICATION_CONFIGMAP.namespace;
    this.#name = options.name ?? AUTHENTICATION_CONFIGMAP.name;
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.#rewatchDelayMs = options.rewatchDelayMs ?? 1000;
  }

  async get(): Promise<Record<string, string> | undefined> {
    try {
      const configMap = await this.#client.get<ConfigMap>(
        `${this.#collection()}/${encodeURIComponent(this.#name)}`,
      );
      return configMap.data ?? {};
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 404) return undefined;
      throw new Error(
        typeof code === 'number'
          ? `reading the ConfigMap failed with HTTP ${code}`
          : (error as Error).message,
      );
    }
  }

  watch(onChange: (data: Record<string, string> | undefined) => void): () => void {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let delay = this.#rewatchDelayMs;
    const start = (): void => {
      if (controller.signal.aborted) return;
      let sawEvent = false;
      const again = (error?: unknown): void => {
        if (controller.signal.aborted) return;
        if (error !== undefined)
          this.#logger.debug(errorFields(error), 'authentication ConfigMap watch failed; re-watching');
        delay = sawEvent ? this.#rewatchDelayMs : Math.min(delay * 2, 30_000);
        timer = setTimeout(start, delay);
        timer.unref();
      };
      this.#client
        .watch<ConfigMap>(
          this.#collection(),
          { fieldSelector: `metadata.name=${this.#name}` },
          ({ type, object }) => {
            sawEvent = true;
            if (type === 'ADDED' || type === 'MODIFIED') onChange(object.data ?? {});
            else if (type === 'DELETED') onChange(undefined);
          },
          { signal: controller.signal },
        )
        .then(() => again(), again);
    };
    start();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }

  #collection(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/configmaps`;
  }
}
