/** A catalog holding one WorkflowTask and a Workflow of one step calling it, for tests of the run path. */
import { DefinitionCatalog } from '../catalog.ts';

/** Names and URL of the one task; each defaults to what most tests use. */
export interface OneTaskCatalogOptions {
  namespace?: string;
  task?: string;
  workflow?: string;
  step?: string;
  url?: string;
}

/** `WorkflowTask/<task>` (GET `url`) and `Workflow/<workflow>` with one step `<step>` calling it. */
export function oneTaskCatalog({
  namespace = 'ns',
  task = 't',
  workflow = 'wf',
  step = 'a',
  url = 'http://x.svc/',
}: OneTaskCatalogOptions = {}): DefinitionCatalog {
  const catalog = new DefinitionCatalog();
  catalog.upsert({
    kind: 'WorkflowTask',
    metadata: { name: task, namespace, resourceVersion: '1' },
    spec: { http: { method: 'GET', url } },
  });
  catalog.upsert({
    kind: 'Workflow',
    metadata: { name: workflow, namespace, resourceVersion: '2' },
    spec: { tasks: [{ id: step, taskRef: { name: task } }] },
  });
  return catalog;
}
