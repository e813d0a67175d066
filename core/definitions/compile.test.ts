import { expect } from 'chai';
import type { WorkflowDocument, WorkflowTaskDocument } from '../model/schema.ts';
import { compileTask, compileWorkflow, type CompiledTask } from './compile.ts';

describe('compileWorkflow', () => {
  /** Compiles a one-step workflow with the given workflow timeout over a task with the given timeout. */
  function timeoutErrors(workflowTimeout: string, taskTimeout?: string) {
    const taskDoc = {
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'WorkflowTask',
      metadata: { name: 'slow', namespace: 'ns' },
      spec: {
        http: { method: 'GET', url: 'http://example.test/x' },
        ...(taskTimeout ? { timeout: taskTimeout } : {}),
      },
    } as WorkflowTaskDocument;
    const task = compileTask(taskDoc).value as CompiledTask;
    const doc = {
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name: 'wf', namespace: 'ns' },
      spec: { timeout: workflowTimeout, tasks: [{ id: 's', taskRef: { name: 'slow' } }] },
    } as WorkflowDocument;
    return compileWorkflow(doc, { get: () => task, names: () => ['slow'] }).errors;
  }

  it('names the default task timeout when a task without one exceeds the workflow timeout', () => {
    expect(timeoutErrors('2s')).to.deep.equal([
      {
        code: 'TimeoutTooLarge',
        field: 'spec.tasks[0].taskRef.name',
        message: 'task `slow` timeout 5s (the default) exceeds the workflow timeout 2s',
        suggestion: 'raise spec.timeout or lower the task timeout',
      },
    ]);
  });

  it('names the timeout as written when the task sets one', () => {
    expect(timeoutErrors('2s', '3000ms').map((e) => e.message)).to.deep.equal([
      'task `slow` timeout 3000ms exceeds the workflow timeout 2s',
    ]);
  });
});
