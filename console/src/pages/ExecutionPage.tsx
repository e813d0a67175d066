/**
 * One execution: phase, input and output, the graph with each task's phase (failures highlighted),
 * the timeline, each task's request and response (as the server recorded them, secrets redacted
 * there), the YAML and a link to the revision it ran. Kept current by a watch while Running.
 */
import { useEffect, useState } from 'react';
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import type { Execution, List, Workflow, WorkflowTask } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Show } from '../components/States.tsx';
import { ExecutionTimeline } from '../components/ExecutionTimeline.tsx';
import { ago, duration, shortRevision } from '../format.ts';
import { workflowGraph, type GraphEdge, type GraphTask } from '../graph/model.ts';
import { WorkflowGraph, type TaskOverlay } from '../graph/WorkflowGraph.tsx';
import { href, navigate } from '../router.ts';
import { objectYaml } from './WorkflowPage.tsx';
import { TaskDetails } from '../components/TaskDetails.tsx';
import { recordedTaskOverlay } from '../components/task-progress.ts';
import { phaseAt, recordedSpan, useReplayClock } from '../components/replay.ts';

const TABS = ['overview', 'yaml'] as const;

export default function ExecutionPage({
  ns,
  name,
  query,
}: {
  ns: string;
  name: string;
  query: URLSearchParams;
}) {
  const client = useClient();
  const loaded = useResource(async (signal) => {
    const execution = await client.get<Execution>(paths.execution(ns, name), {}, signal);
    // The graph comes from the workflow as it is now; when that is gone, from the tasks recorded.
    const graph = await Promise.all([
      client.get<Workflow>(paths.workflow(ns, execution.spec.workflowRef.name), {}, signal),
      client.get<List<WorkflowTask>>(paths.tasks(ns), {}, signal),
    ]).then(
      ([workflow, tasks]) => workflowGraph(workflow, tasks.items),
      () => undefined,
    );
    return { execution, graph };
  }, `${ns}/${name}`);
  const [live, setLive] = useState<Execution | undefined>();
  const selected = query.get('task') ?? undefined;
  // The chosen task is part of the address, so a link can point at it.
  const setSelected = (task: string | undefined) => {
    if (task === selected) return;
    const next = new URLSearchParams(query);
    if (task) next.set('task', task);
    else next.delete('task');
    navigate(href(`/ns/${ns}/executions/${name}`, Object.fromEntries(next)), true);
  };
  const tab = query.get('tab') === 'yaml' ? 'yaml' : 'overview';
  // Recorded runs take milliseconds: replay stretches them 1, 10 or 100 times to be watched.
  const [speed, setSpeed] = useState(Number(query.get('slow')) || 10);
  const span = loaded.state === 'ready' ? recordedSpan(loaded.data.execution) : { start: 0, total: 0 };
  const replay = useReplayClock(span.total);
  const first = loaded.state === 'ready' ? loaded.data.execution : undefined;
  useEffect(() => {
    if (first?.status?.phase !== 'Running') return;
    return client.watch<Execution>(
      paths.executions(ns),
      { fieldSelector: `metadata.name=${name}` },
      (e) => (e.type === 'ADDED' || e.type === 'MODIFIED') && setLive(e.object),
      () => undefined,
    );
  }, [first]);
  return (
    <>
      <p className="crumbs">
        <a href={href(`/ns/${ns}/executions`)}>Executions</a> / {name}
      </p>
      <Show loaded={loaded} what={`execution ${name}`}>
        {(data) => {
          const execution = live ?? data.execution;
          const status = execution.status ?? {};
          const workflow = execution.spec.workflowRef.name;
          const tasks: GraphTask[] =
            data.graph?.tasks ?? (status.tasks ?? []).map((t) => ({ id: t.id, taskRef: t.taskRef ?? '' }));
          const edges: GraphEdge[] = data.graph?.edges ?? [];
          const overlay: Record<string, TaskOverlay> = {};
          for (const t of status.tasks ?? [])
            overlay[t.id] = {
              phase: replay.at === undefined ? t.phase : phaseAt(t, span.start, replay.at, span.total),
              note: [
                t.httpStatus ? `HTTP ${t.httpStatus}` : '',
                t.durationMs !== undefined ? duration(t.durationMs) : '',
                (t.attempts ?? 1) > 1 ? `${t.attempts} attempts` : '',
              ]
                .filter(Boolean)
                .join(' · '),
              ...recordedTaskOverlay(t),
            };
          return (
            <>
              <div className="title-row">
                <h1>{name}</h1>
                <span className={`badge phase-${(status.phase ?? '').toLowerCase()}`}>{status.phase}</span>
                <span>
                  {duration(status.durationMs)}, {ago(status.startTime)}
                </span>
                <a className="button" href={href(`/ns/${ns}/compare`, { a: name })}>
                  Compare…
                </a>
                <a className="button" href={href(`/ns/${ns}/executions/${name}/travel`)}>
                  Time travel
                </a>
                {execution.metadata.annotations?.['syncflow.io/debug'] === 'true' ? (
                  <span className="badge">debug run (syncflow.io/debug)</span>
                ) : null}
                <a
                  className="button"
                  href={href(`/ns/${ns}/workflows/${workflow}/run`, {
                    input: JSON.stringify(execution.spec.input ?? {}),
                    ...(status.workflowRevision ? { revision: status.workflowRevision } : {}),
                  })}
                >
                  Re-run with this input…
                </a>
              </div>
              <p>
                Workflow <a href={href(`/ns/${ns}/workflows/${workflow}`)}>{workflow}</a>, revision{' '}
                <a
                  href={href(`/ns/${ns}/workflows/${workflow}`, {
                    tab: 'revisions',
                    to: status.workflowRevision,
                  })}
                >
                  <code>{shortRevision(status.workflowRevision)}</code>
                </a>
                {status.user ? `, run by ${status.user}` : ''}
              </p>
              {status.phase === 'Failed' ? (
                <p className="state error" role="alert">
                  <strong>{status.reason}</strong> {status.message}
                </p>
              ) : null}
              <nav className="tabs" aria-label="Execution views">
                {TABS.map((t) => (
                  <a
                    key={t}
                    href={href(`/ns/${ns}/executions/${name}`, { tab: t })}
                    aria-current={t === tab ? 'page' : undefined}
                  >
                    {t === 'yaml' ? 'YAML' : 'Overview'}
                  </a>
                ))}
              </nav>
              {tab === 'yaml' ? (
                <pre className="yaml" tabIndex={0} aria-label="Execution YAML">
                  {objectYaml(execution)}
                </pre>
              ) : (
                <>
                  <div className="controls" role="group" aria-label="Replay">
                    <label>
                      Replay pace{' '}
                      <select value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
                        <option value={1}>1× (as recorded)</option>
                        <option value={10}>10× slower</option>
                        <option value={100}>100× slower</option>
                      </select>
                    </label>
                    <button type="button" onClick={() => replay.play(1 / speed)}>
                      Replay
                    </button>
                    {replay.at !== undefined ? (
                      <>
                        <span role="status" className="replay-clock">
                          {duration(replay.at)} of {duration(span.total)}
                          {replay.at >= span.total ? ', replayed' : ''}
                        </span>
                        <button type="button" onClick={replay.stop}>
                          Stop replay
                        </button>
                      </>
                    ) : null}
                  </div>
                  <WorkflowGraph
                    tasks={tasks}
                    edges={edges}
                    overlay={overlay}
                    label={`Graph of execution ${name}`}
                    onSelect={setSelected}
                  />
                  <h2>Timeline</h2>
                  <ExecutionTimeline execution={execution} edges={edges} />
                  <h2>Tasks</h2>
                  <p className="muted">
                    Each task's request and response, as the server recorded them (secrets redacted).
                  </p>
                  <div className="task-list">
                    {(status.tasks ?? []).map((t) => (
                      <TaskDetails
                        key={t.id}
                        task={t}
                        open={t.id === selected}
                        onToggle={(open) => setSelected(open ? t.id : undefined)}
                      />
                    ))}
                  </div>
                  <div className="columns">
                    <section aria-label="Input">
                      <h2>Input</h2>
                      <pre tabIndex={0}>{objectYaml(execution.spec.input ?? {})}</pre>
                    </section>
                    <section aria-label="Output">
                      <h2>Output</h2>
                      <pre tabIndex={0}>{objectYaml(status.output ?? null)}</pre>
                    </section>
                  </div>
                </>
              )}
            </>
          );
        }}
      </Show>
    </>
  );
}
