/** Builds compiled workflows for tests from YAML, the way definitions are written. */
import { parseAllDocuments } from 'yaml';
import {
  compileTask,
  compileWorkflow,
  type CompiledTask,
  type CompiledWorkflow,
} from '../../definitions/compile.ts';
import type { WorkflowDocument, WorkflowTaskDocument } from '../../model/schema.ts';

/**
 * Compiles the WorkflowTask and Workflow documents of a YAML text (`${BASE}` replaced by `base`)
 * and returns the workflow; throws with every compile error.
 */
export function compileFixture(yamlText: string, base = 'http://127.0.0.1:9'): CompiledWorkflow {
  const docs = parseAllDocuments(yamlText.replaceAll('${BASE}', base)).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  const tasks = new Map<string, CompiledTask>();
  for (const doc of docs.filter((d) => d.kind === 'WorkflowTask')) {
    const full = {
      apiVersion: 'syncflow.io/v1alpha1',
      ...doc,
      metadata: { namespace: 'test', ...(doc.metadata as object) },
    };
    const result = compileTask(full as WorkflowTaskDocument);
    if (!result.value) throw new Error(`task: ${JSON.stringify(result.errors)}`);
    tasks.set(result.value.name, result.value);
  }
  const workflow = docs.find((d) => d.kind === 'Workflow');
  if (!workflow) throw new Error('no Workflow document');
  const full = {
    apiVersion: 'syncflow.io/v1alpha1',
    ...workflow,
    metadata: { name: 'wf', namespace: 'test', ...(workflow.metadata as object) },
  };
  const result = compileWorkflow(full as WorkflowDocument, {
    get: (n) => tasks.get(n),
    names: () => tasks.keys(),
  });
  if (!result.value) throw new Error(`workflow: ${JSON.stringify(result.errors)}`);
  return result.value;
}
