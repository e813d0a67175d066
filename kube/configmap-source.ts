/** {@link ConfigMapSource} for the authentication ConfigMap on @kubernetes/client-node 1.x (get + watch). */
import { CoreV1Api, Watch, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { errorFields, SILENT_LOGGER, type Logger } from '../core/logger.ts';

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
  readonly #kubeConfig: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #logger: Logger;
  readonly #rewatchDelayMs: number;

  constructor(options: KubernetesConfigMapSourceOptions) {
    this.#kubeConfig = options.kubeConfig;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#namespace = options.namespace ?? AUTHENTICATION_CONFIGMAP.namespace;
    this.#name = options.name ?? AUTHENTICATION_CONFIGMAP.name;
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.#rewatchDelayMs = options.rewatchDelayMs ?? 1000;
  }

  async get(): Promise<Record<string, string> | undefined> {
    try {
      const configMap = await this.#core.readNamespacedConfigMap({
        name: this.#name,
        namespace: this.#namespace,
      });
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
    const watch = new Watch(this.#kubeConfig);
    let stopped = false;
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    let delay = this.#rewatchDelayMs;
    const start = (): void => {
      if (stopped) return;
      let sawEvent = false;
      watch
        .watch(
          `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/configmaps`,
          { fieldSelector: `metadata.name=${this.#name}` },
          (phase: string, object: V1ConfigMap) => {
            sawEvent = true;
            if (phase === 'ADDED' || phase === 'MODIFIED') onChange(object.data ?? {});
            else if (phase === 'DELETED') onChange(undefined);
          },
          (error: unknown) => {
            if (stopped) return;
            if (error)
              this.#logger.debug(errorFields(error), 'authentication ConfigMap watch closed; re-watching');
            delay = sawEvent ? this.#rewatchDelayMs : Math.min(delay * 2, 30_000);
            timer = setTimeout(start, delay);
            timer.unref();
          },
        )
        .then(
          (abort) => {
            controller = abort;
            if (stopped) abort.abort();
          },
          (error: unknown) => {
            if (stopped) return;
            this.#logger.debug(errorFields(error), 'authentication ConfigMap watch failed; retrying');
            delay = Math.min(delay * 2, 30_000);
            timer = setTimeout(start, delay);
            timer.unref();
          },
        );
    };
    start();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
    };
  }
}
