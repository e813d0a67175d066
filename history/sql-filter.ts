/**
 * Translates parsed selectors and time ranges into SQL conditions with bound parameters. Values never
 * enter the SQL text; only column names chosen here do.
 */
import { WORKFLOW_LABEL } from '../core/model/resources.ts';
import type { FieldSelector, LabelSelector, SelectableField } from './selector.ts';

/** Collects bound parameters and hands out their placeholders. */
export class SqlParameters {
  readonly values: unknown[] = [];

  /** Adds a value and returns its placeholder (`$n`). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Column expressions a selector is evaluated against. */
export interface SelectorColumns {
  /** jsonb expression of the labels. */
  labels: string;
  /** Column holding the workflow name: equality on `syncflow.io/workflow` uses it (and its index). */
  workflowName: string;
}

/** SQL conditions for every requirement of a label selector (Kubernetes semantics). */
export function labelSelectorConditions(
  selector: LabelSelector,
  params: SqlParameters,
  columns: SelectorColumns,
): string[] {
  return selector.map((r) => {
    const value = () => `(${columns.labels} ->> ${params.add(r.key)}::text)`;
    const isWorkflow = r.key === WORKFLOW_LABEL;
    switch (r.operator) {
      case 'exists':
        return `${columns.labels} ? ${params.add(r.key)}::text`;
      case 'notexists':
        return `NOT (${columns.labels} ? ${params.add(r.key)}::text)`;
      case 'eq':
        return isWorkflow
          ? `${columns.workflowName} = ${params.add(r.values[0])}::text`
          : `${value()} = ${params.add(r.values[0])}::text`;
      case 'neq':
        return `${value()} IS DISTINCT FROM ${params.add(r.values[0])}::text`;
      case 'in':
        return isWorkflow
          ? `${columns.workflowName} = ANY(${params.add(r.values)}::text[])`
          : `${value()} = ANY(${params.add(r.values)}::text[])`;
      case 'notin':
        return `NOT coalesce(${value()} = ANY(${params.add(r.values)}::text[]), false)`;
    }
  });
}

const FIELD_COLUMNS = {
  'metadata.name': 'name',
  'metadata.namespace': 'namespace',
  'spec.workflowRef.name': 'workflow_name',
  'status.phase': 'phase',
} as const satisfies Record<SelectableField, string>;

/** SQL conditions for a field selector over the executions table. */
export function fieldSelectorConditions(
  selector: FieldSelector,
  params: SqlParameters,
  tableAlias: string,
): string[] {
  return selector.map(
    (r) =>
      `${tableAlias}.${FIELD_COLUMNS[r.field]} ${r.operator === 'eq' ? '=' : '<>'} ${params.add(r.value)}`,
  );
}
