/**
 * Runs a recorded WorkflowRevision (`spec.workflowRevision`): the stored snapshot — the workflow
 * spec and the specs of the tasks it referenced — compiled as the informers' definitions are, so
 * that an execution can be re-run exactly as it ran, whatever the workflow has become since.
 * Revisions never change, so each is read and compiled once (a bounded, most-recently-used cache).
 */
import { DefinitionCatalog } from '../../core/definitions/catalog.ts';
import type { CompiledWorkflow, RevisionSnapshot } from '../../core/definitions/compile.ts';
import { SyncflowError } from '../../core/errors.ts';
import type { ExecutionStore } from '../../history/store.ts';

const FIELD = 'spec.workflowRevision';

/** Compiled revisions kept; a revision beyond them is read again when asked for. */
const CACHED_REVISIONS = 64;

/** Finds and compiles recorded revisions. */
export class RevisionWorkflows {
  private readonly cache = new Map<string, CompiledWorkflow>();

  constructor(private readonly store: Pick<ExecutionStore, 'getRevision'>) {}

  /**
   * The revision `name` of workflow `workflowName`, compiled: 404 when no such revision is recorded,
   * 422 when it is a revision of another workflow (both naming spec.workflowRevision).
   */
  async workflow(namespace: string, workflowName: string, name: string): Promise<CompiledWorkflow> {
    const key = `${namespace}/${name}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return this.ofWorkflow(cached, workflowName, name);
    }
    const record = await this.store.getRevision(namespace, name);
    if (!record)
      throw new SyncflowError(
        'NotFound',
        `workflowrevisions.execution.syncflow.io "${name}" not found in namespace ${namespace}`,
        {
          causes: [
            {
              code: 'FieldInvalid',
              field: FIELD,
              message: `no revision ${name} is recorded`,
              suggestion: `kubectl get workflowrevisions -n ${namespace} -l syncflow.io/workflow=${workflowName} lists the recorded ones`,
            },
          ],
        },
      );
    const compiled = compileSnapshot(namespace, record.workflowName, record.definition as RevisionSnapshot);
    if (!compiled)
      throw invalid(
        `revision ${name} no longer compiles on this server`,
        'run the current definition instead',
      );
    this.cache.set(key, compiled);
    if (this.cache.size > CACHED_REVISIONS) this.cache.delete(this.cache.keys().next().value as string);
    return this.ofWorkflow(compiled, workflowName, name);
  }

  private ofWorkflow(compiled: CompiledWorkflow, workflowName: string, name: string): CompiledWorkflow {
    if (compiled.name !== workflowName)
      throw invalid(
        `${name} is a revision of workflow ${compiled.name}, not of ${workflowName}`,
        `name a revision of ${workflowName}, or set spec.workflowRef.name to ${compiled.name}`,
      );
    return compiled;
  }
}

function invalid(message: string, suggestion: string): SyncflowError {
  return new SyncflowError('FieldInvalid', `invalid WorkflowExecution: ${FIELD}: ${message}`, {
    causes: [{ code: 'FieldInvalid', field: FIELD, message, suggestion }],
  });
}

/** The snapshot compiled like the definitions the informers deliver; undefined when it does not compile. */
function compileSnapshot(
  namespace: string,
  workflowName: string,
  snapshot: RevisionSnapshot,
): CompiledWorkflow | undefined {
  const catalog = new DefinitionCatalog();
  for (const [name, spec] of Object.entries(snapshot.tasks ?? {}))
    catalog.upsert({ kind: 'WorkflowTask', metadata: { name, namespace, resourceVersion: '1' }, spec });
  catalog.upsert({
    kind: 'Workflow',
    metadata: { name: workflowName, namespace, resourceVersion: '1' },
    spec: snapshot.workflow,
  });
  const found = catalog.lookup(namespace, workflowName);
  return found.kind === 'ready' ? found.workflow : undefined;
}
