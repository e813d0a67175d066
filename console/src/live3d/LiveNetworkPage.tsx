/**
 * The live 3D view of a namespace (`#/ns/<ns>/live`, docs/live-view.md): every WorkflowTask a
 * glowing node, every dependency a link, each execution a wave of signals, fed by the stream's
 * `subscribe`; replay from history at 1×, 10×, 100×; the network's growth from revisions; and the
 * same information as a live table. Loaded lazily: three.js is in this page's chunk only.
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useClient } from '../App.tsx';
import { bearerToken, paths } from '../api/client.ts';
import { ConsoleStream } from '../api/stream.ts';
import type { Execution, List, Revision, Workflow, WorkflowTask } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Empty, ErrorView, Show } from '../components/States.tsx';
import { workflowGraph } from '../graph/model.ts';
import {
  layoutNetwork,
  type NetworkLayout,
  type NetworkWorkflow,
} from '../../../core/graph/network-layout.ts';
import { LiveController, type LiveSnapshot, type LiveView } from './controller.ts';
import { installHook, type Live3dHook } from './hook.ts';
import type { NodePhase } from './model.ts';
import { growthOrder, historyTimeline } from './replay.ts';
import { NetworkScene } from './scene.ts';
import { LiveTable } from './LiveTable.tsx';
import './live3d.css';

/** Events this close together reach the page as one message (docs/stream.md "Batches"). */
const BATCH_MS = 50;
const SPEEDS = [1, 10, 100];
const WINDOWS = [
  { label: '10 s', ms: 10_000 },
  { label: '1 min', ms: 60_000 },
  { label: '5 min', ms: 300_000 },
];
const PHASES: NodePhase[] = ['Idle', 'Running', 'Succeeded', 'Failed', 'Skipped'];

/** The network of the namespace's workflows, as the layout reads them. */
function networkWorkflows(workflows: readonly Workflow[], tasks: readonly WorkflowTask[]): NetworkWorkflow[] {
  return workflows.map((w) => {
    const graph = workflowGraph(w, tasks);
    return {
      namespace: w.metadata.namespace ?? '',
      name: w.metadata.name,
      labels: w.metadata.labels ?? {},
      tasks: graph.tasks.map((t) => ({ id: t.id, taskRef: t.taskRef })),
      edges: graph.edges.map((e) => ({ from: e.from, to: e.to })),
    };
  });
}

/** Lays out with the previous layout of this browser, so that nodes keep their places between visits. */
function storedLayout(ns: string, cluster: string | undefined, workflows: NetworkWorkflow[]): NetworkLayout {
  const key = `syncflow-live3d-layout:${ns}:${cluster ?? ''}`;
  let previous: NetworkLayout | undefined;
  try {
    const stored = localStorage.getItem(key);
    previous = stored ? (JSON.parse(stored) as NetworkLayout) : undefined;
  } catch {
    previous = undefined;
  }
  const layout = layoutNetwork(workflows, {
    ...(cluster ? { clusterLabel: cluster } : {}),
    ...(previous && Array.isArray(previous.nodes) ? { previous } : {}),
  });
  try {
    localStorage.setItem(key, JSON.stringify({ ...layout, links: [] }));
  } catch {
    // A full storage only costs stability across visits.
  }
  return layout;
}

/** What a change to the workflow's definition bumps (status updates do not). */
function generation(workflow: Workflow): number | undefined {
  return (workflow.metadata as { generation?: number }).generation;
}

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

function formatMs(ms: number | undefined): string {
  return ms === undefined ? '–' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export default function LiveNetworkPage({ ns, query }: { ns: string; query: URLSearchParams }) {
  const client = useClient();
  const cluster = query.get('cluster') ?? undefined;
  const definitions = useResource(async (signal) => {
    const [workflows, tasks] = await Promise.all([
      client.get<List<Workflow>>(paths.workflows(ns), {}, signal),
      client.get<List<WorkflowTask>>(paths.tasks(ns), {}, signal),
    ]);
    return {
      workflows: networkWorkflows(workflows.items, tasks.items),
      resourceVersion: workflows.metadata.resourceVersion,
      generations: new Map(workflows.items.map((w) => [w.metadata.name, generation(w)])),
    };
  }, `live3d/${ns}`);
  const { reload } = definitions;
  const loaded = definitions.state === 'ready' ? definitions.data : undefined;
  // A workflow added, removed or changed: laid out again from the stored layout, so the nodes
  // there keep their places and only new ones find one.
  useEffect(() => {
    if (!loaded?.resourceVersion) return;
    const known = loaded.generations;
    return client.watch<Workflow>(
      paths.workflows(ns),
      { resourceVersion: loaded.resourceVersion },
      (event) => {
        const name = event.object.metadata?.name;
        if (event.type === 'ADDED' || event.type === 'DELETED') {
          if (event.type === 'ADDED' && known.get(name) === generation(event.object)) return;
          reload();
        } else if (event.type === 'MODIFIED' && known.get(name) !== generation(event.object)) reload();
      },
      () => undefined,
    );
  }, [client, ns, loaded, reload]);
  return (
    <>
      <h1>Live network of {ns}</h1>
      <Show loaded={definitions} what={`the workflows of ${ns}`}>
        {({ workflows }) =>
          workflows.length === 0 ? (
            <Empty>No workflows in namespace {ns}: there is no network to draw yet.</Empty>
          ) : (
            <LiveNetwork ns={ns} cluster={cluster} workflows={workflows} />
          )
        }
      </Show>
    </>
  );
}

function LiveNetwork({
  ns,
  cluster,
  workflows,
}: {
  ns: string;
  cluster: string | undefined;
  workflows: NetworkWorkflow[];
}) {
  const client = useClient();
  const canvas = useRef<HTMLCanvasElement>(null);
  const layout = useMemo(() => storedLayout(ns, cluster, workflows), [ns, cluster, workflows]);
  const [hook] = useState<Live3dHook>(() => installHook());
  const controller = useMemo(() => new LiveController(layout, workflows, hook), [layout, workflows, hook]);
  const [snapshot, setSnapshot] = useState<LiveSnapshot | undefined>();
  const [webglError, setWebglError] = useState<Error | undefined>();
  const [hover, setHover] = useState<{ node: number; x: number; y: number } | undefined>();
  const [view, setView] = useState<LiveView>({ windowMs: 60_000, heat: false });
  const [replayError, setReplayError] = useState<Error | undefined>();
  const reducedMotion = useMemo(() => matchMedia('(prefers-reduced-motion: reduce)').matches, []);
  const now = Date.now();
  const [range, setRange] = useState({ from: toLocalInput(now - 60_000), to: toLocalInput(now) });
  const [speed, setSpeed] = useState(10);

  useEffect(() => controller.onSnapshot(setSnapshot), [controller]);
  useEffect(() => {
    let scene: NetworkScene | undefined;
    try {
      scene = new NetworkScene(canvas.current as HTMLCanvasElement, layout, {
        reducedMotion,
        hook,
        onHover: setHover,
      });
    } catch (error) {
      setWebglError(error instanceof Error ? error : new Error(String(error)));
    }
    controller.attach(scene);
    hook.ready = true;
    hook.inject = (messages) => controller.feed(messages, Date.now());
    const resize = () => scene?.resize();
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      hook.ready = false;
      controller.attach(undefined);
      controller.dispose();
      scene?.dispose();
    };
  }, [controller, layout, hook, reducedMotion]);
  useEffect(() => {
    const stream = new ConsoleStream({
      config: client.config,
      namespace: ns,
      ...(client.config.auth === 'bearer' && bearerToken.get() ? { token: bearerToken.get() as string } : {}),
    });
    stream.subscribe({ batchMs: BATCH_MS }, (message) => controller.receive(message));
    return () => {
      hook.subscribed = false;
      stream.close();
    };
  }, [client, ns, controller, hook]);

  const changeView = (change: Partial<LiveView>) => {
    const next = { ...view, ...change };
    if (change.workflow === undefined && 'workflow' in change) delete next.workflow;
    if (change.phase === undefined && 'phase' in change) delete next.phase;
    setView(next);
    // The change itself: `next` lacks a cleared filter, which the controller would read as unchanged.
    controller.setView(change);
  };

  const playReplay = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setReplayError(undefined);
    const from = new Date(range.from).getTime();
    const to = new Date(range.to).getTime();
    if (!(from < to)) {
      setReplayError(new Error('the range must end after it starts'));
      return;
    }
    try {
      const executions = await client.get<List<Execution>>(paths.executions(ns), { limit: 5000 });
      controller.startReplay(historyTimeline(executions.items, workflows, { from, to }), { from, to }, speed);
    } catch (error) {
      setReplayError(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const playGrowth = async () => {
    setReplayError(undefined);
    try {
      const revisions = await client.get<List<Revision>>(paths.revisions(ns), {});
      const order = growthOrder(
        workflows.map((w) => w.name),
        revisions.items,
      ).map((o) => o.workflow);
      controller.startGrowth(order, reducedMotion ? 1500 : 700);
    } catch (error) {
      setReplayError(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const metrics = snapshot?.metrics;
  const hovered = hover ? layout.nodes[hover.node] : undefined;
  const hoveredRow = hover ? snapshot?.rows[hover.node] : undefined;
  return (
    <div className="live3d">
      <div className="live3d-controls">
        <fieldset className="live3d-mode">
          <legend>Source</legend>
          <button type="button" aria-pressed={snapshot?.mode === 'live'} onClick={() => controller.live()}>
            Live
          </button>
          <button type="button" aria-pressed={snapshot?.mode === 'growth'} onClick={() => void playGrowth()}>
            Growth time-lapse
          </button>
        </fieldset>
        <form className="live3d-replay" onSubmit={(e) => void playReplay(e)} aria-label="Replay from history">
          <label>
            From{' '}
            <input
              type="datetime-local"
              step="1"
              name="from"
              value={range.from}
              onChange={(e) => setRange({ ...range, from: e.target.value })}
            />
          </label>
          <label>
            To{' '}
            <input
              type="datetime-local"
              step="1"
              name="to"
              value={range.to}
              onChange={(e) => setRange({ ...range, to: e.target.value })}
            />
          </label>
          <label>
            Speed{' '}
            <select name="speed" value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
              {SPEEDS.map((s) => (
                <option key={s} value={s}>
                  {s}×
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Replay</button>
        </form>
        <div className="live3d-filters">
          <label>
            Workflow{' '}
            <select
              name="workflow"
              value={view.workflow ?? ''}
              onChange={(e) => changeView({ workflow: e.target.value || undefined })}
            >
              <option value="">all</option>
              {workflows.map((w) => (
                <option key={w.name} value={w.name}>
                  {w.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Phase{' '}
            <select
              name="phase"
              value={view.phase ?? ''}
              onChange={(e) => changeView({ phase: (e.target.value || undefined) as NodePhase | undefined })}
            >
              <option value="">any</option>
              {PHASES.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Window{' '}
            <select
              name="window"
              value={view.windowMs}
              onChange={(e) => changeView({ windowMs: Number(e.target.value) })}
            >
              {WINDOWS.map((w) => (
                <option key={w.ms} value={w.ms}>
                  {w.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            <input
              type="checkbox"
              name="heat"
              checked={view.heat}
              onChange={(e) => changeView({ heat: e.target.checked })}
            />{' '}
            Heat map
          </label>
        </div>
      </div>
      {replayError ? <ErrorView error={replayError} what="the history" /> : null}
      <p className="live3d-status" role="status" aria-live="polite">
        {snapshot?.mode === 'replay'
          ? snapshot.replayDone
            ? `Replay at ${speed}× finished.`
            : `Replaying at ${speed}×: ${new Date(snapshot.replayAt ?? 0).toLocaleTimeString()}`
          : snapshot?.mode === 'growth'
            ? `Growth: ${snapshot.growthShown ?? 0} of ${workflows.length} workflows`
            : 'Live: executions as they run.'}
      </p>
      <div className="live3d-stage">
        <canvas
          ref={canvas}
          className="live3d-canvas"
          role="img"
          aria-label={`3D network of ${layout.nodes.length} tasks and ${layout.links.length} dependencies in ${ns}; the table below shows the same information`}
        />
        {webglError ? (
          <p className="live3d-nowebgl" role="alert">
            This browser cannot draw WebGL ({webglError.message}): the table below shows the same information.
          </p>
        ) : null}
        <dl className="live3d-metrics" aria-label="Metrics">
          <div>
            <dt>Executions/s</dt>
            <dd>{metrics ? metrics.executionsPerSecond.toFixed(1) : '–'}</dd>
          </div>
          <div>
            <dt>p50</dt>
            <dd>{formatMs(metrics?.p50Ms)}</dd>
          </div>
          <div>
            <dt>p99</dt>
            <dd>{formatMs(metrics?.p99Ms)}</dd>
          </div>
          <div>
            <dt>Errors</dt>
            <dd>{metrics ? `${(metrics.errorRate * 100).toFixed(1)} %` : '–'}</dd>
          </div>
          <div>
            <dt>Running</dt>
            <dd>{metrics?.running ?? 0}</dd>
          </div>
        </dl>
        {hover && hovered ? (
          <div className="live3d-label" style={{ left: hover.x + 12, top: hover.y + 12 }}>
            <strong>{hovered.taskRef}</strong>
            <span>{hovered.workflows.map((w) => w.slice(w.indexOf('/') + 1)).join(', ')}</span>
            {hoveredRow ? (
              <span>
                {hoveredRow.phase} · {hoveredRow.calls} calls · {hoveredRow.errors} errors
              </span>
            ) : null}
          </div>
        ) : null}
      </div>
      <LiveTable rows={snapshot?.rows ?? []} phase={view.phase} />
    </div>
  );
}
