/**
 * The `workflowrevisions` resource (WorkflowRevision): a read-only, content-addressed snapshot of a Workflow spec and the
 * specs of the WorkflowTasks it referenced when an execution ran. Kept beside the other API documents
 * so that OpenAPI, Table printing and the store all read one definition.
 */
import { Type, type Static } from '@sinclair/typebox';
import { EXECUTION_API_VERSION, WORKFLOW_LABEL } from './resources.ts';
import { WorkflowSpec, WorkflowTaskSpec } from './schema.ts';

/** Names the revision resource is known by (mirrors `EXECUTION_NAMES`). */
export const REVISION_NAMES = {
  kind: 'WorkflowRevision',
  plural: 'workflowrevisions',
  singular: 'workflowrevision',
  shortNames: [] as string[],
  listKind: 'WorkflowRevisionList',
} as const;

/** `sha256:` followed by 64 lowercase hex digits. */
export const REVISION_HASH_PATTERN = '^sha256:[0-9a-f]{64}$';

/** Metadata a revision carries; the server sets all of it. */
const RevisionMeta = Type.Object(
  {
    name: Type.String({ description: 'Name of the revision.' }),
    namespace: Type.String({ description: 'Namespace of the workflow.' }),
    labels: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: `Carries ${WORKFLOW_LABEL}=<workflow name>.`,
      }),
    ),
    creationTimestamp: Type.Optional(Type.String({ format: 'date-time' })),
    resourceVersion: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
  },
  { description: 'Standard object metadata.' },
);

/** The definition snapshot: the workflow spec and every referenced task spec by task name. */
export const RevisionDefinition = Type.Object(
  {
    workflow: WorkflowSpec,
    tasks: Type.Record(Type.String(), WorkflowTaskSpec, {
      description: 'Specs of the WorkflowTasks the workflow referenced, by WorkflowTask name.',
    }),
  },
  { additionalProperties: false, description: 'The workflow and task specs this revision hashes.' },
);

/** A WorkflowRevision object as the API serves it. */
export const WorkflowRevision = Type.Object(
  {
    apiVersion: Type.Literal(EXECUTION_API_VERSION),
    kind: Type.Literal(REVISION_NAMES.kind),
    metadata: RevisionMeta,
    workflow: Type.String({ description: 'Name of the Workflow this revision snapshots.' }),
    hash: Type.String({
      pattern: REVISION_HASH_PATTERN,
      description:
        'sha256 of the workflow spec and its task specs; executions record it in status.workflowRevision.',
    }),
    definition: RevisionDefinition,
  },
  { additionalProperties: false, description: 'Immutable snapshot of a Workflow and its WorkflowTasks.' },
);

export type WorkflowRevision = Static<typeof WorkflowRevision>;
export type RevisionDefinition = Static<typeof RevisionDefinition>;
