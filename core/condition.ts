/**
 * `when:` conditions: CEL expressions over `input` and `tasks.<id>.output`, compiled once.
 *
 * CEL has no loops, but comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) nest, so
 * three of them over a 100-element list take a quarter of a second and four about half a minute
 * of one event-loop turn; one scan of a 1 MB string per element of a 20,000-element list, 15 s. cel-js offers structural parse limits, not a cost limit, so the cost is bounded
 * here, with one estimator used twice: at validation with the sizes the schemas declare (`maxItems`,
 * `maxLength`, `maxProperties`, or a default bound), and before each evaluation with the sizes the
 * actual data has, so an expression is never started when its cost bound exceeds the budget.
 * Regular expressions run on V8's backtracking engine: patterns must be literals without nested
 * quantifiers, back-references or lookaround (CEL specifies RE2, which has none of these), which
 * also keeps them within what V8's linear-time fallback engine accepts.
 */
import { parse, type ASTNode } from '@marcbachmann/cel-js';
import { SyncflowError } from './errors.ts';

/** Largest estimated cost a `when` may have, at validation and on the data at run time. */
export const CEL_COST_LIMIT = 1_000_000;

/** Sizes assumed at validation where a schema declares no bound. */
export const CEL_DEFAULT_BOUNDS = { listItems: 1_000, stringLength: 1_000, mapEntries: 1_000 } as const;

/** Cost of handling one character or copying one element, relative to evaluating one node. */
const CHAR_COST = 0.1;

/** A user JSON Schema as plain data. */
type JsonSchema = Record<string, unknown>;

/** What the estimator knows about the data at one position: bounds on sizes, not values. */
interface Shape {
  /** Largest length a value here can have (string, bytes, list or map); 0 for scalars. */
  size(): number;
  /** Shape of list elements and map values. */
  element(): Shape;
  /** Shape of map keys. */
  keys(): Shape;
  /** Shape of a named field. */
  field(name: string): Shape;
}

/** A shape with fixed bounds, for values an expression builds. */
class Sized implements Shape {
  constructor(
    private readonly length: number,
    private readonly elements?: Shape,
    private readonly fields?: ReadonlyMap<string, Shape>,
  ) {}
  size(): number {
    return this.length;
  }
  element(): Shape {
    return this.elements ?? SCALAR;
  }
  keys(): Shape {
    return this.fields ? new Sized(Math.max(0, ...[...this.fields.keys()].map((k) => k.length))) : SCALAR;
  }
  field(name: string): Shape {
    return this.fields?.get(name) ?? this.element();
  }
}

const SCALAR: Shape = new Sized(0);

/** Any value no larger than `n` at any level (what parsing `n` bytes of JSON can produce). */
class Bounded implements Shape {
  constructor(private readonly n: number) {}
  size(): number {
    return this.n;
  }
  element(): Shape {
    return this;
  }
  keys(): Shape {
    return this;
  }
  field(): Shape {
    return this;
  }
}

/** Either of two shapes. */
class Union implements Shape {
  constructor(
    private readonly a: Shape,
    private readonly b: Shape,
  ) {}
  size(): number {
    return Math.max(this.a.size(), this.b.size());
  }
  element(): Shape {
    return union(this.a.element(), this.b.element());
  }
  keys(): Shape {
    return union(this.a.keys(), this.b.keys());
  }
  field(name: string): Shape {
    return union(this.a.field(name), this.b.field(name));
  }
}

function union(a: Shape, b: Shape): Shape {
  if (a === b || b === SCALAR) return a;
  return a === SCALAR ? b : new Union(a, b);
}

/** Records where a default bound stood in for one a schema did not declare. */
type DefaultedPaths = Set<string>;

/** Bounds declared by a JSON Schema, defaults where it declares none. */
class SchemaShape implements Shape {
  constructor(
    private readonly schema: JsonSchema,
    private readonly path: string,
    private readonly defaulted: DefaultedPaths,
  ) {}

  size(): number {
    const s = this.schema;
    const values = Array.isArray(s.enum) ? (s.enum as unknown[]) : 'const' in s ? [s.const] : undefined;
    if (values) return Math.max(0, ...values.map(sizeOfValue));
    if (s.type === undefined) {
      this.defaulted.add(`${this.path} (a type and its maxItems/maxLength)`);
      return Math.max(
        CEL_DEFAULT_BOUNDS.listItems,
        CEL_DEFAULT_BOUNDS.stringLength,
        CEL_DEFAULT_BOUNDS.mapEntries,
      );
    }
    let size = 0;
    if (this.may('array')) size = Math.max(size, this.bound('maxItems', CEL_DEFAULT_BOUNDS.listItems));
    if (this.may('string')) size = Math.max(size, this.bound('maxLength', CEL_DEFAULT_BOUNDS.stringLength));
    if (this.may('object')) size = Math.max(size, this.bound('maxProperties', CEL_DEFAULT_BOUNDS.mapEntries));
    return size;
  }

  /** True when the schema allows values of this JSON type. */
  private may(type: string): boolean {
    const t = this.schema.type;
    return t === undefined || t === type || (Array.isArray(t) && t.includes(type));
  }

  private bound(keyword: string, fallback: number): number {
    const declared = this.schema[keyword];
    if (typeof declared === 'number' && declared >= 0) return declared;
    this.defaulted.add(`${this.path} (${keyword})`);
    return fallback;
  }

  element(): Shape {
    const s = this.schema;
    if (!this.may('array') && !this.may('object')) return SCALAR;
    const items =
      s.items ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    return new SchemaShape(isSchema(items) ? items : {}, `${this.path}[]`, this.defaulted);
  }

  keys(): Shape {
    if (!this.may('object')) return SCALAR;
    const names = this.schema.propertyNames;
    return new SchemaShape(
      { type: 'string', ...(isSchema(names) ? names : {}) },
      `${this.path} keys`,
      this.defaulted,
    );
  }

  field(name: string): Shape {
    if (!this.may('object')) return SCALAR;
    const properties = this.schema.properties as Record<string, unknown> | undefined;
    const declared =
      properties && Object.hasOwn(properties, name) ? properties[name] : this.schema.additionalProperties;
    return new SchemaShape(isSchema(declared) ? declared : {}, `${this.path}.${name}`, this.defaulted);
  }
}

function isSchema(value: unknown): value is JsonSchema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function sizeOfValue(value: unknown): number {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (value instanceof Uint8Array) return value.length;
  if (value !== null && typeof value === 'object') return Object.keys(value).length;
  return 0;
}

/** The sizes actual data has: every value that can reach one position of the expression. */
class DataShape implements Shape {
  private sized: number | undefined;
  private weighed: number | undefined;
  private elements: DataShape | undefined;
  private readonly fields = new Map<string, DataShape>();

  constructor(private readonly values: readonly unknown[]) {}

  size(): number {
    if (this.sized === undefined) {
      let max = 0;
      for (const value of this.values) max = Math.max(max, sizeOfValue(value));
      this.sized = max;
    }
    return this.sized;
  }

  /** Elements, entries and characters of the largest value here, at every depth (what `==` walks). */
  weight(): number {
    if (this.weighed === undefined) {
      let max = 0;
      for (const value of this.values) max = Math.max(max, weightOf(value));
      this.weighed = max;
    }
    return this.weighed;
  }

  element(): Shape {
    if (!this.elements) {
      const out: unknown[] = [];
      for (const value of this.values) {
        if (Array.isArray(value)) for (const item of value) out.push(item);
        else if (isPlainObject(value)) for (const key in value) out.push(value[key]);
      }
      this.elements = new DataShape(out);
    }
    return this.elements;
  }

  keys(): Shape {
    let max = 0;
    for (const value of this.values)
      if (isPlainObject(value)) for (const key in value) max = Math.max(max, key.length);
    return new Sized(max);
  }

  field(name: string): Shape {
    let shape = this.fields.get(name);
    if (!shape) {
      const out: unknown[] = [];
      for (const value of this.values)
        if (isPlainObject(value) && Object.hasOwn(value, name)) out.push(value[name]);
      this.fields.set(name, (shape = new DataShape(out)));
    }
    return shape;
  }
}

/** Elements, entries and characters of a value at every depth; iterative, linear in its size. */
function weightOf(root: unknown): number {
  let total = 0;
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    total += sizeOfValue(value);
    if (Array.isArray(value)) for (const item of value) stack.push(item);
    else if (isPlainObject(value)) for (const key in value) stack.push(value[key]);
  }
  return total;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/** Cost and result shape of one subexpression. */
interface Estimate {
  cost: number;
  shape: Shape;
}

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/**
 * Estimates an upper bound of the work evaluating `node` takes (in node evaluations, characters
 * and elements scaled by CHAR_COST), assuming no short-circuit. The walk follows the parsed AST,
 * whose depth cel-js bounds (maxDepth).
 */
function estimate(node: ASTNode, env: ReadonlyMap<string, Shape>): Estimate {
  const e = (child: ASTNode, scope = env) => estimate(child, scope);
  const a = node.args as unknown;
  switch (node.op) {
    case 'value':
      return {
        cost: 1,
        shape: typeof a === 'string' || a instanceof Uint8Array ? new Sized(a.length) : SCALAR,
      };
    case 'id':
      return { cost: 1, shape: env.get(a as string) ?? SCALAR };
    case '.':
    case '.?': {
      const [object, name] = a as [ASTNode, string];
      const inner = e(object);
      return { cost: inner.cost + 1, shape: inner.shape.field(name) };
    }
    case '[]':
    case '[?]': {
      const [object, index] = a as [ASTNode, ASTNode];
      const inner = e(object);
      const key = e(index);
      const literal = index.op === 'value' && typeof index.args === 'string' ? index.args : undefined;
      const shape = literal === undefined ? inner.shape.element() : inner.shape.field(literal);
      return { cost: inner.cost + key.cost + 1, shape };
    }
    case 'list': {
      const items = (a as ASTNode[]).map((item) => e(item));
      return {
        cost: sum(items) + 1 + items.length,
        shape: new Sized(
          items.length,
          items.reduce<Shape>((s, item) => union(s, item.shape), SCALAR),
        ),
      };
    }
    case 'map': {
      const entries = (a as Array<[ASTNode, ASTNode]>).map(([k, v]) => [k, e(k), e(v)] as const);
      const fields = new Map<string, Shape>();
      let values: Shape = SCALAR;
      for (const [k, , v] of entries) {
        if (k.op === 'value' && typeof k.args === 'string') fields.set(k.args, v.shape);
        values = union(values, v.shape);
      }
      const cost = entries.reduce((c, [, k, v]) => c + k.cost + v.cost, 1 + entries.length);
      return { cost, shape: new Sized(entries.length, values, fields) };
    }
    case '?:': {
      const [condition, left, right] = (a as ASTNode[]).map((child) => e(child)) as [
        Estimate,
        Estimate,
        Estimate,
      ];
      return {
        cost: condition.cost + Math.max(left.cost, right.cost) + 1,
        shape: union(left.shape, right.shape),
      };
    }
    case '!_':
    case '-_':
      return { cost: e(a as ASTNode).cost + 1, shape: SCALAR };
    case 'call': {
      const [name, args] = a as [string, ASTNode[]];
      return callEstimate(
        name,
        args.map((arg) => e(arg)),
      );
    }
    case 'rcall': {
      const [name, receiver, args] = a as [string, ASTNode, ASTNode[]];
      if (name === 'bind' && receiver.op === 'id' && receiver.args === 'cel' && args[0]?.op === 'id') {
        const value = e(args[1] as ASTNode);
        const body = e(args[2] as ASTNode, new Map(env).set(args[0].args as string, value.shape));
        return { cost: value.cost + body.cost + 1, shape: body.shape };
      }
      const target = e(receiver);
      if (COMPREHENSIONS.has(name) && args[0]?.op === 'id') {
        const n = target.shape.size();
        const item = union(target.shape.element(), target.shape.keys());
        const scope = new Map(env).set(args[0].args as string, item);
        const bodies = args.slice(1).map((body) => e(body, scope));
        const cost = target.cost + 1 + n * (sum(bodies) + 1);
        if (name === 'map')
          return { cost, shape: new Sized(n, (bodies[bodies.length - 1] as Estimate).shape) };
        if (name === 'filter') return { cost, shape: new Sized(n, item) };
        return { cost, shape: SCALAR };
      }
      return methodEstimate(
        name,
        target,
        args,
        args.map((arg) => e(arg)),
      );
    }
    default: {
      // Binary operators.
      const [left, right] = (a as [ASTNode, ASTNode]).map((child) => e(child)) as [Estimate, Estimate];
      const base = left.cost + right.cost + 1;
      const l = left.shape.size();
      const r = right.shape.size();
      switch (node.op) {
        case '+':
          if (l === 0 && r === 0) return { cost: base, shape: SCALAR };
          return {
            cost: base + (l + r) * CHAR_COST,
            shape: new Sized(l + r, union(left.shape.element(), right.shape.element())),
          };
        case '==':
        case '!=':
          return {
            cost: base + Math.min(deepSize(left.shape), deepSize(right.shape)) * CHAR_COST,
            shape: SCALAR,
          };
        case 'in':
          return { cost: base + r * (1 + deepSize(left.shape) * CHAR_COST), shape: SCALAR };
        case '<':
        case '<=':
        case '>':
        case '>=':
          return { cost: base + Math.min(l, r) * CHAR_COST, shape: SCALAR };
        default:
          return { cost: base, shape: SCALAR };
      }
    }
  }
}

function sum(estimates: readonly Estimate[]): number {
  return estimates.reduce((c, x) => c + x.cost, 0);
}

/**
 * Elements and characters `==` may walk in a value of this shape: all of them for actual data,
 * two levels deep for declared bounds (validation is the estimate; run time is the guard).
 */
function deepSize(shape: Shape): number {
  if (shape instanceof DataShape) return shape.weight();
  const n = shape.size();
  return n === 0 ? 0 : n * Math.max(1, shape.element().size());
}

/** Functions whose cost does not grow with their argument's size. */
const CONSTANT_TIME = new Set(['has', 'size', 'type', 'dyn', 'bool', 'int', 'uint', 'double']);

function callEstimate(name: string, args: readonly Estimate[]): Estimate {
  const chars = CONSTANT_TIME.has(name) ? 0 : args.reduce((c, x) => c + x.shape.size(), 0);
  const cost = sum(args) + 1 + chars * CHAR_COST;
  const first = args[0]?.shape ?? SCALAR;
  switch (name) {
    case 'dyn':
      return { cost, shape: first };
    case 'string':
      return { cost, shape: new Sized(Math.max(first.size() * 2, 32)) };
    case 'bytes':
      return { cost, shape: new Sized(first.size() * 4) };
    default:
      return { cost, shape: SCALAR };
  }
}

function methodEstimate(
  name: string,
  target: Estimate,
  args: readonly ASTNode[],
  values: readonly Estimate[],
): Estimate {
  const n = target.shape.size();
  const argSize = values.reduce((c, x) => Math.max(c, x.shape.size()), 0);
  const base = target.cost + sum(values) + 1;
  switch (name) {
    case 'size':
    case 'at':
      return { cost: base, shape: SCALAR };
    case 'contains':
    case 'startsWith':
    case 'endsWith':
    case 'indexOf':
    case 'lastIndexOf':
      // V8 searches strings in (near) linear time.
      return { cost: base + (n + argSize) * CHAR_COST, shape: SCALAR };
    case 'matches': {
      const pattern =
        args[0]?.op === 'value' && typeof args[0].args === 'string' ? args[0].args.length : argSize;
      return { cost: base + n * Math.max(1, pattern) * CHAR_COST, shape: SCALAR };
    }
    case 'lowerAscii':
    case 'upperAscii':
    case 'trim':
    case 'substring':
      return { cost: base + n * CHAR_COST, shape: new Sized(n) };
    case 'split':
      return { cost: base + n * CHAR_COST, shape: new Sized(n + 1, new Sized(n)) };
    case 'join': {
      const total = n * (target.shape.element().size() + argSize);
      return { cost: base + n + total * CHAR_COST, shape: new Sized(total) };
    }
    case 'json':
      return { cost: base + n * CHAR_COST, shape: new Bounded(n) };
    default:
      return { cost: base + (n + argSize) * CHAR_COST, shape: new Sized(Math.max(n, argSize) * 2) };
  }
}

/** Why a `matches` pattern may not run on the backtracking engine, or undefined when it may. */
export function regexProblem(pattern: string): string | undefined {
  if (/\\[1-9]|\\k</.test(pattern)) return 'uses a back-reference, which CEL (RE2) does not support';
  if (/\(\?<?[=!]/.test(pattern)) return 'uses lookaround, which CEL (RE2) does not support';
  // Find a repeated group that itself contains a repetition: `(a+)+`, `(a*b)*`, `(x+){2,}`.
  const groups: boolean[] = [];
  let lastGroupRepeats = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      lastGroupRepeats = false;
      continue;
    }
    if (c === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      lastGroupRepeats = false;
      continue;
    }
    if (c === '(') {
      groups.push(false);
      continue;
    }
    // `*`, `+`, `{n,}` and `{n,m}` repeat a variable number of times; `{n}` a fixed number.
    const variable = c === '*' || c === '+' || (c === '{' && /^\{\d*,\d*\}/.test(pattern.slice(i)));
    const fixed = c === '{' && /^\{\d+\}/.test(pattern.slice(i));
    if (variable || fixed) {
      if (lastGroupRepeats)
        return 'repeats a group that contains a repetition (nested quantifier), which can backtrack catastrophically';
      if (variable && groups.length) groups[groups.length - 1] = true;
      lastGroupRepeats = false;
      continue;
    }
    if (c === ')') {
      const inner = groups.pop() ?? false;
      lastGroupRepeats = inner;
      if (inner && groups.length) groups[groups.length - 1] = true;
      continue;
    }
    if (c !== '?') lastGroupRepeats = false;
  }
  return undefined;
}

/** Finds `matches` calls whose pattern is not a safe literal; returns the first problem. */
function patternProblems(node: ASTNode): string | undefined {
  const stack: unknown[] = [node];
  while (stack.length) {
    const current = stack.pop();
    if (Array.isArray(current)) {
      stack.push(...(current as unknown[]));
      continue;
    }
    if (current === null || typeof current !== 'object' || !('op' in current)) continue;
    const n = current as ASTNode;
    if (n.op === 'rcall') {
      const [name, , args] = n.args as [string, ASTNode, ASTNode[]];
      if (name === 'matches') {
        const pattern = args[0];
        if (!pattern || pattern.op !== 'value' || typeof pattern.args !== 'string') {
          return 'matches() takes a string literal pattern: a pattern from data could backtrack without bound';
        }
        const problem = regexProblem(pattern.args);
        if (problem) return `matches() pattern \`${pattern.args}\` ${problem}`;
      }
    }
    if (n.op === 'value' || n.op === 'id') continue;
    stack.push(n.args);
  }
  return undefined;
}

/** What the validator knows about the data a condition reads. */
export interface ConditionBounds {
  /** The workflow's inputSchema. */
  input?: Record<string, unknown> | undefined;
  /** The outputSchema of the task a step id runs, when known. */
  taskOutput?: (id: string) => Record<string, unknown> | undefined;
}

/** A compiled condition with the task ids it reads. */
export interface CompiledCondition {
  source: string;
  /** Ids of steps the expression reads (`tasks.<id>` or `tasks["<id>"]`): implied dependencies. */
  taskRefs: string[];
  /** Cost bound with the sizes the schemas declare (defaults where they declare none). */
  estimatedCost: number;
  /** Data paths whose size was a default bound in `estimatedCost` (`input.items (maxItems)`). */
  unboundedPaths: string[];
  /**
   * Evaluates against the execution's data; throws when the result is not a boolean, and throws
   * `SyncflowError('WhenTooCostly')` without evaluating when the cost bound on this data exceeds
   * CEL_COST_LIMIT.
   */
  evaluate(context: { input: unknown; tasks: Record<string, { output: unknown }> }): boolean;
}

const TASK_REF = /\btasks\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([^"']+)["']\s*\])/g;

/** Compiles a CEL expression; returns an Error describing the problem when it is invalid or unsafe. */
export function compileCondition(source: string, bounds: ConditionBounds = {}): CompiledCondition | Error {
  let program: ((context: Record<string, unknown>) => unknown) & { ast: ASTNode };
  try {
    program = parse(source) as unknown as typeof program;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const problem = patternProblems(program.ast);
  if (problem) return new Error(problem);
  const taskRefs = [...new Set([...source.matchAll(TASK_REF)].map((m) => (m[1] ?? m[2]) as string))];
  const defaulted: DefaultedPaths = new Set();
  const tasksShape = new Sized(
    taskRefs.length,
    SCALAR,
    new Map(
      taskRefs.map((id) => [
        id,
        new Sized(
          1,
          SCALAR,
          new Map([
            ['output', new SchemaShape(bounds.taskOutput?.(id) ?? {}, `tasks.${id}.output`, defaulted)],
          ]),
        ),
      ]),
    ),
  );
  const staticEnv = new Map<string, Shape>([
    ['input', new SchemaShape(bounds.input ?? {}, 'input', defaulted)],
    ['tasks', tasksShape],
  ]);
  const { cost } = estimate(program.ast, staticEnv);
  // Sizes beyond any JavaScript string or array: when even these keep the cost within the limit,
  // the cost does not depend on the data and evaluation needs no check (the common case).
  const huge = new Bounded(2 ** 32);
  const sizeIndependent =
    estimate(
      program.ast,
      new Map([
        ['input', huge],
        ['tasks', huge],
      ]),
    ).cost <= CEL_COST_LIMIT;
  return {
    source,
    taskRefs,
    estimatedCost: Math.ceil(cost),
    unboundedPaths: [...defaulted],
    evaluate(context) {
      if (!sizeIndependent) checkBudget(program.ast, context);
      const result = program(context as Record<string, unknown>);
      if (typeof result !== 'boolean') {
        throw new Error(`when expression must be a boolean, got ${typeof result}`);
      }
      return result;
    },
  };
}

/** Throws `WhenTooCostly` when the expression's cost bound on this data exceeds the limit. */
function checkBudget(ast: ASTNode, context: { input: unknown; tasks: unknown }): void {
  const env = new Map<string, Shape>([
    ['input', new DataShape([context.input])],
    ['tasks', new DataShape([context.tasks])],
  ]);
  const bound = Math.ceil(estimate(ast, env).cost);
  if (bound > CEL_COST_LIMIT) {
    throw new SyncflowError(
      'WhenTooCostly',
      `CEL cost limit exceeded: the expression would cost up to ${bound.toLocaleString('en-US')} on this data (limit ${CEL_COST_LIMIT.toLocaleString('en-US')}); it was not evaluated`,
    );
  }
}
