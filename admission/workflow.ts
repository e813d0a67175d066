/**
 * Workflow CREATE/UPDATE: the shared validator against the live tasks of the namespace, plus the
 * checks only a cluster can make (the tasks exist, their current schemas fit, the Secrets they read
 * exist). Non-fatal findings become warnings. Reads only: dry runs and real requests are alike.
 */
import type { CompiledTask, TaskResolver } from '../core/definitions/compile.ts';
import { formatDuration } from '../core/duration.ts';
import type { FieldError } from '../core/errors.ts';
import { validateWorkflow } from '../core/validation/validate.ts';
import { asDocument, referencedTaskNames, type FreshDefinitions } from './definitions.ts';
import {
  allow,
  deny,
  describeCause,
  writeSubject,
  type AdmissionDecision,
  type AdmissionRequest,
} from './review.ts';
import { checkSecrets, type SecretDirectory } from './secrets.ts';

/** What Workflow admission reads. */
export interface WorkflowAdmissionOptions {
  definitions: FreshDefinitions;
  /** Checks that the Secrets the referenced tasks read exist; no check without it. */
  secrets?: SecretDirectory;
}

/** Decides Workflow admission requests. */
export class WorkflowAdmission {
  constructor(private readonly options: WorkflowAdmissionOptions) {}

  async review(request: AdmissionRequest): Promise<AdmissionDecision> {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow();
    const checked = writeSubject(request, 'Workflow');
    if ('allowed' in checked) return checked;
    const { object, name, subject } = checked;
    const needed = referencedTaskNames(object.spec);
    const tasks = await this.options.definitions.tasksFor(request.namespace, needed);
    const doc = asDocument('Workflow', object, request.namespace, name);
    const result = validateWorkflow(doc, tasks);
    const errors = [...result.errors, ...invalidTaskErrors(object.spec, tasks)];
    const warnings: string[] = [];
    if (this.options.secrets) {
      const secrets = await checkSecrets(
        this.options.secrets,
        request.namespace,
        stepsWithTasks(object.spec, tasks),
      );
      errors.push(...secrets.errors);
      warnings.push(...secrets.warnings);
    }
    if (result.workflow)
      warnings.push(...deadlineWarnings(result.workflow.timeoutMs, stepsWithTasks(object.spec, tasks)));
    if (errors.length === 0) return allow(warnings);
    const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
    return deny(
      {
        code: errors.some((e) => e.code !== 'TaskNotFound')
          ? (errors[0]?.code ?? 'FieldInvalid')
          : 'TaskNotFound',
        message: `${subject} is invalid (${count}):\n${errors.map((e) => `- ${describeCause(e)}`).join('\n')}`,
        causes: errors,
        kind: 'Workflow',
        name,
      },
      warnings,
    );
  }
}

/** One step with the task it resolved to. */
export interface ResolvedStep {
  index: number;
  id: string;
  task: CompiledTask;
}

/** The steps whose task exists and compiles, in spec order. */
export function stepsWithTasks(spec: unknown, tasks: TaskResolver): ResolvedStep[] {
  const steps = (spec as { tasks?: unknown } | undefined)?.tasks;
  if (!Array.isArray(steps)) return [];
  const resolved: ResolvedStep[] = [];
  steps.forEach((step: { id?: unknown; taskRef?: { name?: unknown } } | null, index) => {
    const name = step?.taskRef?.name;
    const task = typeof name === 'string' ? tasks.get(name) : undefined;
    if (task) resolved.push({ index, id: typeof step?.id === 'string' ? step.id : String(index), task });
  });
  return resolved;
}

/** Steps whose task exists but is itself invalid (admitted while the webhook was down, say). */
function invalidTaskErrors(spec: unknown, tasks: TaskResolver): FieldError[] {
  const steps = (spec as { tasks?: unknown } | undefined)?.tasks;
  if (!Array.isArray(steps)) return [];
  const errors: FieldError[] = [];
  steps.forEach((step: { taskRef?: { name?: unknown } } | null, index) => {
    const name = step?.taskRef?.name;
    if (typeof name === 'string' && tasks.get(name) === null) {
      errors.push({
        code: 'FieldInvalid',
        field: `spec.tasks[${index}].taskRef.name`,
        message: `WorkflowTask \`${name}\` exists but is invalid`,
        suggestion: `run \`syncflow validate\` on it and apply the fixed task first`,
      });
    }
  });
  return errors;
}

/** Warns where a task's attempts cannot all fit in the workflow deadline (retries are cut short). */
function deadlineWarnings(workflowTimeoutMs: number, steps: readonly ResolvedStep[]): string[] {
  const warnings: string[] = [];
  for (const { index, task } of steps) {
    const attempts = task.retry.maxAttempts;
    const worst = attempts * task.timeoutMs;
    if (attempts > 1 && worst > workflowTimeoutMs) {
      warnings.push(
        `spec.tasks[${index}]: WorkflowTask ${task.name} may use ${attempts} attempts × ${formatDuration(task.timeoutMs)}, more than the workflow timeout ${formatDuration(workflowTimeoutMs)}; later attempts will be cut off by the deadline`,
      );
    }
  }
  return warnings;
}
