/**
 * Deploying what the builder made, with the person's own identity: each WorkflowTask it needs, then
 * the Workflow, each first sent with `?dryRun=All` (admission runs, nothing is stored) and only then
 * created or replaced, so a refusal (a webhook's message, a missing permission) arrives before any
 * change.
 */
import { ApiError, paths } from '../api/client.ts';
import type { Workflow, WorkflowTask } from '../api/types.ts';

/** The calls deploying needs (KubeClient has them). */
export interface DefinitionsApi {
  get<T>(path: string): Promise<T>;
  create<T>(path: string, body: unknown, query?: Record<string, string>): Promise<T>;
  replace<T>(path: string, body: unknown, query?: Record<string, string>): Promise<T>;
}

/** What happened to one object. */
export interface DeployedObject {
  kind: 'Workflow' | 'WorkflowTask';
  name: string;
  action: 'created' | 'updated' | 'unchanged';
}

/** A refused deploy: which object, at which stage, and the API's answer. */
export class DeployError extends Error {
  constructor(
    readonly object: string,
    readonly stage: 'dry-run' | 'apply' | 'read',
    readonly cause: Error,
  ) {
    super(`${object} (${stage}): ${cause.message}`);
    this.name = 'DeployError';
  }
}

type Definition = Workflow | WorkflowTask;

/**
 * Runs an API call again when the server sheds load (429, or 503 "overloaded", both with
 * Retry-After semantics): up to `attempts` times, waiting `waitMs` (the server's own hint is 1 s)
 * between tries. Other failures are returned at once.
 */
export async function retryWhenOverloaded<T>(
  call: () => Promise<T>,
  options: { attempts?: number; waitMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const shed = error instanceof ApiError && (error.code === 429 || error.code === 503);
      if (!shed || attempt >= attempts) throw error;
      await sleep(options.waitMs ?? 1_000);
    }
  }
}

function locations(ns: string, object: Definition): { collection: string; item: string } {
  const name = object.metadata.name;
  return object.kind === 'Workflow'
    ? { collection: paths.workflows(ns), item: paths.workflow(ns, name) }
    : { collection: paths.tasks(ns), item: paths.task(ns, name) };
}

async function existing(api: DefinitionsApi, path: string): Promise<Definition | undefined> {
  try {
    return await api.get<Definition>(path);
  } catch (error) {
    if (error instanceof ApiError && error.code === 404) return undefined;
    throw error;
  }
}

/** Deploys the tasks (in order) and then the workflow into `ns`; stops at the first refusal. */
export async function deployDefinitions(
  api: DefinitionsApi,
  ns: string,
  objects: readonly Definition[],
): Promise<DeployedObject[]> {
  const done: DeployedObject[] = [];
  const ordered = [
    ...objects.filter((o) => o.kind !== 'Workflow'),
    ...objects.filter((o) => o.kind === 'Workflow'),
  ];
  for (const object of ordered) {
    const label = `${object.kind}/${object.metadata.name}`;
    const { collection, item } = locations(ns, object);
    const before = await retryWhenOverloaded(() => existing(api, item)).catch((error: Error) => {
      throw new DeployError(label, 'read', error);
    });
    if (before && JSON.stringify(before.spec) === JSON.stringify(object.spec)) {
      done.push({ kind: object.kind, name: object.metadata.name, action: 'unchanged' });
      continue;
    }
    const body = {
      ...object,
      metadata: {
        ...object.metadata,
        namespace: ns,
        ...(before?.metadata.resourceVersion ? { resourceVersion: before.metadata.resourceVersion } : {}),
      },
    };
    const send = (query?: Record<string, string>) =>
      before ? api.replace(item, body, query) : api.create(collection, body, query);
    await retryWhenOverloaded(() => send({ dryRun: 'All' })).catch((error: Error) => {
      throw new DeployError(label, 'dry-run', error);
    });
    await retryWhenOverloaded(() => send()).catch((error: Error) => {
      throw new DeployError(label, 'apply', error);
    });
    done.push({ kind: object.kind, name: object.metadata.name, action: before ? 'updated' : 'created' });
  }
  return done;
}
