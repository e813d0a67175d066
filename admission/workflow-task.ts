/**
 * WorkflowTask admission: the task on its own (CREATE/UPDATE), every Workflow that uses it re-checked
 * against the new spec (UPDATE), and no DELETE while a Workflow references it. Reads only.
 */
import type { FieldError } from '../core/errors.ts';
import { validateTask, validateWorkflow } from '../core/validation/validate.ts';
import {
  asDocument,
  referencedTaskNames,
  type FreshDefinitions,
  type StoredDefinition,
} from './definitions.ts';
import {
  allow,
  deny,
  describeCause,
  writeSubject,
  type AdmissionDecision,
  type AdmissionRequest,
} from './review.ts';
import { checkSecrets, type SecretDirectory } from './secrets.ts';

/** What WorkflowTask admission reads. */
export interface WorkflowTaskAdmissionOptions {
  definitions: FreshDefinitions;
  /** Warns when a Secret the task reads does not exist yet; no check without it. */
  secrets?: SecretDirectory;
}

/** A dependent Workflow and what the change would break in it. */
interface Breakage {
  workflow: string;
  errors: FieldError[];
}

/** Decides WorkflowTask admission requests. */
export class WorkflowTaskAdmission {
  constructor(private readonly options: WorkflowTaskAdmissionOptions) {}

  async review(request: AdmissionRequest): Promise<AdmissionDecision> {
    switch (request.operation) {
      case 'DELETE':
        return this.reviewDelete(request);
      case 'CREATE':
      case 'UPDATE':
        return this.reviewWrite(request);
      default:
        return allow();
    }
  }

  private async reviewWrite(request: AdmissionRequest): Promise<AdmissionDecision> {
    const checked = writeSubject(request, 'WorkflowTask');
    if ('allowed' in checked) return checked;
    const { object, name, subject } = checked;
    const { errors, task } = validateTask(asDocument('WorkflowTask', object, request.namespace, name));
    if (!task || errors.length) {
      const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
      return deny({
        code: errors[0]?.code ?? 'FieldInvalid',
        message: `${subject} is invalid (${count}):\n${errors.map((e) => `- ${describeCause(e)}`).join('\n')}`,
        causes: errors,
        kind: 'WorkflowTask',
        name,
      });
    }
    const warnings: string[] = [];
    if (this.options.secrets && task.secrets.length) {
      // A task may be applied before its Secret; only a Workflow using it needs the Secret to exist.
      const secrets = await checkSecrets(this.options.secrets, request.namespace, [{ index: 0, task }]);
      warnings.push(...secrets.warnings);
      for (const error of secrets.errors)
        warnings.push(`${error.message}; Workflows using this task will be refused until it exists`);
    }
    if (request.operation === 'CREATE') return allow(warnings);

    const dependents = await this.options.definitions.dependentsOf(request.namespace, name);
    if (dependents.warning) warnings.push(dependents.warning);
    const broken: Breakage[] = [];
    for (const workflow of dependents.workflows) {
      const errors = await this.newErrors(
        request.namespace,
        workflow,
        name,
        request.oldObject ?? null,
        object,
      );
      if (errors.length)
        broken.push({ workflow: `${request.namespace}/${workflow.metadata.name ?? ''}`, errors });
    }
    if (broken.length === 0) return allow(warnings);
    const lines = broken.flatMap((b) => b.errors.map((e) => `- workflow ${b.workflow}: ${describeCause(e)}`));
    const plural = broken.length === 1 ? 'Workflow' : 'Workflows';
    return deny(
      {
        code: 'DependentBroken',
        message: `${subject}: this change would break ${broken.length} ${plural} using it (${broken.map((b) => b.workflow).join(', ')}) [DependentBroken]:\n${lines.join('\n')}\nchange the ${plural} first, or make the change compatible (e.g. add fields instead of changing their types)`,
        causes: [],
        httpStatus: 409,
        kind: 'WorkflowTask',
        name,
      },
      warnings,
    );
  }

  /** Errors the workflow has with the new task spec that it did not have with the old one. */
  private async newErrors(
    namespace: string,
    workflow: StoredDefinition,
    taskName: string,
    before: StoredDefinition | null,
    after: StoredDefinition,
  ): Promise<FieldError[]> {
    const needed = referencedTaskNames(workflow.spec);
    const doc = asDocument('Workflow', workflow, namespace);
    const key = (e: FieldError) => `${e.code}|${e.field}|${e.message}`;
    const next = validateWorkflow(
      doc,
      await this.options.definitions.tasksFor(namespace, needed, { name: taskName, object: after }),
    );
    // The usual compatible change: nothing to compare with (and half the work).
    if (next.errors.length === 0) return [];
    const old = validateWorkflow(
      doc,
      await this.options.definitions.tasksFor(namespace, needed, { name: taskName, object: before }),
    );
    const known = new Set(old.errors.map(key));
    return next.errors.filter((e) => !known.has(key(e)));
  }

  private async reviewDelete(request: AdmissionRequest): Promise<AdmissionDecision> {
    const name = request.name || request.oldObject?.metadata?.name || '';
    const dependents = await this.options.definitions.dependentsOf(request.namespace, name);
    const warnings = dependents.warning ? [dependents.warning] : [];
    if (dependents.workflows.length === 0) return allow(warnings);
    const names = dependents.workflows.map((w) => w.metadata.name ?? '');
    const plural = names.length === 1 ? 'Workflow' : 'Workflows';
    return deny(
      {
        code: 'TaskInUse',
        message: `WorkflowTask ${request.namespace}/${name} is used by ${names.length} ${plural}: ${names.join(', ')}; delete ${names.length === 1 ? 'it' : 'them'} or point ${names.length === 1 ? 'it' : 'them'} at another task first [TaskInUse]`,
        causes: [],
        httpStatus: 409,
        kind: 'WorkflowTask',
        name,
      },
      warnings,
    );
  }
}
