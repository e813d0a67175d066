/**
 * Checks that a document has the shape of the v1alpha1 model (fields, types, enums, patterns). The
 * validators are ajv standalone code generated from core/model/schema.ts at build time
 * (hack/generate-validators.ts, checked for staleness by the test command): nothing is compiled,
 * and TypeBox is not loaded, when a command starts.
 */
import type { ErrorObject } from 'ajv';
import type { FieldError } from '../errors.ts';
import { DURATION_PATTERN } from '../model/literals.ts';
import { pointerToPath } from '../schema/json-schema.ts';
import * as generated from './shape-validators.generated.ts';

type Kind = 'Workflow' | 'WorkflowTask';

/** A generated validator: true when valid, else the ajv errors on `errors`. */
interface ShapeValidator {
  (doc: unknown): boolean;
  errors?: ErrorObject[] | null;
}

const validators: Record<Kind, ShapeValidator> = {
  Workflow: generated.Workflow,
  WorkflowTask: generated.WorkflowTask,
};
const unionLiterals: Record<Kind, Record<string, string>> = generated.unionLiterals;

/** Returns every shape error of a Workflow or WorkflowTask document. */
export function shapeErrors(kind: Kind, doc: unknown): FieldError[] {
  const validate = validators[kind];
  if (validate(doc)) return [];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of validate.errors ?? []) {
    const base = pointerToPath(e.instancePath).replace(/^\./, '');
    let error: FieldError;
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      error = { code: 'FieldRequired', field: join(base, missing), message: 'is required' };
    } else if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      error = {
        code: 'UnknownField',
        field: join(base, extra),
        message: `unknown field \`${extra}\``,
        suggestion: 'remove it or check its spelling and indentation',
      };
    } else if (e.keyword === 'const' && (base === 'apiVersion' || base === 'kind')) {
      error = {
        code: 'FieldInvalid',
        field: base,
        message: `must be \`${String((e.params as { allowedValue: unknown }).allowedValue)}\``,
      };
    } else if (e.keyword === 'pattern' && (e.params as { pattern: string }).pattern === DURATION_PATTERN) {
      error = {
        code: 'InvalidDuration',
        field: base,
        message: `\`${String(valueAt(doc, e.instancePath))}\` is not a duration`,
        suggestion: 'write a whole number with a unit: ms, s, m or h (e.g. `2s`)',
      };
    } else if (e.keyword === 'anyOf' || e.keyword === 'const') {
      // Unions of literals: report once with the accepted values.
      const allowed = enumAt(kind, e.schemaPath);
      error = {
        code: 'FieldInvalid',
        field: base,
        message: `\`${String(valueAt(doc, e.instancePath))}\` is not allowed${allowed ? `: use one of ${allowed}` : ''}`,
      };
    } else {
      error = { code: 'FieldInvalid', field: base, message: e.message ?? 'is invalid' };
    }
    const key = `${error.field}|${error.code}`;
    if (!seen.has(key)) {
      seen.add(key);
      errors.push(error);
    }
  }
  // A failed union also reports each failed literal; keep only the summary.
  return errors.filter(
    (e) => !(e.code === 'FieldInvalid' && e.message.startsWith('must be equal to constant')),
  );
}

function join(base: string, name: string): string {
  return base ? `${base}.${name}` : name;
}

function valueAt(doc: unknown, pointer: string): unknown {
  let current = doc;
  for (const part of pointer.split('/').slice(1)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return current;
}

/** The literal values of the union at an ajv schema path, formatted for a message. */
function enumAt(kind: Kind, schemaPath: string): string | undefined {
  const at = schemaPath.indexOf('/anyOf');
  return at < 0 ? undefined : unionLiterals[kind][schemaPath.slice(0, at)];
}
