/**
 * The workflow graph: tasks as nodes (id, WorkflowTask, method and host, and when given a phase or a
 * plan note), dependencies as edges labelled with the `when` condition they lead into. Reused by the
 * workflow, run and execution pages; what each adds goes through `overlay`.
 */
import {
  Background,
  BaseEdge,
  Controls,
  getBezierPath,
  type EdgeProps,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
  type NodeChange,
  Handle,
  Position,
  MarkerType,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import { mapProgressText } from '../components/task-progress.ts';
import { edgeLabelPlaces, edgePoint, LABEL_PADDING } from './labels.ts';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type Positions } from './layout.ts';
import { measuredOf, withDimensions, type MeasuredSizes } from './measured.ts';
import type { GraphEdge, GraphTask } from './model.ts';

/** What a page adds to a task's node: its phase (colours it) and a short note. */
export interface TaskOverlay {
  phase?: string;
  note?: string;
  /** Extra classes of the node (the debugger: `breakpoint`, `critical`, `dimmed`). */
  className?: string;
  /** Said after the node's name to assistive technology, and shown on hover. */
  detail?: string;
  /** A map step: its element count and, while it runs, how many finished and failed. */
  map?: MapProgress;
  /** Short marks after the phase (`cached`, `hedged`). */
  badges?: string[];
}

/** A map step's progress: `done` is absent where only the final counts are known (a record). */
export interface MapProgress {
  count?: number;
  done?: number;
  failed: number;
}

/** What a page adds to an edge (keyed `from->to`): a value label (full text on hover) and classes. */
export interface EdgeOverlay {
  label?: string;
  full?: string;
  className?: string;
}

type TaskNodeData = GraphTask & TaskOverlay & Record<string, unknown>;

const TaskNode = memo(function TaskNode({ data }: NodeProps<Node<TaskNodeData>>) {
  return (
    <div
      className={`task-node phase-${(data.phase ?? 'none').toLowerCase()}${data.className ? ` ${data.className}` : ''}`}
      data-task={data.id}
      title={data.detail}
      data-phase={data.phase ?? ''}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <div className="task-node-title">
        <span className="task-id">{data.id}</span>
        {data.badges?.map((b) => (
          <span key={b} className="task-badge">
            {b}
          </span>
        ))}
        {data.phase ? <span className="task-phase">{data.phase}</span> : null}
      </div>
      <div className="task-node-ref">{data.taskRef}</div>
      <div
        className="task-node-http"
        title={data.host ? `${data.method ?? ''} ${data.host}`.trim() : undefined}
      >
        {data.method ? <span className="method">{data.method}</span> : null}{' '}
        <span className="host">{data.host ?? ''}</span>
      </div>
      {data.note || data.map ? (
        <div className="task-node-note">
          {data.map ? <span className="task-node-map">{mapProgressText(data.map)}</span> : null}
          {data.map && data.note ? ' · ' : ''}
          {data.note}
        </div>
      ) : null}
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { task: TaskNode };

/** An edge whose label sits where labels.ts placed it along the edge (`labelAt`), not always mid-way. */
const PlacedLabelEdge = memo(function PlacedLabelEdge(props: EdgeProps<Edge<{ labelAt: number }>>) {
  const [path] = getBezierPath(props);
  const source = { x: props.sourceX, y: props.sourceY };
  const at = edgePoint(source, { x: props.targetX, y: props.targetY }, props.data?.labelAt ?? 0.5);
  return (
    <BaseEdge
      id={props.id}
      path={path}
      markerEnd={props.markerEnd}
      label={props.label}
      labelX={at.x}
      labelY={at.y}
      labelBgPadding={LABEL_PADDING}
    />
  );
});
const edgeTypes = { placed: PlacedLabelEdge };
const NOT_MEASURED: MeasuredSizes = new Map();
/** The default overlay, one object for every render (a new `{}` would rebuild every node each time). */
const NO_OVERLAY: Record<string, TaskOverlay> = {};

export interface WorkflowGraphProps {
  tasks: readonly GraphTask[];
  edges: readonly GraphEdge[];
  overlay?: Record<string, TaskOverlay>;
  /** Accessible name of the graph region. */
  label: string;
  onSelect?: (taskId: string | undefined) => void;
  /** Called once the graph is drawn. */
  onLaidOut?: () => void;
  /** Labels and classes of edges, keyed `from->to`. */
  edgeOverlay?: Record<string, EdgeOverlay>;
}

export function WorkflowGraph({
  tasks,
  edges,
  overlay = NO_OVERLAY,
  label,
  onSelect,
  onLaidOut,
  edgeOverlay,
}: WorkflowGraphProps) {
  const [positions, setPositions] = useState<Positions | undefined>();
  const shapeKey = JSON.stringify([tasks.map((t) => t.id), edges.map((e) => [e.from, e.to])]);
  const region = useRef<HTMLElement>(null);
  const started = useRef(0);
  useEffect(() => {
    let live = true;
    started.current = performance.now();
    layoutGraph(tasks, edges).then((p) => live && setPositions(p));
    return () => {
      live = false;
    };
    // The layout depends only on the graph's shape.
  }, [shapeKey]);
  useEffect(() => {
    if (!positions) return;
    // Drawn: every node measured and shown by React Flow. Timed as `syncflow:graph-drawn` (the
    // benchmark reads it) from the start of the layout.
    let frame = requestAnimationFrame(function check() {
      const nodes = region.current?.querySelectorAll<HTMLElement>('.react-flow__node') ?? [];
      const shown = [...nodes].filter((n) => getComputedStyle(n).visibility !== 'hidden').length;
      if (nodes.length < tasks.length || shown < tasks.length) {
        frame = requestAnimationFrame(check);
        return;
      }
      performance.measure('syncflow:graph-drawn', {
        start: started.current,
        detail: { tasks: tasks.length },
      });
      region.current?.setAttribute('data-drawn', 'true');
      onLaidOut?.();
    });
    return () => cancelAnimationFrame(frame);
  }, [positions]);

  // The nodes are controlled: a click or Enter on a focused node arrives as a `select` change.
  const [selected, setSelected] = useState<string | undefined>();
  const [sizes, setSizes] = useState(NOT_MEASURED);
  const onNodesChange = (changes: NodeChange[]) => {
    setSizes((known) => withDimensions(known, changes));
    for (const change of changes) {
      if (change.type !== 'select') continue;
      if (change.selected) {
        setSelected(change.id);
        onSelect?.(change.id);
      } else if (change.id === selected) {
        setSelected(undefined);
        onSelect?.(undefined);
      }
    }
  };
  const nodes = useMemo<Node<TaskNodeData>[]>(
    () =>
      tasks.map((task) => ({
        id: task.id,
        type: 'task',
        position: positions?.get(task.id) ?? { x: 0, y: 0 },
        data: { ...task, ...overlay[task.id] },
        ariaLabel: `Task ${task.id}: ${task.taskRef}${task.method ? `, ${task.method} ${task.host ?? ''}` : ''}${overlay[task.id]?.phase ? `, ${overlay[task.id]?.phase}` : ''}${overlay[task.id]?.detail ? `, ${overlay[task.id]?.detail}` : ''}${overlay[task.id]?.map ? `, map: ${mapProgressText(overlay[task.id]?.map)}` : ''}${overlay[task.id]?.badges?.length ? `, ${overlay[task.id]?.badges?.join(', ')}` : ''}`,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        ...measuredOf(sizes, task.id),
        draggable: false,
        connectable: false,
        selected: task.id === selected,
      })),
    [tasks, positions, overlay, selected, sizes],
  );
  const flowEdges = useMemo<Edge[]>(() => {
    const text = (e: GraphEdge) =>
      [e.when ? `when ${e.when}` : '', edgeOverlay?.[`${e.from}->${e.to}`]?.label ?? '']
        .filter(Boolean)
        .join(' · ');
    const places = positions
      ? edgeLabelPlaces(
          edges.map((e) => ({ id: `${e.from}->${e.to}`, from: e.from, to: e.to, text: text(e) })),
          positions,
        )
      : new Map<string, number>();
    return edges.map((e) => {
      const extra = edgeOverlay?.[`${e.from}->${e.to}`];
      const label = text(e);
      const className = [e.when ? 'conditional' : '', extra?.className ?? ''].filter(Boolean).join(' ');
      return {
        id: `${e.from}->${e.to}`,
        source: e.from,
        target: e.to,
        ...(label
          ? {
              type: 'placed',
              data: { labelAt: places.get(`${e.from}->${e.to}`) ?? 0.5 },
              // Edge labels are SVG text: the full value is its <title>, shown on hover.
              label: extra?.full ? (
                <tspan>
                  <title>{extra.full}</title>
                  {label}
                </tspan>
              ) : (
                label
              ),
            }
          : {}),
        ...(className ? { className } : {}),
        markerEnd: { type: MarkerType.ArrowClosed },
        focusable: false,
      };
    });
  }, [edges, edgeOverlay, positions]);

  const height = positions
    ? Math.min(640, Math.max(220, Math.max(...[...positions.values()].map((p) => p.y)) + NODE_HEIGHT + 60))
    : 220;

  return (
    <section
      ref={region}
      className="graph"
      aria-label={label}
      style={{ height }}
      data-laid-out={positions ? 'true' : 'false'}
    >
      {positions ? (
        <ReactFlow
          nodes={nodes}
          edges={flowEdges}
          nodeTypes={nodeTypes}
          edgeTypes={edgeTypes}
          fitView
          minZoom={0.2}
          nodesDraggable={false}
          nodesConnectable={false}
          edgesFocusable={false}
          proOptions={{ hideAttribution: true }}
          onNodesChange={onNodesChange}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      ) : (
        <p className="state loading" role="status">
          Laying out the graph…
        </p>
      )}
    </section>
  );
}
