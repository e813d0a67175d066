/**
 * Workflow templates (the YAML files of the repository's templates/ folder): parsed and checked for
 * the fields a template must have, and filled in by replacing `${placeholder}` in every string.
 * Pure, so the builder, the library page and the tests that run every template share it.
 */
import { parse } from 'yaml';
import type { Workflow, WorkflowTask } from '../api/types.ts';

/** The families the library groups templates in. */
export const FAMILIES = ['api-composition', 'data-processing', 'real-time', 'integrations'] as const;
/** How much a template asks of its reader. */
export const DIFFICULTIES = ['beginner', 'intermediate', 'advanced'] as const;

/** A value the user supplies before using a template, written `${name}` in it. */
export interface Placeholder {
  name: string;
  description: string;
  example: string;
}

/** One template: what it is for, what to fill in, the WorkflowTasks it needs and the Workflow. */
export interface WorkflowTemplate {
  /** The file name without `.yaml`. */
  name: string;
  title: string;
  family: (typeof FAMILIES)[number];
  difficulty: (typeof DIFFICULTIES)[number];
  description: string;
  tags: string[];
  placeholders: Placeholder[];
  /** Secrets (same namespace) the tasks read, with the key they use. */
  secrets: Array<{ name: string; key: string; description?: string }>;
  /** An input the workflow accepts: the library's dry-run and the end-to-end test run it. */
  sampleInput: unknown;
  tasks: WorkflowTask[];
  workflow: Workflow;
  /** The file's text, for the library's preview. */
  source: string;
}

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9_-]*)\}/g;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a template file; `errors` names each missing or malformed field. */
export function parseWorkflowTemplate(
  name: string,
  text: string,
): { template: WorkflowTemplate | undefined; errors: string[] } {
  const errors: string[] = [];
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    return { template: undefined, errors: [`not YAML: ${(error as Error).message}`] };
  }
  if (!isObject(doc)) return { template: undefined, errors: ['a template is a YAML mapping'] };
  const text_ = (field: string) => {
    if (typeof doc[field] !== 'string' || doc[field] === '')
      errors.push(`${field}: a non-empty string is required`);
  };
  text_('title');
  text_('description');
  if (!FAMILIES.includes(doc.family as never)) errors.push(`family: one of ${FAMILIES.join(', ')}`);
  if (!DIFFICULTIES.includes(doc.difficulty as never))
    errors.push(`difficulty: one of ${DIFFICULTIES.join(', ')}`);
  const placeholders = Array.isArray(doc.placeholders) ? doc.placeholders : [];
  placeholders.forEach((p: unknown, i) => {
    if (!isObject(p) || typeof p.name !== 'string' || typeof p.example !== 'string')
      errors.push(`placeholders[${i}]: name, description and example (strings) are required`);
  });
  if (!Array.isArray(doc.tasks)) errors.push('tasks: a list of WorkflowTask documents is required');
  else
    doc.tasks.forEach((t: unknown, i) => {
      if (!isObject(t) || t.kind !== 'WorkflowTask')
        errors.push(`tasks[${i}]: kind WorkflowTask is required`);
    });
  if (!isObject(doc.workflow) || doc.workflow.kind !== 'Workflow')
    errors.push('workflow: a Workflow document is required');
  if (errors.length) return { template: undefined, errors };
  return {
    template: {
      name,
      title: doc.title as string,
      family: doc.family as WorkflowTemplate['family'],
      difficulty: doc.difficulty as WorkflowTemplate['difficulty'],
      description: doc.description as string,
      tags: Array.isArray(doc.tags) ? doc.tags.map(String) : [],
      placeholders: placeholders as Placeholder[],
      secrets: Array.isArray(doc.secrets) ? (doc.secrets as WorkflowTemplate['secrets']) : [],
      sampleInput: doc.sampleInput ?? {},
      tasks: doc.tasks as WorkflowTask[],
      workflow: doc.workflow as Workflow,
      source: text,
    },
    errors,
  };
}

function walkStrings(value: unknown, visit: (s: string) => string): unknown {
  if (typeof value === 'string') return visit(value);
  if (Array.isArray(value)) return value.map((v) => walkStrings(v, visit));
  if (isObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walkStrings(v, visit)]));
  return value;
}

/** The placeholder names a template's tasks and workflow use. */
export function placeholdersUsed(template: Pick<WorkflowTemplate, 'tasks' | 'workflow'>): Set<string> {
  const used = new Set<string>();
  walkStrings([template.tasks, template.workflow], (s) => {
    for (const m of s.matchAll(PLACEHOLDER)) used.add(m[1] as string);
    return s;
  });
  return used;
}

/** Each placeholder's example value. */
export function exampleValues(template: WorkflowTemplate): Record<string, string> {
  return Object.fromEntries(template.placeholders.map((p) => [p.name, p.example]));
}

/** The template's tasks and workflow with every `${placeholder}` that has a value replaced. */
export function fillTemplate(
  template: Pick<WorkflowTemplate, 'tasks' | 'workflow'>,
  values: Record<string, string>,
): { tasks: WorkflowTask[]; workflow: Workflow } {
  const fill = (s: string) => s.replace(PLACEHOLDER, (whole, key: string) => values[key] ?? whole);
  return {
    tasks: walkStrings(template.tasks, fill) as WorkflowTask[],
    workflow: walkStrings(template.workflow, fill) as Workflow,
  };
}
