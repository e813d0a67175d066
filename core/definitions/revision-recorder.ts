/**
 * Records each workflow revision (the compiled workflow's snapshot and hash) once per process: the
 * execution service records the revision an execution ran, the status controller the revision a
 * Workflow became Ready at, through one recorder so both write the same snapshot and skip the same
 * repeats. The store makes the write idempotent across replicas.
 */
import type { CompiledWorkflow, RevisionSnapshot } from './compile.ts';

/** A revision to store if it is not stored yet. */
export interface NewRevision {
  namespace: string;
  workflowName: string;
  hash: string;
  definition: RevisionSnapshot;
}

/** Where revisions are stored (the history store). */
export interface RevisionSink {
  recordRevision(revision: NewRevision): Promise<unknown>;
}

/** Records the revision of a compiled workflow the first time this process sees it. */
export class RevisionRecorder {
  private readonly recorded = new Set<string>();

  constructor(private readonly sink: RevisionSink) {}

  /** Stores the workflow's revision unless already recorded; after a failure the next call tries again. */
  async record(
    workflow: Pick<CompiledWorkflow, 'name' | 'namespace' | 'revision' | 'revisionSnapshot'>,
  ): Promise<void> {
    const key = `${workflow.namespace}/${workflow.name}/${workflow.revision}`;
    if (this.recorded.has(key)) return;
    this.recorded.add(key);
    try {
      await this.sink.recordRevision({
        namespace: workflow.namespace,
        workflowName: workflow.name,
        hash: workflow.revision,
        definition: workflow.revisionSnapshot,
      });
    } catch (error) {
      this.recorded.delete(key);
      throw error;
    }
  }
}
