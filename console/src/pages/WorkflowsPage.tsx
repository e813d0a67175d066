/** Workflows of a namespace: Ready, revision, tasks, the last execution and the median duration (from history). */
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import { WORKFLOW_LABEL, type Execution, type List, type Workflow } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Empty, Show } from '../components/States.tsx';
import { ago, duration, median, shortRevision } from '../format.ts';
import { href } from '../router.ts';

interface History {
  last?: Execution;
  p50?: number;
  count: number;
}

/** Per workflow: its latest execution and the median duration of the finished ones listed. */
function historyByWorkflow(executions: readonly Execution[]): Map<string, History> {
  const groups = new Map<string, Execution[]>();
  for (const e of executions) {
    const name = e.metadata.labels?.[WORKFLOW_LABEL] ?? e.spec.workflowRef.name;
    groups.set(name, [...(groups.get(name) ?? []), e]);
  }
  const result = new Map<string, History>();
  for (const [name, list] of groups) {
    const time = (e: Execution) => Date.parse(e.status?.startTime ?? e.metadata.creationTimestamp ?? '') || 0;
    const last = list.reduce((a, b) => (time(b) > time(a) ? b : a));
    const durations = list.map((e) => e.status?.durationMs).filter((d): d is number => typeof d === 'number');
    result.set(name, { last, p50: median(durations), count: list.length });
  }
  return result;
}

export function WorkflowsPage({ ns }: { ns: string }) {
  const client = useClient();
  const workflows = useResource(
    (signal) => client.get<List<Workflow>>(paths.workflows(ns), {}, signal),
    `wf/${ns}`,
  );
  // History is a bonus: a person who may list workflows but not executions still sees the list.
  const executions = useResource(
    (signal) => client.get<List<Execution>>(paths.executions(ns), { limit: 500 }, signal),
    `wfx/${ns}`,
  );
  const history =
    executions.state === 'ready' ? historyByWorkflow(executions.data.items) : new Map<string, History>();
  return (
    <>
      <h1>Workflows in {ns}</h1>
      <Show loaded={workflows} what={`the workflows of ${ns}`}>
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No workflows in namespace {ns}. Apply some with kubectl (examples/ has three).</Empty>
          ) : (
            <div className="table-wrap">
              <table className="reflow">
                <caption className="sr-only">Workflows in {ns}</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Ready</th>
                    <th scope="col">Revision</th>
                    <th scope="col">Tasks</th>
                    <th scope="col">Last execution</th>
                    <th scope="col">p50 duration</th>
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((wf) => {
                    const ready = wf.status?.conditions?.find((c) => c.type === 'Ready');
                    const h = history.get(wf.metadata.name);
                    return (
                      <tr key={wf.metadata.name}>
                        <th scope="row">
                          <a href={href(`/ns/${ns}/workflows/${wf.metadata.name}`)}>{wf.metadata.name}</a>
                        </th>
                        <td data-label="Ready">
                          <span
                            className={`badge ${ready?.status === 'True' ? 'ok' : 'bad'}`}
                            title={ready?.message ?? ''}
                          >
                            {ready
                              ? ready.status === 'True'
                                ? 'Ready'
                                : `Not ready: ${ready.reason ?? ''}`
                              : 'Unknown'}
                          </span>
                        </td>
                        <td data-label="Revision">
                          <code>{shortRevision(wf.status?.revision)}</code>
                        </td>
                        <td data-label="Tasks">{wf.spec.tasks?.length ?? 0}</td>
                        <td data-label="Last execution">
                          {h?.last ? (
                            <a href={href(`/ns/${ns}/executions/${h.last.metadata.name}`)}>
                              <span className={`badge phase-${(h.last.status?.phase ?? '').toLowerCase()}`}>
                                {h.last.status?.phase ?? '—'}
                              </span>{' '}
                              {ago(h.last.status?.startTime ?? h.last.metadata.creationTimestamp)}
                            </a>
                          ) : executions.state === 'error' ? (
                            'not visible'
                          ) : (
                            'none'
                          )}
                        </td>
                        <td data-label="p50 duration">{h ? `${duration(h.p50)} (${h.count})` : '—'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
      {executions.state === 'error' ? (
        <p className="note">Execution history is not shown: {executions.error.message}</p>
      ) : null}
    </>
  );
}
