/** API groups, versions, kinds and well-known names of syncflow resources. */
export const DEFINITIONS_GROUP = 'syncflow.io';
export const EXECUTION_GROUP = 'execution.syncflow.io';
export const VERSION = 'v1alpha1';
export const DEFINITIONS_API_VERSION = `${DEFINITIONS_GROUP}/${VERSION}`;
export const EXECUTION_API_VERSION = `${EXECUTION_GROUP}/${VERSION}`;

/** Label every execution and revision carries, naming its workflow. */
export const WORKFLOW_LABEL = 'syncflow.io/workflow';

/** Annotation of a debug run's execution (DESIGN §9.3), value `"true"`. */
export const DEBUG_ANNOTATION = 'syncflow.io/debug';

/** Defaults and server limits (docs/operations.md, "Limits"). */
export const LIMITS = {
  defaultWorkflowTimeoutMs: 30_000,
  maxWorkflowTimeoutMs: 5 * 60_000,
  defaultTaskTimeoutMs: 5_000,
  defaultMaxConcurrency: 16,
  defaultMaxResponseBytes: 10 * 1024 * 1024,
  maxRequestBytes: 3 * 1024 * 1024,
  maxJsonDepth: 64,
} as const;

/** The names a definition kind is known by, used for CRDs and messages. */
export interface KindNames {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  listKind: string;
}

export const WORKFLOW_NAMES: KindNames = {
  kind: 'Workflow',
  plural: 'workflows',
  singular: 'workflow',
  shortNames: ['wf'],
  listKind: 'WorkflowList',
};

export const WORKFLOW_TASK_NAMES: KindNames = {
  kind: 'WorkflowTask',
  plural: 'workflowtasks',
  singular: 'workflowtask',
  shortNames: ['wft'],
  listKind: 'WorkflowTaskList',
};

export const EXECUTION_NAMES: KindNames = {
  kind: 'WorkflowExecution',
  plural: 'workflowexecutions',
  singular: 'workflowexecution',
  shortNames: ['wfx'],
  listKind: 'WorkflowExecutionList',
};
