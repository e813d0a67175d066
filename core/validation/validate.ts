/**
 * The validator shared by `syncflow validate` and the admission webhooks. Pure: it receives
 * documents (and, for cluster checks, a task resolver) and returns every error with a field path.
 */
import {
  compileTask,
  compileWorkflow,
  type CompiledTask,
  type CompiledWorkflow,
  type TaskResolver,
} from '../definitions/compile.ts';
import type { FieldError } from '../errors.ts';
import { executionErrors } from '../model/execution.ts';
import { objectNameErrors } from '../model/names.ts';
import type { WorkflowDocument, WorkflowTaskDocument } from '../model/schema.ts';
import { DEFINITIONS_API_VERSION } from '../model/resources.ts';
import { schemaErrorsToFieldErrors } from '../schema/json-schema.ts';
import { closestName } from '../suggest.ts';
import { collectRefs, compileValue, joinField, type CompiledValue } from '../template/compiled-value.ts';
import { formatRef, type PathSegment, type TemplateRef } from '../template/parser.ts';
import { shapeErrors } from './shape.ts';
import {
  incompatibility,
  isClosed,
  jsonTypeOf,
  propertyNames,
  requiredProperties,
  schemaAt,
  typesOf,
  type JsonSchema,
} from './schema-types.ts';

/** The kinds this validator understands. */
export type DefinitionKind = 'Workflow' | 'WorkflowTask';

/** Errors of one document. */
export interface DocumentReport {
  /** Position of the document in the input list. */
  index: number;
  kind: string;
  name: string;
  namespace: string;
  errors: FieldError[];
  /** The compiled workflow, for a valid Workflow document (what `syncflow run` executes). */
  workflow?: CompiledWorkflow;
}

const KINDS: DefinitionKind[] = ['Workflow', 'WorkflowTask'];

function metadataOf(doc: unknown): { name: string; namespace: string } {
  const meta = (doc as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  return {
    name: typeof meta?.name === 'string' ? meta.name : '',
    namespace: typeof meta?.namespace === 'string' && meta.namespace ? meta.namespace : 'default',
  };
}

/** Errors in kind, apiVersion and name that make a document unusable. */
function identityErrors(doc: unknown): FieldError[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return [{ code: 'ParseError', field: '(document)', message: 'a document must be a YAML/JSON object' }];
  }
  const { kind, apiVersion } = doc as { kind?: unknown; apiVersion?: unknown };
  if (typeof kind !== 'string' || !KINDS.includes(kind as DefinitionKind)) {
    const near = typeof kind === 'string' ? closestName(kind, [...KINDS, 'WorkflowExecution']) : undefined;
    return [
      {
        code: 'UnknownKind',
        field: 'kind',
        message:
          kind === undefined
            ? 'is required: WorkflowTask or Workflow'
            : `unknown kind \`${String(kind)}\`: syncflow validates WorkflowTask, Workflow and WorkflowExecution`,
        ...(near ? { suggestion: `did you mean \`${near}\`?` } : {}),
      },
    ];
  }
  const errors: FieldError[] = [];
  if (apiVersion !== DEFINITIONS_API_VERSION) {
    errors.push({
      code: 'FieldInvalid',
      field: 'apiVersion',
      message: `must be \`${DEFINITIONS_API_VERSION}\`, got \`${String(apiVersion)}\``,
    });
  }
  const { name } = metadataOf(doc);
  if (!name) {
    errors.push({ code: 'FieldRequired', field: 'metadata.name', message: 'is required' });
  } else {
    errors.push(...objectNameErrors(name, 'metadata.name'));
  }
  return errors;
}

/** Shape errors that still allow compiling (unknown fields are reported but harmless). */
function blocking(errors: FieldError[]): boolean {
  const harmless: FieldError['code'][] = ['UnknownField', 'InvalidName', 'InvalidDuration'];
  return errors.some((e) => !harmless.includes(e.code));
}

/** Drops repeated reports of one problem (the shape check and the compiler may both see it). */
function unique(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.code}|${e.field}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Validates a WorkflowTask on its own; returns the compiled task when it is valid. */
export function validateTask(doc: unknown): { errors: FieldError[]; task: CompiledTask | undefined } {
  const errors = [...identityErrors(doc)];
  if (errors.some((e) => e.code === 'UnknownKind' || e.code === 'ParseError'))
    return { errors, task: undefined };
  const shape = shapeErrors('WorkflowTask', doc);
  errors.push(...shape.filter((e) => e.field !== 'apiVersion' && e.field !== 'metadata.name'));
  if (blocking(errors)) return { errors, task: undefined };
  const compiled = compileTask(doc as WorkflowTaskDocument);
  errors.push(...compiled.errors, ...taskInputErrors(doc as WorkflowTaskDocument));
  return { errors: unique(errors), task: errors.length ? undefined : compiled.value };
}

/**
 * Validates a Workflow against the tasks of its namespace (from the same files for the CLI, from
 * the cluster for admission): syntax, references, paths, types, cycles and timeouts.
 */
export function validateWorkflow(
  doc: unknown,
  tasks: TaskResolver,
): { errors: FieldError[]; workflow: CompiledWorkflow | undefined } {
  const errors = [...identityErrors(doc)];
  if (errors.some((e) => e.code === 'UnknownKind' || e.code === 'ParseError'))
    return { errors, workflow: undefined };
  const shape = shapeErrors('Workflow', doc);
  errors.push(...shape.filter((e) => e.field !== 'apiVersion' && e.field !== 'metadata.name'));
  if (blocking(errors)) return { errors, workflow: undefined };
  const workflow = doc as WorkflowDocument;
  const compiled = compileWorkflow(workflow, tasks);
  errors.push(...compiled.errors);
  errors.push(...referenceErrors(workflow, tasks));
  return { errors: unique(errors), workflow: errors.length ? undefined : compiled.value };
}

/** Checks every template reference of a workflow against the schemas it points into. */
function referenceErrors(doc: WorkflowDocument, tasks: TaskResolver): FieldError[] {
  const errors: FieldError[] = [];
  const spec = doc.spec;
  const steps = new Map(spec.tasks.map((step) => [step.id, step]));
  const inputSchema = spec.inputSchema as JsonSchema | undefined;

  /** In a map step's input: the schema of one element (when the array's schema is known). */
  let element: { schema: JsonSchema | undefined; of: string } | undefined;

  /** The schema a reference's value has, or undefined when unknown; records path errors. */
  const sourceSchema = (ref: TemplateRef, field: string): JsonSchema | undefined => {
    if (ref.source === 'index') return { type: 'integer' };
    if (ref.source === 'item') {
      if (!element?.schema) return undefined;
      return lookup(
        element.schema,
        ref.path,
        field,
        ref,
        'UnknownInputField',
        `the element schema of ${element.of}`,
      );
    }
    if (ref.source === 'input') {
      if (!inputSchema) return undefined;
      return lookup(inputSchema, ref.path, field, ref, 'UnknownInputField', 'the workflow inputSchema');
    }
    if (ref.source === 'task') {
      const step = steps.get(ref.taskId);
      const task = step ? tasks.get(step.taskRef.name) : undefined;
      const output = task?.spec.outputSchema as JsonSchema | undefined;
      if (!output) return undefined;
      return lookup(
        output,
        ref.path,
        field,
        ref,
        'UnknownOutputPath',
        `the outputSchema of \`${task?.name}\``,
      );
    }
    return undefined;
  };

  const lookup = (
    root: JsonSchema,
    path: PathSegment[],
    field: string,
    ref: TemplateRef,
    code: 'UnknownInputField' | 'UnknownOutputPath',
    owner: string,
  ): JsonSchema | undefined => {
    const found = lookupRef(root, path, field, ref, code, owner);
    if (found.found) return found.schema;
    errors.push(found.error);
    return undefined;
  };

  spec.tasks.forEach((step, i) => {
    const task = tasks.get(step.taskRef.name);
    const base = `spec.tasks[${i}].input`;
    const target = task?.spec.inputSchema as JsonSchema | undefined;
    element = step.map ? mapElement(step.map.items, `spec.tasks[${i}].map.items`) : undefined;
    checkValue(step.input ?? {}, target, base, task?.name ?? step.taskRef.name);
    element = undefined;
  });
  if (spec.output !== undefined) checkValue(spec.output, undefined, 'spec.output', '');
  return errors;

  /** The element schema of a map's array; records an error when the array's schema is not an array. */
  function mapElement(items: string, field: string): { schema: JsonSchema | undefined; of: string } {
    const refs = collectRefsOf(items);
    const ref = refs?.exact ? refs.refs[0] : undefined;
    // Malformed or not one template: the compiler reports it.
    if (!ref || (ref.source !== 'input' && ref.source !== 'task')) return { schema: undefined, of: items };
    const source = sourceSchema(ref, field);
    const types = source ? typesOf(source) : undefined;
    if (types && !types.has('array')) {
      errors.push({
        code: 'TypeMismatch',
        field,
        message: `map runs over an array, but \`${formatRef(ref)}\` is ${[...types].join(' or ')}`,
        suggestion: 'name an array field of the input or of a producer output',
      });
      return { schema: undefined, of: `\`${formatRef(ref)}\`` };
    }
    const element = source?.items;
    return {
      schema:
        element && typeof element === 'object' && !Array.isArray(element)
          ? (element as JsonSchema)
          : undefined,
      of: `\`${formatRef(ref)}\``,
    };
  }

  /** Walks a templated value next to the schema it must satisfy. */
  function checkValue(value: unknown, target: JsonSchema | undefined, field: string, taskName: string): void {
    if (typeof value === 'string' && value.includes('{{')) {
      const refs = collectRefsOf(value);
      if (!refs) return; // syntax errors are reported by the compiler
      const exact = refs.exact;
      for (const ref of refs.refs) {
        const source = sourceSchema(ref, field);
        if (!target || !exact) continue;
        if (source) {
          const reason = incompatibility(source, target);
          if (reason) {
            errors.push({
              code: 'TypeMismatch',
              field,
              message: `${taskName} input ${reason.startsWith('expects') ? '' : 'at '}${reason} (from \`${formatRef(ref)}\`)`,
            });
          }
        }
      }
      if (target && !exact) typeCheckConst('', target, field, taskName, 'string');
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (target) {
        const targetTypes = target.type;
        if (typeof targetTypes === 'string' && targetTypes !== 'object') {
          errors.push({
            code: 'TypeMismatch',
            field,
            message: `${taskName} input expects ${targetTypes}, got object`,
          });
          return;
        }
        for (const name of requiredProperties(target)) {
          if (!Object.hasOwn(value, name)) {
            errors.push({
              code: 'MissingRequiredInput',
              field: joinField(field, [name]),
              message: `\`${taskName}\` requires input \`${name}\``,
              suggestion: `map it, e.g. ${name}: "{{input.${name}}}"`,
            });
          }
        }
        const known = propertyNames(target);
        for (const [name] of entries) {
          if (isClosed(target) && !known.includes(name)) {
            const near = closestName(name, known);
            errors.push({
              code: 'UnknownInputField',
              field: joinField(field, [name]),
              message: `\`${taskName}\` inputSchema has no field \`${name}\``,
              ...(near ? { suggestion: `did you mean \`${near}\`?` } : {}),
            });
          }
        }
      }
      for (const [name, item] of entries) {
        const lookupResult = target ? schemaAt(target, [name]) : undefined;
        const child = lookupResult?.found ? lookupResult.schema : undefined;
        checkValue(
          item,
          child && Object.keys(child).length ? child : undefined,
          joinField(field, [name]),
          taskName,
        );
      }
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        const items = target?.items as JsonSchema | undefined;
        checkValue(item, items, joinField(field, [index]), taskName);
      });
      if (target) typeCheckConst(value, target, field, taskName);
      return;
    }
    if (target) typeCheckConst(value, target, field, taskName);
  }

  function typeCheckConst(
    value: unknown,
    target: JsonSchema,
    field: string,
    taskName: string,
    type = jsonTypeOf(value),
  ) {
    const reason = incompatibility({ type }, target);
    if (reason) errors.push({ code: 'TypeMismatch', field, message: `${taskName} input ${reason}` });
  }
}

/** Follows a reference's path through the schema it reads; the error names the missing part and a fix. */
function lookupRef(
  root: JsonSchema,
  path: readonly PathSegment[],
  field: string,
  ref: TemplateRef,
  code: 'UnknownInputField' | 'UnknownOutputPath',
  owner: string,
): { found: true; schema: JsonSchema } | { found: false; error: FieldError } {
  const found = schemaAt(root, path);
  if (found.found) return { found: true, schema: found.schema };
  const near = typeof found.missing === 'string' ? closestName(found.missing, found.candidates) : undefined;
  return {
    found: false,
    error: {
      code,
      field,
      message: `\`${formatRef(ref)}\`: \`${String(found.missing)}\` is not in ${owner}`,
      ...(near
        ? { suggestion: `did you mean \`${near}\`?` }
        : found.candidates.length
          ? { suggestion: `known fields: ${found.candidates.join(', ')}` }
          : {}),
    },
  };
}

/**
 * Input references of a WorkflowTask's own templates (url, query, headers, body) checked against
 * its inputSchema, by the same rule as a Workflow's references to its input.
 */
function taskInputErrors(doc: WorkflowTaskDocument): FieldError[] {
  const schema = doc.spec.inputSchema as JsonSchema | undefined;
  if (!schema) return [];
  const errors: FieldError[] = [];
  const http = doc.spec.http;
  const parts: Array<[string, unknown]> = [
    ['spec.http.url', http.url],
    ['spec.http.query', http.query],
    ['spec.http.headers', http.headers],
    ['spec.http.body', http.body],
    ['spec.websocket.message', doc.spec.websocket?.message],
  ];
  for (const [base, value] of parts) {
    if (value === undefined) continue;
    // Syntax errors are reported by the compiler; the strings that parse are still checked here.
    for (const { ref, at } of collectRefs(compileValue(value).value)) {
      if (ref.source !== 'input') continue;
      const found = lookupRef(
        schema,
        ref.path,
        joinField(base, at),
        ref,
        'UnknownInputField',
        'the task inputSchema',
      );
      if (!found.found) errors.push(found.error);
    }
  }
  return errors;
}

/** Parses the templates of one string; undefined when it is malformed. */
function collectRefsOf(text: string): { refs: TemplateRef[]; exact: boolean } | undefined {
  return compileStringCache.has(text) ? compileStringCache.get(text) : compileString(text);
}

const compileStringCache = new Map<string, { refs: TemplateRef[]; exact: boolean } | undefined>();

function compileString(text: string): { refs: TemplateRef[]; exact: boolean } | undefined {
  let result: { refs: TemplateRef[]; exact: boolean } | undefined;
  const value = compileValueSafe(text);
  if (value) result = { refs: collectRefs(value).map((r) => r.ref), exact: value.kind === 'exact' };
  if (compileStringCache.size > 10_000) compileStringCache.clear();
  compileStringCache.set(text, result);
  return result;
}

function compileValueSafe(text: string): CompiledValue | undefined {
  const result = compileValue(text);
  return result.errors.length ? undefined : result.value;
}

/** A task resolver over a fixed set of compiled (or invalid) tasks. */
export class TaskSet implements TaskResolver {
  private readonly tasks = new Map<string, CompiledTask | null>();

  /** Adds a task; `null` marks a task that exists but is invalid. */
  set(name: string, task: CompiledTask | null): void {
    this.tasks.set(name, task);
  }

  get(name: string): CompiledTask | null | undefined {
    return this.tasks.get(name);
  }

  names(): Iterable<string> {
    return this.tasks.keys();
  }
}

/**
 * Validates a set of documents the way the CLI sees them: tasks resolve within the same namespace
 * of the given documents; duplicates are reported.
 */
export function validateDocuments(docs: readonly unknown[]): DocumentReport[] {
  const reports: DocumentReport[] = docs.map((doc, index) => {
    const kind = (doc as { kind?: unknown } | null)?.kind;
    return { index, kind: typeof kind === 'string' ? kind : '', ...metadataOf(doc), errors: [] };
  });
  const taskSets = new Map<string, TaskSet>();
  const workflows = new Map<string, CompiledWorkflow>();
  const seen = new Map<string, number>();
  const setFor = (namespace: string) => {
    let set = taskSets.get(namespace);
    if (!set) taskSets.set(namespace, (set = new TaskSet()));
    return set;
  };
  const duplicate = (report: DocumentReport): boolean => {
    const key = `${report.kind}/${report.namespace}/${report.name}`;
    if (report.name && seen.has(key)) {
      report.errors.push({
        code: 'DuplicateName',
        field: 'metadata.name',
        message: `${report.kind} ${report.namespace}/${report.name} is defined twice (first as document ${(seen.get(key) as number) + 1})`,
      });
      return true;
    }
    seen.set(key, report.index);
    return false;
  };
  // Tasks first, so workflows can resolve them regardless of document order.
  for (const report of reports) {
    if (report.kind !== 'WorkflowTask') continue;
    const result = validateTask(docs[report.index]);
    report.errors.push(...result.errors);
    if (!duplicate(report) && report.name) setFor(report.namespace).set(report.name, result.task ?? null);
  }
  for (const report of reports) {
    if (report.kind === 'WorkflowTask' || report.kind === 'WorkflowExecution') continue;
    if (report.kind !== 'Workflow') {
      report.errors.push(...identityErrors(docs[report.index]));
      continue;
    }
    const result = validateWorkflow(docs[report.index], setFor(report.namespace));
    report.errors.push(...result.errors);
    if (!duplicate(report) && result.workflow) {
      report.workflow = result.workflow;
      workflows.set(`${report.namespace}/${report.name}`, result.workflow);
    }
  }
  for (const report of reports) {
    if (report.kind === 'WorkflowExecution')
      report.errors.push(...executionDocumentErrors(docs[report.index], report.namespace, workflows));
  }
  return reports;
}

/**
 * Checks a WorkflowExecution document (a sample run kept next to the definitions) with the server's
 * rules for a create body and, when its workflow is among the documents, its input against the
 * workflow's inputSchema.
 */
function executionDocumentErrors(
  doc: unknown,
  namespace: string,
  workflows: ReadonlyMap<string, CompiledWorkflow>,
): FieldError[] {
  const errors = executionErrors(doc, namespace);
  const spec = (doc as { spec?: { workflowRef?: { name?: unknown }; input?: unknown } } | null)?.spec;
  const workflowName = spec?.workflowRef?.name;
  const workflow =
    typeof workflowName === 'string' ? workflows.get(`${namespace}/${workflowName}`) : undefined;
  const input = spec?.input ?? {};
  if (workflow?.inputSchema && !workflow.inputSchema.validate(input)) {
    errors.push(
      ...schemaErrorsToFieldErrors(workflow.inputSchema.validate.errors, 'spec.input', 'InvalidInput'),
    );
  }
  return errors;
}
