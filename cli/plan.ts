/**
 * `syncflow plan`: the same arguments as `run`; prints the dry-run plan (order, parallel groups,
 * inputs and `when` results the input decides) as a WorkflowExecution with `status.plan`, the
 * way `kubectl create --dry-run=server` shows it. Calls nothing.
 */
import { SyncflowError } from '../core/errors.ts';
import { planExecution } from '../core/plan/planner.ts';
import { EXIT, type CliIO } from './io.ts';
import { executionObject, parseRunArguments, prepareRun, printInvalidInput, printObject } from './run.ts';

/** Runs `plan`; returns 0 with the plan printed, 2 on misuse or invalid definitions/input. */
export async function planCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseRunArguments(args);
  const prepared = await prepareRun(parsed, io);
  if ('exit' in prepared) return prepared.exit;
  const { workflow, input } = prepared;
  try {
    const plan = await planExecution(workflow, input);
    const object = executionObject(workflow, input, {
      phase: 'Running',
      workflowRevision: workflow.revision,
      plan,
    });
    // A plan is not an execution: no phase, only the plan and the revision it was made for.
    delete (object.status as { phase?: string }).phase;
    printObject(object, parsed.output, io);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof SyncflowError && error.code === 'InvalidInput') {
      printInvalidInput(error, workflow, parsed.input ?? '--input', io);
      return EXIT.usage;
    }
    throw error;
  }
}
