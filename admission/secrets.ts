/**
 * Checks that the Secrets a workflow's tasks read exist in its namespace and hold the keys named.
 * Sees key names only, never values. A Secret that cannot be read (API error, RBAC) is a warning:
 * the execution reports it precisely if it is really missing.
 */
import type { SecretBinding } from '../core/definitions/compile.ts';
import type { FieldError } from '../core/errors.ts';
import { TtlCache } from '../core/ttl-cache.ts';

/** What a Secret check can see. */
export interface SecretDirectory {
  /** The Secret's key names, or undefined when it does not exist in the namespace. */
  keysOf(namespace: string, name: string): Promise<readonly string[] | undefined>;
}

/** A task (by name) with the secrets it binds, and the field that references it. */
export interface SecretReader {
  index: number;
  task: { name: string; secrets: readonly SecretBinding[] };
}

/** Errors for missing Secrets or keys (one per task and Secret), warnings for Secrets not checkable. */
export async function checkSecrets(
  directory: SecretDirectory,
  namespace: string,
  readers: readonly SecretReader[],
): Promise<{ errors: FieldError[]; warnings: string[] }> {
  const lookups = new Map<string, Promise<{ keys: readonly string[] | undefined } | { failure: string }>>();
  const lookup = (secretName: string) => {
    let found = lookups.get(secretName);
    if (!found) {
      found = directory.keysOf(namespace, secretName).then(
        (keys) => ({ keys }),
        (error: unknown) => ({ failure: (error as Error)?.message ?? String(error) }),
      );
      lookups.set(secretName, found);
    }
    return found;
  };
  // Start every lookup at once: a workflow's tasks may read many Secrets, each a round trip.
  for (const { task } of readers) for (const binding of task.secrets) void lookup(binding.secretName);
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const reported = new Set<string>();
  for (const { index, task } of readers) {
    for (const binding of task.secrets) {
      const key = `${task.name}/${binding.secretName}/${binding.key}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const result = await lookup(binding.secretName);
      const field = `spec.tasks[${index}].taskRef.name`;
      if ('failure' in result) {
        warnings.push(
          `${field}: could not check Secret ${binding.secretName} of WorkflowTask ${task.name}: ${result.failure}`,
        );
      } else if (result.keys === undefined) {
        errors.push({
          code: 'UnknownSecret',
          field,
          message: `WorkflowTask \`${task.name}\` reads Secret \`${binding.secretName}\`, which does not exist in namespace ${namespace}`,
          suggestion: `create it first: kubectl -n ${namespace} create secret generic ${binding.secretName} --from-literal=${binding.key}=...`,
        });
      } else if (!result.keys.includes(binding.key)) {
        errors.push({
          code: 'UnknownSecret',
          field,
          message: `WorkflowTask \`${task.name}\` reads key \`${binding.key}\` of Secret \`${binding.secretName}\`, which has no such key`,
          suggestion: result.keys.length
            ? `its keys are: ${result.keys.join(', ')}`
            : 'the Secret has no keys',
        });
      }
    }
  }
  return { errors, warnings };
}

/**
 * Remembers Secrets found (for `ttlMs`, default 10 s), so re-applying a workflow does not read them
 * all again. Absence is never remembered: `kubectl create secret` followed at once by `kubectl apply`
 * of the Workflow must see the new Secret.
 */
export class CachedSecretDirectory implements SecretDirectory {
  private readonly found: TtlCache<readonly string[] | undefined>;
  private readonly ttlMs: number;

  constructor(
    private readonly directory: SecretDirectory,
    options: { ttlMs?: number; now?: () => number; maxEntries?: number } = {},
  ) {
    this.found = new TtlCache({ maxEntries: options.maxEntries ?? 10_000, now: options.now ?? Date.now });
    this.ttlMs = options.ttlMs ?? 10_000;
  }

  async keysOf(namespace: string, name: string): Promise<readonly string[] | undefined> {
    const load = () => this.directory.keysOf(namespace, name);
    // A TTL of 0 stores nothing: absence is never remembered.
    const { value } = await this.found.getOrLoad(`${namespace}/${name}`, load, (keys) =>
      keys ? this.ttlMs : 0,
    );
    return value;
  }
}
