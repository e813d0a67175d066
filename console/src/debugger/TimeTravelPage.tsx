/**
 * Time travel through a recorded execution: a scrubber over its events (every attempt's start and
 * failure, retries, finishes, skips, from the task records); the graph shows each task's state at
 * that instant, the values that had flowed along each edge by then, failed tasks with their error,
 * skipped ones dimmed with the `when` that skipped them and the critical path; for the task under
 * the cursor, its input template (from the revision the run used) beside the input recorded, and
 * the request it resolved to.
 */
import { useMemo, useState } from 'react';
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import {
  WORKFLOW_LABEL,
  type Execution,
  type List,
  type Revision,
  type Workflow,
  type WorkflowTask,
} from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Show } from '../components/States.tsx';
import { duration } from '../format.ts';
import { workflowGraph, type GraphEdge, type GraphTask } from '../graph/model.ts';
import type { EdgeOverlay, TaskOverlay } from '../graph/WorkflowGraph.tsx';
import { href, navigate, useRoute } from '../router.ts';
import { DebugGraph } from './DebugGraph.tsx';
import {
  criticalPath,
  edgeKey,
  edgeValues,
  shortValue,
  skipReason,
  stateAt,
  templateResolution,
  timelineOf,
  type RecordedTask,
  type TimelineEvent,
} from './model.ts';
import { HelpOverlay, TRAVEL_SHORTCUTS, useShortcuts } from './shortcuts.tsx';
import './debugger.css';

interface Loaded {
  execution: Execution;
  tasks: GraphTask[];
  edges: GraphEdge[];
  /** Per step: its input template and `when`, from the revision the run used (or the workflow now). */
  steps: Map<string, { input: unknown; when?: string }>;
  /** Where the templates came from. */
  source: string;
}

function display(value: unknown): string {
  return value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value);
}

function Travel({ ns, name, data }: { ns: string; name: string; data: Loaded }) {
  const { execution, tasks, edges, steps } = data;
  const records = (execution.status?.tasks ?? []) as RecordedTask[];
  const timeline = useMemo(() => timelineOf(execution, edges), [execution, edges]);
  const ids = useMemo(() => tasks.map((t) => t.id), [tasks]);
  const critical = useMemo(() => criticalPath(records, edges), [records, edges]);
  // The instant is part of the address (`?at=N`, an event's index), so a link can point at it.
  const asked = Number(useRoute().query.get('at') ?? NaN);
  const [index, setIndex] = useState(
    Number.isInteger(asked) && asked >= -1 && asked < timeline.length ? asked : timeline.length - 1,
  );
  const [picked, setPicked] = useState<string | undefined>();
  const [help, setHelp] = useState(false);
  const go = (next: number) => {
    const at = Math.max(-1, Math.min(timeline.length - 1, next));
    setIndex(at);
    navigate(href(`/ns/${ns}/executions/${name}/travel`, { at: String(at) }), true);
    setPicked(undefined);
  };
  useShortcuts(TRAVEL_SHORTCUTS, {
    previous: () => go(index - 1),
    next: () => go(index + 1),
    first: () => go(-1),
    last: () => go(timeline.length - 1),
    help: () => setHelp((h) => !h),
  });

  const states = stateAt(ids, timeline, index);
  const event: TimelineEvent | undefined = timeline[index];
  const start = Date.parse(execution.status?.startTime ?? '') || (timeline[0]?.at ?? 0);
  const instant = event ? event.at - start : 0;
  const cursorTask = picked ?? event?.task ?? ids[0];
  const inputs = new Map([...steps].map(([id, s]) => [id, s.input]));
  const flowed = edgeValues(edges, inputs, records, states);
  const byId = new Map(records.map((t) => [t.id, t]));

  const overlay: Record<string, TaskOverlay> = {};
  for (const id of ids) {
    const state = states[id] ?? 'pending';
    const record = byId.get(id);
    const when = steps.get(id)?.when;
    const onPath = critical.tasks.includes(id);
    let note = '';
    if (state === 'failed') note = `${record?.error?.reason ?? ''} ${record?.error?.message ?? ''}`.trim();
    else if (state === 'skipped') note = skipReason(id, when, edges, records);
    else if (state === 'cancelled') note = record?.error?.message ?? 'cancelled';
    else if (state === 'retrying') note = event?.task === id ? event.detail : 'waiting to retry';
    else if (state === 'done' && record?.substituted) note = 'substitute output (debugger)';
    overlay[id] = {
      phase: state,
      ...(note ? { note } : {}),
      className: [onPath ? 'critical' : '', state === 'skipped' || state === 'cancelled' ? 'dimmed' : '']
        .filter(Boolean)
        .join(' '),
      detail: [onPath ? 'on the critical path' : '', note].filter(Boolean).join(', '),
    };
  }
  const edgeOverlay: Record<string, EdgeOverlay> = {};
  for (const e of edges) {
    const key = edgeKey(e.from, e.to);
    const dimmed = states[e.to] === 'skipped' || states[e.to] === 'cancelled';
    const classes = [critical.edges.includes(key) ? 'critical' : '', dimmed ? 'dimmed' : ''].filter(Boolean);
    edgeOverlay[key] = classes.length ? { className: classes.join(' ') } : {};
  }
  for (const f of flowed) {
    const key = edgeKey(f.from, f.to);
    edgeOverlay[key] = { ...edgeOverlay[key], label: shortValue(f.value, 32), full: JSON.stringify(f.value) };
  }
  const cursorRecord = cursorTask ? byId.get(cursorTask) : undefined;
  const resolution =
    cursorTask && cursorRecord?.input !== undefined
      ? templateResolution(steps.get(cursorTask)?.input ?? {}, cursorRecord.input)
      : [];
  const cursorStarted = cursorTask ? states[cursorTask] !== 'pending' : false;
  const describe = (e: TimelineEvent | undefined, i: number) =>
    e
      ? `event ${i + 1} of ${timeline.length}, +${duration(e.at - start)}: ${e.task} ${e.detail}`
      : 'before the first event';

  return (
    <div className="debugger">
      <div className="scrubber" role="group" aria-label="Timeline scrubber">
        <button type="button" onClick={() => go(index - 1)} disabled={index < 0}>
          Previous event <kbd>P</kbd>
        </button>
        <input
          type="range"
          min={-1}
          max={timeline.length - 1}
          step={1}
          value={index}
          aria-label="Instant"
          aria-valuetext={describe(event, index)}
          onChange={(e) => go(Number(e.target.value))}
        />
        <button type="button" onClick={() => go(index + 1)} disabled={index >= timeline.length - 1}>
          Next event <kbd>N</kbd>
        </button>
        <button type="button" onClick={() => setHelp(true)}>
          Keyboard shortcuts <kbd>?</kbd>
        </button>
      </div>
      <p role="status" aria-live="polite" className="instant" data-index={index}>
        {event ? (
          <>
            <strong>+{duration(instant)}</strong> {event.task} {event.detail} (event {index + 1} of{' '}
            {timeline.length})
          </>
        ) : (
          'Before the first event: every task pending.'
        )}
      </p>
      <DebugGraph
        tasks={tasks}
        edges={edges}
        overlay={overlay}
        edgeOverlay={edgeOverlay}
        label={`Graph of execution ${name} at the chosen instant`}
        onActivate={setPicked}
      />
      <p className="note">Critical path (what decided the duration): {critical.tasks.join(' → ') || '—'}.</p>
      <div className="table-wrap">
        <table aria-label="Values along edges">
          <caption>Values along edges at this instant</caption>
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {flowed.length ? (
              flowed.map((f) => (
                <tr key={edgeKey(f.from, f.to)} data-edge={edgeKey(f.from, f.to)}>
                  <td>{f.from}</td>
                  <td>{f.to}</td>
                  <td>
                    <code>{JSON.stringify(f.value)}</code>
                  </td>
                </tr>
              ))
            ) : (
              <tr>
                <td colSpan={3}>No value has flowed yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {cursorTask ? (
        <section className="panel" aria-label={`Task ${cursorTask} under the cursor`}>
          <h2>
            Task {cursorTask}: {states[cursorTask]}
          </h2>
          {!cursorStarted ? (
            <p className="note">Not started at this instant: its templates are not resolved yet.</p>
          ) : resolution.length ? (
            <div className="table-wrap">
              <table aria-label={`Template resolution of ${cursorTask}`}>
                <caption>
                  Template resolution of {cursorTask} ({data.source} → recorded input)
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Field</th>
                    <th scope="col">Before (template)</th>
                    <th scope="col">After (resolved)</th>
                  </tr>
                </thead>
                <tbody>
                  {resolution.map((r) => (
                    <tr key={r.field}>
                      <th scope="row">{r.field || '(input)'}</th>
                      <td>
                        <code>{display(r.template)}</code>
                      </td>
                      <td>
                        <code>{display(r.resolved)}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p className="note">No recorded input (recorded by servers from this version on).</p>
          )}
          {cursorStarted && cursorRecord?.request ? (
            <>
              <h3>Resolved request</h3>
              <pre tabIndex={0} aria-label={`Request of ${cursorTask}`}>
                {JSON.stringify(cursorRecord.request, null, 2)}
              </pre>
            </>
          ) : null}
        </section>
      ) : null}
      <h2>Events</h2>
      <ol className="timeline-events">
        {timeline.map((e, i) => (
          <li key={`${i}`} aria-current={i === index ? 'step' : undefined}>
            <button type="button" onClick={() => go(i)}>
              +{duration(e.at - start)} {e.task}: {e.detail}
            </button>
          </li>
        ))}
      </ol>
      <HelpOverlay shortcuts={TRAVEL_SHORTCUTS} open={help} onClose={() => setHelp(false)} />
    </div>
  );
}

export default function TimeTravelPage({ ns, name }: { ns: string; name: string }) {
  const client = useClient();
  const loaded = useResource(async (signal): Promise<Loaded> => {
    const execution = await client.get<Execution>(paths.execution(ns, name), {}, signal);
    const workflowName = execution.spec.workflowRef.name;
    const [workflow, tasks, revisions] = await Promise.all([
      client.get<Workflow>(paths.workflow(ns, workflowName), {}, signal).catch(() => undefined),
      client.get<List<WorkflowTask>>(paths.tasks(ns), {}, signal).catch(() => undefined),
      client
        .get<List<Revision>>(
          paths.revisions(ns),
          { labelSelector: `${WORKFLOW_LABEL}=${workflowName}` },
          signal,
        )
        .catch(() => undefined),
    ]);
    const revision = revisions?.items.find((r) => r.hash === execution.status?.workflowRevision);
    const graph = workflow && tasks ? workflowGraph(workflow, tasks.items) : undefined;
    const stepsSource = revision?.definition.workflow.tasks ?? workflow?.spec.tasks ?? [];
    return {
      execution,
      tasks:
        graph?.tasks ?? (execution.status?.tasks ?? []).map((t) => ({ id: t.id, taskRef: t.taskRef ?? '' })),
      edges: graph?.edges ?? [],
      steps: new Map(stepsSource.map((s) => [s.id, { input: s.input, ...(s.when ? { when: s.when } : {}) }])),
      source: revision ? `revision ${revision.metadata.name}` : 'the workflow as it is now',
    };
  }, `${ns}/${name}`);
  return (
    <>
      <p className="crumbs">
        <a href={href(`/ns/${ns}/executions`)}>Executions</a> /{' '}
        <a href={href(`/ns/${ns}/executions/${name}`)}>{name}</a> / time travel
      </p>
      <h1>Time travel: {name}</h1>
      <Show loaded={loaded} what={`execution ${name}`}>
        {(data) => <Travel ns={ns} name={name} data={data} />}
      </Show>
    </>
  );
}
