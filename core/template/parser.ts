/**
 * The template language: `{{input.a.b}}`, `{{input.items[0].id}}`, `{{tasks.<id>.output.<path>}}`,
 * `{{secrets.<name>}}`, and in map steps `{{item.<path>}}` and `{{index}}`. Templates are data substitution only; nothing is ever evaluated as code.
 */
import { closestName } from '../suggest.ts';

/** One step of a data path: an object key or an array index. */
export type PathSegment = string | number;

/** What a template refers to. `path` is relative to the input, or to the task's output. */
export type TemplateRef =
  | { source: 'input'; path: PathSegment[] }
  | { source: 'task'; taskId: string; path: PathSegment[] }
  | { source: 'secret'; name: string }
  /** The current element of a map step, and its position. */
  | { source: 'item'; path: PathSegment[] }
  | { source: 'index' };

/** A parsed string: plain text, exactly one template (keeps the JSON type), or interpolation. */
export type ParsedTemplate =
  | { kind: 'literal'; text: string }
  | { kind: 'exact'; ref: TemplateRef }
  | { kind: 'interpolated'; parts: Array<string | TemplateRef> };

/** A malformed template; `column` is 1-based within the string. */
export class TemplateSyntaxError extends Error {
  readonly column: number;
  readonly suggestion: string | undefined;

  constructor(message: string, column: number, suggestion?: string) {
    super(`${message} at column ${column}`);
    this.name = 'TemplateSyntaxError';
    this.column = column;
    this.suggestion = suggestion;
  }
}

const ROOTS = ['input', 'tasks', 'secrets', 'item', 'index'] as const;
const NAME_CHAR = /[A-Za-z0-9_-]/;

/** Returns true when the string contains template syntax at all (cheap pre-check). */
export function hasTemplate(text: string): boolean {
  return text.includes('{{');
}

/** Parses a string that may contain templates; throws `TemplateSyntaxError` on malformed input. */
export function parseTemplate(text: string): ParsedTemplate {
  if (!hasTemplate(text)) return { kind: 'literal', text };
  const parts: Array<string | TemplateRef> = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, open);
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateSyntaxError('unclosed `{{`: add `}}`', open + 1);
    const nested = text.indexOf('{{', open + 2);
    if (nested >= 0 && nested < close) {
      throw new TemplateSyntaxError('`{{` inside a template: templates cannot be nested', nested + 1);
    }
    if (literal) parts.push(literal);
    literal = '';
    parts.push(parseExpression(text.slice(open + 2, close), open + 3));
    i = close + 2;
  }
  if (literal) parts.push(literal);
  if (parts.length === 1 && typeof parts[0] !== 'string')
    return { kind: 'exact', ref: parts[0] as TemplateRef };
  return { kind: 'interpolated', parts };
}

/** Parses the text between `{{` and `}}`; `base` is the 1-based column of its first character. */
function parseExpression(body: string, base: number): TemplateRef {
  const scanner = new Scanner(body, base);
  scanner.skipSpaces();
  if (scanner.done()) throw new TemplateSyntaxError('empty template: write e.g. `{{input.userId}}`', base);
  const rootColumn = scanner.column();
  const root = scanner.name();
  if (!root) throw scanner.unexpected('a reference such as `input`, `tasks` or `secrets`');
  let ref: TemplateRef;
  if (root === 'input') {
    ref = { source: 'input', path: scanner.path() };
  } else if (root === 'tasks') {
    const taskId = scanner.dotName('a task id');
    const outputColumn = scanner.column();
    const field = scanner.dotName('`output`');
    if (field !== 'output') {
      throw new TemplateSyntaxError(
        `expected \`output\` after task \`${taskId}\`, found \`${field}\``,
        outputColumn + 1,
      );
    }
    ref = { source: 'task', taskId, path: scanner.path() };
  } else if (root === 'secrets') {
    ref = { source: 'secret', name: scanner.dotName('a secret name') };
  } else if (root === 'item') {
    ref = { source: 'item', path: scanner.path() };
  } else if (root === 'index') {
    ref = { source: 'index' };
  } else {
    const suggestion = closestName(root, ROOTS);
    throw new TemplateSyntaxError(
      `unknown reference \`${root}\`: templates start with input, tasks, secrets, item or index`,
      rootColumn,
      suggestion ? `did you mean \`${suggestion}\`?` : undefined,
    );
  }
  scanner.skipSpaces();
  if (!scanner.done()) throw scanner.unexpected('`}}`');
  return ref;
}

/** Character scanner over one template expression, tracking columns for error messages. */
class Scanner {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly base: number,
  ) {}

  done(): boolean {
    return this.pos >= this.text.length;
  }

  column(): number {
    return this.base + this.pos;
  }

  skipSpaces(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }

  name(): string {
    const start = this.pos;
    while (this.pos < this.text.length && NAME_CHAR.test(this.text[this.pos] as string)) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Reads `.name` and returns name. */
  dotName(what: string): string {
    if (this.text[this.pos] !== '.') throw this.unexpected(`\`.\` followed by ${what}`);
    this.pos++;
    const name = this.name();
    if (!name) throw this.unexpected(what);
    return name;
  }

  /** Reads a sequence of `.key`, `[n]`, `["key"]` segments, stopping at spaces or the end. */
  path(): PathSegment[] {
    const path: PathSegment[] = [];
    while (!this.done()) {
      const c = this.text[this.pos];
      if (c === '.') {
        path.push(this.dotName('a field name'));
      } else if (c === '[') {
        path.push(this.bracket());
      } else {
        break;
      }
    }
    return path;
  }

  private bracket(): PathSegment {
    this.pos++;
    const c = this.text[this.pos];
    if (c === '"' || c === "'") {
      const end = this.text.indexOf(c, this.pos + 1);
      if (end < 0) throw new TemplateSyntaxError('unterminated quoted key', this.column());
      const key = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      this.expect(']');
      return key;
    }
    const start = this.pos;
    while (this.pos < this.text.length && /[0-9]/.test(this.text[this.pos] as string)) this.pos++;
    if (start === this.pos) throw this.unexpected('an array index such as `[0]`');
    const index = Number(this.text.slice(start, this.pos));
    this.expect(']');
    return index;
  }

  private expect(char: string): void {
    if (this.text[this.pos] !== char) throw this.unexpected(`\`${char}\``);
    this.pos++;
  }

  unexpected(expected: string): TemplateSyntaxError {
    const found = this.done() ? 'end of template' : `\`${this.text[this.pos]}\``;
    return new TemplateSyntaxError(`expected ${expected}, found ${found}`, this.column());
  }
}

/** Formats a path as written in templates: `items[0].id`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Formats a reference as its template text without braces. */
export function formatRef(ref: TemplateRef): string {
  switch (ref.source) {
    case 'input':
      return ref.path.length ? `input${prefixed(formatPath(ref.path))}` : 'input';
    case 'task':
      return `tasks.${ref.taskId}.output${ref.path.length ? prefixed(formatPath(ref.path)) : ''}`;
    case 'secret':
      return `secrets.${ref.name}`;
    case 'item':
      return ref.path.length ? `item${prefixed(formatPath(ref.path))}` : 'item';
    case 'index':
      return 'index';
  }
}

function prefixed(path: string): string {
  return path.startsWith('[') ? path : `.${path}`;
}
