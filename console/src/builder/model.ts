/**
 * The builder's canvas model: a workflow as steps the canvas draws and edits, with the pure edits
 * the page offers (add, remove, connect, disconnect, update), the dependencies the engine would see
 * (explicit `dependsOn` plus template and `when` references, read by core's template compiler), the
 * template suggestions a step may use, conversions to and from the YAML beside the canvas (comments
 * kept where the YAML library allows), the line of a validator error's field path, and undo/redo.
 */
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Document,
  type Node,
  type ParsedNode,
} from 'yaml';
import type { FieldError } from '../../../core/errors.ts';
import { compileValue, referencedTasks } from '../../../core/template/compiled-value.ts';
import type { Workflow, WorkflowTask } from '../api/types.ts';

type Json = Record<string, unknown>;

/** One step on the canvas: a WorkflowStep of the spec, field for field. */
export interface StepModel {
  id: string;
  taskRef: string;
  input?: unknown;
  dependsOn?: string[];
  when?: string;
  onError?: 'fail' | 'continue';
  /** Step fields the builder does not edit (e.g. `map`), kept as they are. */
  extra?: Json;
}

/** The workflow the canvas shows: its metadata, workflow-level fields and steps. */
export interface CanvasModel {
  metadata: { name: string; namespace?: string } & Json;
  description?: string;
  inputSchema?: Json;
  output?: unknown;
  timeout?: string;
  maxConcurrency?: number;
  steps: StepModel[];
  /** Spec fields the builder does not edit, kept as they are. */
  extra?: Json;
}

/** A dependency edge: `to` waits for `from`; explicit when `dependsOn` states it. */
export interface ModelEdge {
  from: string;
  to: string;
  explicit: boolean;
}

const STEP_KEYS = ['id', 'taskRef', 'input', 'dependsOn', 'when', 'onError'];
const SPEC_KEYS = ['description', 'inputSchema', 'output', 'timeout', 'maxConcurrency', 'tasks'];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object without its undefined fields (so absent stays absent through a round trip). */
function defined<T extends Json>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function rest(value: Json, known: readonly string[]): Json | undefined {
  const left = Object.fromEntries(Object.entries(value).filter(([k]) => !known.includes(k)));
  return Object.keys(left).length ? left : undefined;
}

/** The canvas model of a Workflow document. */
export function modelFromWorkflow(workflow: Workflow): CanvasModel {
  const spec = (workflow.spec ?? {}) as unknown as Json;
  const steps = (Array.isArray(spec.tasks) ? spec.tasks : []) as Json[];
  return defined({
    metadata: { ...(workflow.metadata as CanvasModel['metadata']) },
    description: spec.description as string | undefined,
    inputSchema: spec.inputSchema as Json | undefined,
    output: spec.output,
    timeout: spec.timeout as string | undefined,
    maxConcurrency: spec.maxConcurrency as number | undefined,
    steps: steps.map((step) =>
      defined({
        id: String(step.id ?? ''),
        taskRef: String((step.taskRef as Json | undefined)?.name ?? ''),
        input: step.input,
        dependsOn: step.dependsOn as string[] | undefined,
        when: step.when as string | undefined,
        onError: step.onError as StepModel['onError'],
        extra: rest(step, STEP_KEYS),
      }),
    ),
    extra: rest(spec, SPEC_KEYS),
  });
}

/** The Workflow document of a canvas model. */
export function workflowFromModel(model: CanvasModel): Workflow {
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { ...model.metadata },
    spec: defined({
      description: model.description,
      inputSchema: model.inputSchema,
      tasks: model.steps.map((s) =>
        defined({
          id: s.id,
          taskRef: { name: s.taskRef },
          input: s.input,
          dependsOn: s.dependsOn,
          when: s.when,
          onError: s.onError,
          ...s.extra,
        }),
      ),
      output: model.output,
      timeout: model.timeout,
      maxConcurrency: model.maxConcurrency,
      ...model.extra,
    }),
  } as unknown as Workflow;
}

const TASK_IN_WHEN = /\btasks\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\b/g;

/** The steps a step waits for: `dependsOn`, and the tasks its input, map and `when` read. */
export function dependenciesOf(model: CanvasModel, id: string): string[] {
  const step = model.steps.find((s) => s.id === id);
  if (!step) return [];
  const ids = new Set(model.steps.map((s) => s.id));
  const found = [...(step.dependsOn ?? []), ...impliedDependencies(step)];
  return [...new Set(found)].filter((d) => d !== id && ids.has(d));
}

function impliedDependencies(step: StepModel): string[] {
  const read = referencedTasks(compileValue([step.input ?? null, step.extra?.map ?? null]).value);
  for (const m of (step.when ?? '').matchAll(TASK_IN_WHEN)) read.push(m[1] as string);
  return read;
}

/** Every dependency edge of the model. */
export function edgesOf(model: CanvasModel): ModelEdge[] {
  return model.steps.flatMap((step) =>
    dependenciesOf(model, step.id).map((from) => ({
      from,
      to: step.id,
      explicit: (step.dependsOn ?? []).includes(from),
    })),
  );
}

function replaceStep(model: CanvasModel, id: string, next: (s: StepModel) => StepModel): CanvasModel {
  return { ...model, steps: model.steps.map((s) => (s.id === id ? next(s) : s)) };
}

/** A step id for a task that no step of the model has yet: the task's name, then `-2`, `-3`... */
export function uniqueStepId(model: CanvasModel, base: string): string {
  const taken = new Set(model.steps.map((s) => s.id));
  const stem = base.slice(0, 58) || 'step';
  if (!taken.has(stem)) return stem;
  for (let i = 2; ; i++) if (!taken.has(`${stem}-${i}`)) return `${stem}-${i}`;
}

/**
 * Adds a step running `task`; its input has each field of the task's inputSchema, mapped from the
 * workflow input field of the same name when there is one, empty otherwise (the validator says so).
 */
export function addStep(model: CanvasModel, task: WorkflowTask): CanvasModel {
  const properties = (task.spec.inputSchema?.properties ?? {}) as Json;
  const workflowInputs = (model.inputSchema?.properties ?? {}) as Json;
  const input = Object.fromEntries(
    Object.keys(properties).map((key) => [key, key in workflowInputs ? `{{input.${key}}}` : '']),
  );
  const step: StepModel = {
    id: uniqueStepId(model, task.metadata.name),
    taskRef: task.metadata.name,
    ...(Object.keys(input).length ? { input } : {}),
  };
  return { ...model, steps: [...model.steps, step] };
}

/** Removes a step and the explicit edges to it (references to it stay, and the validator names them). */
export function removeStep(model: CanvasModel, id: string): CanvasModel {
  return {
    ...model,
    steps: model.steps
      .filter((s) => s.id !== id)
      .map((s) =>
        s.dependsOn?.includes(id)
          ? withDependsOn(
              s,
              s.dependsOn.filter((d) => d !== id),
            )
          : s,
      ),
  };
}

function withDependsOn(step: StepModel, dependsOn: string[]): StepModel {
  const { dependsOn: _old, ...others } = step;
  return dependsOn.length ? { ...others, dependsOn } : others;
}

/** A path of dependency edges from `start` to `goal` (ids in order), if there is one. */
function pathBetween(model: CanvasModel, start: string, goal: string): string[] | undefined {
  const previous = new Map<string, string>();
  const queue = [start];
  const dependents = (id: string) => model.steps.filter((s) => dependenciesOf(model, s.id).includes(id));
  while (queue.length) {
    const at = queue.shift() as string;
    if (at === goal) {
      const path = [goal];
      while (path[0] !== start) path.unshift(previous.get(path[0] as string) as string);
      return path;
    }
    for (const next of dependents(at))
      if (!previous.has(next.id) && next.id !== start) {
        previous.set(next.id, at);
        queue.push(next.id);
      }
  }
  return undefined;
}

/** Makes `to` wait for `from` (`dependsOn`); an Error when it would make a cycle. */
export function connect(model: CanvasModel, from: string, to: string): CanvasModel | Error {
  if (from === to) return new Error(`a step cannot depend on itself (${from})`);
  const target = model.steps.find((s) => s.id === to);
  if (!target || !model.steps.some((s) => s.id === from)) return new Error(`no step ${from} or ${to}`);
  if (dependenciesOf(model, to).includes(from)) return model;
  const back = pathBetween(model, to, from);
  if (back) return new Error(`that would make a dependency cycle: ${[...back, to].join(' -> ')}`);
  return replaceStep(model, to, (s) => withDependsOn(s, [...(s.dependsOn ?? []), from]));
}

/** Drops the explicit edge; an Error when `to` still reads `from`'s output (edit that reference). */
export function disconnect(model: CanvasModel, from: string, to: string): CanvasModel | Error {
  const target = model.steps.find((s) => s.id === to);
  if (!target) return new Error(`no step ${to}`);
  if (impliedDependencies(target).includes(from))
    return new Error(
      `${to} reads tasks.${from} in its input or when: change that reference to remove the dependency`,
    );
  return replaceStep(model, to, (s) =>
    withDependsOn(
      s,
      (s.dependsOn ?? []).filter((d) => d !== from),
    ),
  );
}

/** Changes fields of a step; a field given as undefined is removed. */
export function updateStep(model: CanvasModel, id: string, patch: Partial<StepModel>): CanvasModel {
  return replaceStep(model, id, (s) => defined({ ...s, ...patch }) as StepModel);
}

/** A template a step may use in its input, with the JSON type the schema gives it. */
export interface TemplateSuggestion {
  template: string;
  type: string;
}

function schemaPaths(schema: unknown, prefix: string, out: TemplateSuggestion[], depth = 0): void {
  if (!isObject(schema) || depth > 4) return;
  const properties = isObject(schema.properties) ? schema.properties : {};
  for (const [key, sub] of Object.entries(properties)) {
    const path = `${prefix}.${key}`;
    const type = isObject(sub) ? String([sub.type ?? 'any'].flat()[0]) : 'any';
    out.push({ template: `{{${path}}}`, type });
    schemaPaths(sub, path, out, depth + 1);
  }
}

/**
 * The templates a step may use: `{{input.…}}` from the workflow's inputSchema, and
 * `{{tasks.<id>.output.…}}` from the outputSchema of each step it depends on (and only those).
 */
export function templateSuggestions(
  model: CanvasModel,
  stepId: string,
  tasks: readonly WorkflowTask[],
): TemplateSuggestion[] {
  const out: TemplateSuggestion[] = [];
  schemaPaths(model.inputSchema, 'input', out);
  for (const dep of dependenciesOf(model, stepId)) {
    const producer = model.steps.find((s) => s.id === dep);
    const task = tasks.find((t) => t.metadata.name === producer?.taskRef);
    out.push({ template: `{{tasks.${dep}.output}}`, type: 'object' });
    schemaPaths(task?.spec.outputSchema, `tasks.${dep}.output`, out);
  }
  return out;
}

/** Validator errors by the step their field path points into (`spec.tasks[i]…`). */
export function errorsByStep(
  model: CanvasModel,
  errors: readonly FieldError[],
): Record<string, FieldError[]> {
  const out: Record<string, FieldError[]> = {};
  for (const error of errors) {
    const index = /^spec\.tasks\[(\d+)\]/.exec(error.field)?.[1];
    const step = index === undefined ? undefined : model.steps[Number(index)];
    if (step) (out[step.id] ??= []).push(error);
  }
  return out;
}

/** The YAML text of a model; with the previous document, rewritten over it so its comments stay. */
export function modelToYaml(model: CanvasModel, previous?: Document): string {
  const value = workflowFromModel(model);
  if (!previous || !isMap(previous.contents)) return new Document(value).toString({ lineWidth: 0 });
  const doc = previous.clone();
  mergeInto(doc, [], value);
  return doc.toString({ lineWidth: 0 });
}

/** Sets `value` at `path` in the document, reusing (and so keeping the comments of) equal nodes. */
function mergeInto(doc: Document, path: Array<string | number>, value: unknown): void {
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  // An empty collection (`tasks: []`) has no comments to keep: a new block one reads better.
  const empty = (isMap(node) || isSeq(node)) && node.items.length === 0;
  if (empty && path.length) {
    doc.setIn(path, doc.createNode(value));
    return;
  }
  if (isMap(node) && isObject(value)) {
    for (const pair of [...node.items]) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key !== 'string' || !(key in value)) node.delete(pair.key);
    }
    for (const [key, item] of Object.entries(value)) {
      if (node.has(key)) mergeInto(doc, [...path, key], item);
      else node.set(doc.createNode(key), doc.createNode(item));
    }
    return;
  }
  if (isSeq(node) && Array.isArray(value)) {
    node.items.splice(value.length);
    value.forEach((item, i) => {
      if (i < node.items.length) mergeInto(doc, [...path, i], item);
      else node.items.push(doc.createNode(item));
    });
    return;
  }
  if (isScalar(node) && node.value === value) return;
  if (path.length) doc.setIn(path, doc.createNode(value));
  else doc.contents = doc.createNode(value) as typeof doc.contents;
}

/** The model of a YAML text (its first document), the parsed document, and why it is not one. */
export function modelFromYaml(text: string): {
  model: CanvasModel | undefined;
  document: Document | undefined;
  errors: string[];
} {
  const document = parseDocument(text);
  if (document.errors.length)
    return {
      model: undefined,
      document: undefined,
      errors: document.errors.map((e) => `YAML: ${e.message}`),
    };
  const value = document.toJSON() as unknown;
  if (!isObject(value) || value.kind !== 'Workflow')
    return { model: undefined, document, errors: ['the YAML must be one Workflow (kind: Workflow)'] };
  if (!isObject(value.metadata) || !isObject(value.spec))
    return { model: undefined, document, errors: ['a Workflow has metadata and spec mappings'] };
  return { model: modelFromWorkflow(value as unknown as Workflow), document, errors: [] };
}

/** Segments of a validator field path: `spec.tasks[1].input["a.b"]` → spec, tasks, 1, input, a.b. */
function fieldSegments(field: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const m of field.matchAll(/\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/g)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(m[2]);
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

/**
 * Where a validator field path is in a YAML text: the key (or item) of the deepest part of the
 * path that exists, as offsets and a 1-based line; the first line when nothing matches.
 */
export function locateField(text: string, field: string): { from: number; to: number; line: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: false });
  const segments = fieldSegments(field);
  for (let n = segments.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(segments.slice(0, n - 1), true);
    const last = segments[n - 1];
    let target: Node | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === last);
      target = pair ? ((pair.key as Node | undefined) ?? undefined) : undefined;
      const value = pair?.value as ParsedNode | undefined;
      if (target?.range && value?.range && isScalar(value))
        return position(lineCounter, target.range[0], value.range[1]);
    } else if (isSeq(parent) && typeof last === 'number') target = parent.items[last] as Node | undefined;
    if (target?.range) return position(lineCounter, target.range[0], target.range[1]);
  }
  return {
    from: 0,
    to: Math.min(text.length, text.indexOf('\n') >= 0 ? text.indexOf('\n') : text.length),
    line: 1,
  };
}

function position(counter: LineCounter, from: number, to: number) {
  return { from, to, line: counter.linePos(from).line };
}

/** An undo/redo history of immutable values. */
export interface Undoable<T> {
  readonly present: T;
  readonly canUndo: boolean;
  readonly canRedo: boolean;
  /** A new present; the redo future is dropped. */
  record(next: T): Undoable<T>;
  undo(): Undoable<T>;
  redo(): Undoable<T>;
}

/** A history starting at `present` (at most `limit` steps back). */
export function undoable<T>(
  present: T,
  past: readonly T[] = [],
  future: readonly T[] = [],
  limit = 200,
): Undoable<T> {
  return {
    present,
    canUndo: past.length > 0,
    canRedo: future.length > 0,
    record: (next) =>
      next === present
        ? undoable(present, past, future, limit)
        : undoable(next, [...past, present].slice(-limit), [], limit),
    undo: () =>
      past.length
        ? undoable(past.at(-1) as T, past.slice(0, -1), [present, ...future], limit)
        : undoable(present, past, future, limit),
    redo: () =>
      future.length
        ? undoable(future[0] as T, [...past, present], future.slice(1), limit)
        : undoable(present, past, future, limit),
  };
}
