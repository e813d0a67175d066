/** `when:` conditions: CEL expressions over `input` and `tasks.<id>.output`, compiled once. */
import { parse } from '@marcbachmann/cel-js';

/** A compiled condition with the task ids it reads. */
export interface CompiledCondition {
  source: string;
  /** Ids of steps the expression reads (`tasks.<id>` or `tasks["<id>"]`): implied dependencies. */
  taskRefs: string[];
  /** Evaluates against the execution's data; throws when the result is not a boolean. */
  evaluate(context: { input: unknown; tasks: Record<string, { output: unknown }> }): boolean;
}

const TASK_REF = /\btasks\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([^"']+)["']\s*\])/g;

/** Compiles a CEL expression; returns an Error describing the syntax problem when it is invalid. */
export function compileCondition(source: string): CompiledCondition | Error {
  let program: (context: Record<string, unknown>) => unknown;
  try {
    program = parse(source) as unknown as (context: Record<string, unknown>) => unknown;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const taskRefs = [...new Set([...source.matchAll(TASK_REF)].map((m) => (m[1] ?? m[2]) as string))];
  return {
    source,
    taskRefs,
    evaluate(context) {
      const result = program(context as Record<string, unknown>);
      if (typeof result !== 'boolean') {
        throw new Error(`when expression must be a boolean, got ${typeof result}`);
      }
      return result;
    },
  };
}
