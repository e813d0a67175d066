/** Checks a workflow input against the workflow's inputSchema before anything runs. */
import type { CompiledWorkflow } from '../definitions/compile.ts';
import { SyncflowError } from '../errors.ts';
import { LIMITS } from '../model/resources.ts';
import { valueDepth } from '../model/depth.ts';
import { schemaErrorsToFieldErrors } from '../schema/json-schema.ts';

/**
 * Returns the input to run with (`{}` when none was given). Throws `SyncflowError('InvalidInput')`
 * whose causes carry `spec.input.<field>` paths, so API layers can answer 422 with `details.causes`.
 * Input nested deeper than the JSON depth limit is refused whatever the caller (server or CLI), so
 * every walk the engine makes over it is bounded.
 */
export function checkWorkflowInput(workflow: CompiledWorkflow, input: unknown): unknown {
  const value = input === undefined ? {} : input;
  if (valueDepth(value, LIMITS.maxJsonDepth) > LIMITS.maxJsonDepth) {
    const message = `nests more than ${LIMITS.maxJsonDepth} levels deep, the limit for JSON`;
    throw new SyncflowError('InvalidInput', `input ${message}`, {
      causes: [{ code: 'InvalidInput', field: 'spec.input', message, suggestion: 'flatten the input' }],
    });
  }
  const schema = workflow.inputSchema;
  if (schema && !schema.validate(value)) {
    const causes = schemaErrorsToFieldErrors(schema.validate.errors, 'spec.input', 'InvalidInput');
    throw new SyncflowError(
      'InvalidInput',
      `input does not match the inputSchema of workflow ${workflow.namespace}/${workflow.name}: ${causes
        .map((c) => `${c.field} ${c.message}`)
        .join('; ')}`,
      { causes },
    );
  }
  return value;
}
