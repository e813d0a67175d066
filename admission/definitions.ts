/**
 * The definitions admission decides against: the informers' view (fast, the usual case) completed by
 * reads straight from the API server for what the informers may not have seen yet — a task created a
 * moment ago by the previous document of the same `kubectl apply`, or a Workflow that references a
 * task about to be deleted.
 */
import type { WorkflowDocument, WorkflowTaskDocument } from '../core/model/schema.ts';
import { validateTask, type TaskSet } from '../core/validation/validate.ts';

/** A definition object as stored by the API server. */
export interface StoredDefinition {
  kind?: string;
  metadata: { name?: string; namespace?: string; resourceVersion?: string; generation?: number };
  spec?: unknown;
}

/** The informers' view (`DefinitionCatalog` satisfies it). */
export interface CachedDefinitions {
  /** The tasks of a namespace, optionally with one replaced (`object`) or removed (`null`). */
  taskResolver(namespace: string, override?: { name: string; object: StoredDefinition | null }): TaskSet;
  /** Workflows of a namespace that reference the task. */
  dependentsOf(namespace: string, taskName: string): StoredDefinition[];
  /** Called with the namespace whenever its definitions change; enables reusing a namespace's resolver. */
  onChange?(listener: (namespace: string) => void): () => void;
}

/** Reads from the API server itself, for objects the informers may not have delivered yet. */
export interface LiveDefinitions {
  /** The task, or undefined when it does not exist. */
  getTask(namespace: string, name: string): Promise<StoredDefinition | undefined>;
  listWorkflows(namespace: string): Promise<StoredDefinition[]>;
}

/** Outcome of listing dependents: the workflows, and a warning when only the cache could be read. */
export interface Dependents {
  workflows: StoredDefinition[];
  warning?: string;
}

/** The task names a workflow spec references (tolerates any shape: admission never throws on input). */
export function referencedTaskNames(spec: unknown): string[] {
  const steps = (spec as { tasks?: unknown } | undefined)?.tasks;
  if (!Array.isArray(steps)) return [];
  const names = new Set<string>();
  for (const step of steps) {
    const name = (step as { taskRef?: { name?: unknown } } | null)?.taskRef?.name;
    if (typeof name === 'string' && name) names.add(name);
  }
  return [...names];
}

/** The validator's view of a stored object: its identity and spec, without server fields. */
export function asDocument(
  kind: 'Workflow',
  object: StoredDefinition,
  namespace: string,
  name?: string,
): WorkflowDocument;
export function asDocument(
  kind: 'WorkflowTask',
  object: StoredDefinition,
  namespace: string,
  name?: string,
): WorkflowTaskDocument;
export function asDocument(
  kind: 'Workflow' | 'WorkflowTask',
  object: StoredDefinition,
  namespace: string,
  name?: string,
): WorkflowDocument | WorkflowTaskDocument {
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind,
    metadata: { name: object.metadata?.name || name || '', namespace },
    spec: object.spec,
  } as WorkflowDocument | WorkflowTaskDocument;
}

/** Cached definitions, made current by live reads where a decision depends on it. */
export class FreshDefinitions {
  /** The resolver of each namespace, reused until the catalog reports a change there (read-only). */
  private readonly resolvers = new Map<string, TaskSet>();

  constructor(
    private readonly cached: CachedDefinitions,
    private readonly live?: LiveDefinitions,
  ) {
    cached.onChange?.((namespace) => this.resolvers.delete(namespace));
  }

  private resolver(namespace: string): TaskSet {
    if (!this.cached.onChange) return this.cached.taskResolver(namespace);
    let resolver = this.resolvers.get(namespace);
    if (!resolver) {
      if (this.resolvers.size >= 10_000) this.resolvers.clear();
      resolver = this.cached.taskResolver(namespace);
      this.resolvers.set(namespace, resolver);
    }
    return resolver;
  }

  /**
   * The namespace's tasks as a resolver, with `override` applied; any of `needed` the cache does not
   * know is read from the API server (a missing one stays missing: TaskNotFound).
   */
  async tasksFor(
    namespace: string,
    needed: readonly string[],
    override?: { name: string; object: StoredDefinition | null },
  ): Promise<TaskSet> {
    if (!override) {
      const shared = this.resolver(namespace);
      const absent = needed.filter((name) => shared.get(name) === undefined);
      // The usual case: everything is known, and validation only reads the resolver.
      if (absent.length === 0 || !this.live) return shared;
    }
    const tasks = this.cached.taskResolver(namespace, override);
    if (!this.live) return tasks;
    const missing = needed.filter((name) => name !== override?.name && tasks.get(name) === undefined);
    const found = await Promise.all(missing.map((name) => this.live?.getTask(namespace, name)));
    found.forEach((object, i) => {
      const name = missing[i] as string;
      if (object)
        tasks.set(name, validateTask(asDocument('WorkflowTask', object, namespace, name)).task ?? null);
    });
    return tasks;
  }

  /** Workflows that reference the task: from the API server's list, or the cache's when listing fails. */
  async dependentsOf(namespace: string, taskName: string): Promise<Dependents> {
    const cached = byName(this.cached.dependentsOf(namespace, taskName));
    if (!this.live) return { workflows: cached };
    let listed: StoredDefinition[];
    try {
      listed = await this.live.listWorkflows(namespace);
    } catch (error) {
      return {
        workflows: cached,
        warning: `could not list Workflows of namespace ${namespace} (${(error as Error)?.message ?? String(error)}); checked the server's cached view only`,
      };
    }
    // A workflow deleted a moment ago may still be cached; the live list is the authority when it answered.
    return {
      workflows: byName(listed.filter((workflow) => referencedTaskNames(workflow.spec).includes(taskName))),
    };
  }
}

function byName(objects: StoredDefinition[]): StoredDefinition[] {
  return [...objects].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}
