/**
 * One workflow: its graph (tabs in the URL: graph, schemas, revisions, yaml), input and output
 * schemas, revisions with a side-by-side diff of any two, and the YAML.
 */
import { useState } from 'react';
import { stringify } from 'yaml';
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import { WORKFLOW_LABEL, type List, type Revision, type Workflow, type WorkflowTask } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Empty, Show } from '../components/States.tsx';
import { SchemaTable } from '../components/SchemaTable.tsx';
import { diffLines } from '../diff.ts';
import { ago, shortRevision } from '../format.ts';
import { workflowGraph } from '../graph/model.ts';
import { WorkflowGraph } from '../graph/WorkflowGraph.tsx';
import { href, navigate } from '../router.ts';

const TABS = ['graph', 'schemas', 'revisions', 'yaml'] as const;

/** A workflow and the WorkflowTasks of its namespace (the graph needs their methods and hosts). */
export function useWorkflowWithTasks(ns: string, name: string) {
  const client = useClient();
  return useResource(async (signal) => {
    const [workflow, tasks] = await Promise.all([
      client.get<Workflow>(paths.workflow(ns, name), {}, signal),
      client.get<List<WorkflowTask>>(paths.tasks(ns), {}, signal),
    ]);
    return { workflow, tasks: tasks.items, graph: workflowGraph(workflow, tasks.items) };
  }, `${ns}/${name}`);
}

/** An object as YAML, without the bookkeeping kubectl also hides. */
export function objectYaml(object: unknown): string {
  const copy = structuredClone(object) as { metadata?: Record<string, unknown> };
  if (copy?.metadata) delete copy.metadata.managedFields;
  return stringify(copy, { lineWidth: 0 });
}

function Revisions({ ns, name, query }: { ns: string; name: string; query: URLSearchParams }) {
  const client = useClient();
  const revisions = useResource(
    (signal) =>
      client.get<List<Revision>>(paths.revisions(ns), { labelSelector: `${WORKFLOW_LABEL}=${name}` }, signal),
    `rev/${ns}/${name}`,
  );
  return (
    <Show loaded={revisions} what={`the revisions of ${name}`}>
      {(list) => {
        const items = [...list.items].sort((a, b) =>
          String(b.metadata.creationTimestamp ?? '').localeCompare(
            String(a.metadata.creationTimestamp ?? ''),
          ),
        );
        if (!items.length)
          return (
            <Empty>
              No revisions recorded yet: the server records one when the workflow first becomes Ready.
            </Empty>
          );
        const pick = (key: string, fallback: number) =>
          items.find((r) => r.metadata.name === query.get(key) || r.hash === query.get(key)) ??
          items[Math.min(fallback, items.length - 1)];
        const left = pick('from', 1) as Revision;
        const right = pick('to', 0) as Revision;
        const choose = (key: 'from' | 'to', value: string) =>
          navigate(
            href(`/ns/${ns}/workflows/${name}`, {
              tab: 'revisions',
              from: key === 'from' ? value : left.metadata.name,
              to: key === 'to' ? value : right.metadata.name,
            }),
            true,
          );
        const rows = diffLines(
          stringify(left.definition, { lineWidth: 0 }),
          stringify(right.definition, { lineWidth: 0 }),
        );
        return (
          <>
            <div className="table-wrap">
              <table>
                <caption>Revisions of {name}</caption>
                <thead>
                  <tr>
                    <th scope="col">Revision</th>
                    <th scope="col">Recorded</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((r) => (
                    <tr key={r.metadata.name}>
                      <th scope="row">
                        <code>{shortRevision(r.hash)}</code>
                      </th>
                      <td>{ago(r.metadata.creationTimestamp)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <h2>Compare two revisions</h2>
            <div className="controls">
              {(['from', 'to'] as const).map((key) => (
                <label key={key}>
                  {key === 'from' ? 'Older' : 'Newer'}{' '}
                  <select
                    value={(key === 'from' ? left : right).metadata.name}
                    onChange={(e) => choose(key, e.target.value)}
                  >
                    {items.map((r) => (
                      <option key={r.metadata.name} value={r.metadata.name}>
                        {shortRevision(r.hash)} ({ago(r.metadata.creationTimestamp)})
                      </option>
                    ))}
                  </select>
                </label>
              ))}
            </div>
            <div
              className="diff"
              role="table"
              tabIndex={0}
              aria-label="Differences between the two revisions"
            >
              {rows.map((row, i) => (
                <div role="row" className={`diff-row ${row.kind}`} key={i}>
                  <pre role="cell" aria-label={row.kind === 'removed' ? 'removed' : undefined}>
                    {row.left ?? ''}
                  </pre>
                  <pre role="cell" aria-label={row.kind === 'added' ? 'added' : undefined}>
                    {row.right ?? ''}
                  </pre>
                </div>
              ))}
            </div>
          </>
        );
      }}
    </Show>
  );
}

export default function WorkflowPage({
  ns,
  name,
  query,
}: {
  ns: string;
  name: string;
  query: URLSearchParams;
}) {
  const loaded = useWorkflowWithTasks(ns, name);
  const tab = (TABS as readonly string[]).includes(query.get('tab') ?? '')
    ? (query.get('tab') as (typeof TABS)[number])
    : 'graph';
  const [selected, setSelected] = useState<string | undefined>();
  return (
    <>
      <p className="crumbs">
        <a href={href(`/ns/${ns}/workflows`)}>Workflows</a> / {name}
      </p>
      <Show loaded={loaded} what={`workflow ${name}`}>
        {({ workflow, tasks, graph }) => {
          const ready = workflow.status?.conditions?.find((c) => c.type === 'Ready');
          const step = workflow.spec.tasks.find((t) => t.id === selected);
          return (
            <>
              <div className="title-row">
                <h1>{name}</h1>
                <span className={`badge ${ready?.status === 'True' ? 'ok' : 'bad'}`}>
                  {ready?.status === 'True' ? 'Ready' : `Not ready ${ready?.reason ?? ''}`}
                </span>
                <code title={workflow.status?.revision}>{shortRevision(workflow.status?.revision)}</code>
                <a className="button primary" href={href(`/ns/${ns}/workflows/${name}/run`)}>
                  Run…
                </a>
                <a className="button" href={href(`/ns/${ns}/workflows/${name}/debug`)}>
                  Debug…
                </a>
                <a className="button" href={href(`/ns/${ns}/executions`, { workflow: name })}>
                  Executions
                </a>
              </div>
              {ready?.status !== 'True' && ready?.message ? <p className="note">{ready.message}</p> : null}
              <nav className="tabs" aria-label="Workflow views">
                {TABS.map((t) => (
                  <a
                    key={t}
                    href={href(`/ns/${ns}/workflows/${name}`, { tab: t })}
                    aria-current={t === tab ? 'page' : undefined}
                  >
                    {t === 'yaml' ? 'YAML' : t[0]?.toUpperCase() + t.slice(1)}
                  </a>
                ))}
              </nav>
              {tab === 'graph' ? (
                <>
                  <WorkflowGraph
                    tasks={graph.tasks}
                    edges={graph.edges}
                    label={`Graph of workflow ${name}`}
                    onSelect={setSelected}
                  />
                  {graph.errors.length ? (
                    <div className="note" role="note">
                      The validator reports {graph.errors.length} problem(s):
                      <ul>
                        {graph.errors.map((e, i) => (
                          <li key={i}>
                            <code>{e.field}</code>: {e.message}
                          </li>
                        ))}
                      </ul>
                    </div>
                  ) : null}
                  {step ? (
                    <section aria-label={`Task ${step.id}`} className="panel">
                      <h2>Task {step.id}</h2>
                      <pre tabIndex={0}>{stringify(step, { lineWidth: 0 })}</pre>
                    </section>
                  ) : null}
                  <details>
                    <summary>Tasks as a list</summary>
                    <ul>
                      {graph.tasks.map((t) => (
                        <li key={t.id}>
                          {t.id} ({t.taskRef}, {t.method} {t.host}) after{' '}
                          {graph.edges
                            .filter((e) => e.to === t.id)
                            .map((e) => e.from)
                            .join(', ') || 'nothing'}
                          {t.when ? `, when ${t.when}` : ''}
                        </li>
                      ))}
                    </ul>
                  </details>
                </>
              ) : null}
              {tab === 'schemas' ? (
                <>
                  <SchemaTable schema={workflow.spec.inputSchema} caption="Input schema" />
                  <h2>Output</h2>
                  {workflow.spec.output !== undefined ? (
                    <pre tabIndex={0}>{stringify(workflow.spec.output, { lineWidth: 0 })}</pre>
                  ) : (
                    <Empty>No output mapping.</Empty>
                  )}
                  <h2>What each task returns</h2>
                  {workflow.spec.tasks.map((step) => (
                    <SchemaTable
                      key={step.id}
                      schema={tasks.find((t) => t.metadata.name === step.taskRef.name)?.spec.outputSchema}
                      caption={`Output of task ${step.id} (${step.taskRef.name})`}
                    />
                  ))}
                </>
              ) : null}
              {tab === 'revisions' ? <Revisions ns={ns} name={name} query={query} /> : null}
              {tab === 'yaml' ? (
                <pre className="yaml" tabIndex={0} aria-label="Workflow YAML">
                  {objectYaml(workflow)}
                </pre>
              ) : null}
            </>
          );
        }}
      </Show>
    </>
  );
}
