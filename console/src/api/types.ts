/** The shapes of the resources the console shows (the fields it reads). */
import type { WorkflowDocument, WorkflowTaskDocument } from '../../../core/model/schema.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  managedFields?: unknown;
  generateName?: string;
}

export interface List<T> {
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export type Workflow = WorkflowDocument & {
  metadata: ObjectMeta;
  status?: {
    observedGeneration?: number;
    revision?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    parallelGroups?: string[][];
  };
};

export type WorkflowTask = WorkflowTaskDocument & { metadata: ObjectMeta };

export interface TaskStatus {
  id: string;
  taskRef?: string;
  phase: string;
  startTime?: string;
  completionTime?: string;
  durationMs?: number;
  waitMs?: number;
  attempts?: number;
  httpStatus?: number;
  output?: unknown;
  error?: { reason?: string; message?: string };
  /** The input after templates (secrets redacted, bounded). */
  input?: unknown;
  /** The request resolved before the first attempt (secrets redacted, bounded). */
  request?: {
    method: string;
    url: string;
    headers?: Record<string, string>;
    body?: unknown;
    truncated?: boolean;
    bytes?: number;
  };
  substituted?: boolean;
  cached?: boolean;
  hedged?: boolean;
  /** Map steps: the element count and how many failed. */
  itemCount?: number;
  failedItems?: number;
}

export interface ExecutionPlan {
  order?: string[];
  parallelGroups?: string[][];
  tasks?: Array<{ id: string; taskRef?: string; dependsOn?: string[]; input?: unknown; when?: string }>;
  estimatedDurationMs?: number;
}

export interface Execution {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: { workflowRef: { name: string }; input?: unknown };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    output?: unknown;
    workflowRevision?: string;
    startTime?: string;
    completionTime?: string;
    durationMs?: number;
    user?: string;
    tasks?: TaskStatus[];
    plan?: ExecutionPlan;
  };
}

export type { WorkflowRevision as Revision } from '../../../core/model/revision.ts';

export const WORKFLOW_LABEL = 'syncflow.io/workflow';
