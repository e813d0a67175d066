/**
 * The builder's canvas: the steps as nodes (id, WorkflowTask, method and host, their validator
 * errors and dry-run plan), the dependencies as edges. A task dropped from the palette becomes a
 * step; dragging from a node's bottom handle to another's top makes the second wait for the first;
 * Delete removes the selected node or edge. Laid out by elkjs when the graph's shape changes.
 */
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Connection,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { memo, useEffect, useMemo, useState, type DragEvent } from 'react';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type Positions } from '../graph/layout.ts';
import { measuredOf, withDimensions, type MeasuredSizes } from '../graph/measured.ts';
import type { WorkflowTask } from '../api/types.ts';
import { TaskCard } from './help.tsx';
import type { ModelEdge } from './model.ts';

/** What a node shows about its step. */
export interface CanvasStep {
  id: string;
  taskRef: string;
  method?: string;
  host?: string;
  errors: string[];
  /** The WorkflowTask's description (the node's title). */
  description?: string;
  /** The WorkflowTask, for the help card shown when the node is hovered or focused. */
  task?: WorkflowTask;
  /** The dry-run plan's word on the step (e.g. "group 1", "skipped: when is false"). */
  plan?: string;
  placeholder?: boolean;
}

/** The data type the palette puts on a drag. */
export const TASK_DRAG_TYPE = 'application/x-syncflow-task';

type StepNodeData = CanvasStep & Record<string, unknown>;

const StepNode = memo(function StepNode({ data, selected }: NodeProps<Node<StepNodeData>>) {
  const bad = data.errors.length > 0;
  return (
    <div
      className={`task-node builder-node${bad ? ' has-errors' : ''}${selected ? ' selected' : ''}`}
      data-task={data.id}
      data-errors={data.errors.length}
      title={[data.description, ...data.errors].filter(Boolean).join('\n') || undefined}
    >
      <Handle type="target" position={Position.Top} />
      <div className="task-node-title">
        <span className="task-id">{data.id}</span>
        {bad ? (
          <span className="node-errors">
            {data.errors.length} error{data.errors.length === 1 ? '' : 's'}
          </span>
        ) : null}
      </div>
      <div className="task-node-ref">{data.taskRef}</div>
      <div className="task-node-http">
        {data.method ? <span className="method">{data.method}</span> : null} {data.host ?? ''}
      </div>
      {bad ? <div className="task-node-note node-error-text">{data.errors[0]}</div> : null}
      {data.plan ? <div className="task-node-note plan-note">{data.plan}</div> : null}
      <Handle type="source" position={Position.Bottom} />
      {data.task ? <TaskCard task={data.task} id={`node-card-${data.id}`} /> : null}
    </div>
  );
});

const nodeTypes = { step: StepNode };

export interface BuilderCanvasProps {
  steps: readonly CanvasStep[];
  edges: readonly ModelEdge[];
  selected: string | undefined;
  onSelect: (id: string | undefined) => void;
  onConnect: (from: string, to: string) => void;
  onDisconnect: (from: string, to: string) => void;
  onRemove: (id: string) => void;
  onDropTask: (taskName: string) => void;
}

export function BuilderCanvas({
  steps,
  edges,
  selected,
  onSelect,
  onConnect,
  onDisconnect,
  onRemove,
  onDropTask,
}: BuilderCanvasProps) {
  const [positions, setPositions] = useState<Positions>(new Map());
  // Each new layout remounts the flow so that it fits the view again (fitView acts on mount).
  const [layouts, setLayouts] = useState(0);
  const [sizes, setSizes] = useState<MeasuredSizes>(new Map());
  const shapeKey = JSON.stringify([steps.map((s) => s.id), edges.map((e) => [e.from, e.to])]);
  useEffect(() => {
    let live = true;
    layoutGraph(
      steps.map((s) => ({ id: s.id, taskRef: s.taskRef })),
      edges.map((e) => ({ from: e.from, to: e.to })),
    ).then((p) => {
      if (!live) return;
      setPositions(p);
      setLayouts((n) => n + 1);
    });
    return () => {
      live = false;
    };
    // The layout depends only on the graph's shape.
  }, [shapeKey]);

  const nodes = useMemo<Node<StepNodeData>[]>(
    () =>
      steps.map((step) => ({
        id: step.id,
        type: 'step',
        position: positions.get(step.id) ?? { x: 0, y: 0 },
        data: { ...step },
        ariaLabel: `Step ${step.id}: ${step.taskRef}${step.errors.length ? `, ${step.errors.length} errors: ${step.errors.join('; ')}` : ''}${step.plan ? `, ${step.plan}` : ''}`,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        ...measuredOf(sizes, step.id),
        selected: step.id === selected,
      })),
    [steps, positions, selected, sizes],
  );
  const flowEdges = useMemo<Edge[]>(
    () =>
      edges.map((e) => ({
        id: `${e.from}->${e.to}`,
        source: e.from,
        target: e.to,
        markerEnd: { type: MarkerType.ArrowClosed },
        className: e.explicit ? 'explicit' : 'implied',
        ariaLabel: `${e.to} waits for ${e.from}${e.explicit ? '' : ' (reads its output)'}`,
        deletable: e.explicit,
      })),
    [edges],
  );
  const onNodesChange = (changes: NodeChange[]) => {
    setSizes((known) => withDimensions(known, changes));
    for (const change of changes) {
      if (change.type === 'select' && change.selected) onSelect(change.id);
      if (change.type === 'position' && change.position) {
        const { id, position } = change;
        setPositions((p) => new Map(p).set(id, position));
      }
    }
  };
  const drop = (event: DragEvent) => {
    const name = event.dataTransfer.getData(TASK_DRAG_TYPE);
    if (!name) return;
    event.preventDefault();
    onDropTask(name);
  };
  return (
    <section
      className="graph builder-canvas"
      aria-label="Workflow canvas"
      data-steps={steps.length}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes(TASK_DRAG_TYPE)) e.preventDefault();
      }}
      onDrop={drop}
    >
      {steps.length === 0 ? (
        <p className="canvas-empty">Drop a task here, or focus one in the palette and press Add.</p>
      ) : null}
      <ReactFlow
        key={layouts}
        nodes={nodes}
        edges={flowEdges}
        nodeTypes={nodeTypes}
        fitView
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
        onNodesChange={onNodesChange}
        deleteKeyCode={['Backspace', 'Delete']}
        onPaneClick={() => onSelect(undefined)}
        onConnect={(c: Connection) => c.source && c.target && onConnect(c.source, c.target)}
        onNodesDelete={(deleted) => deleted.forEach((n) => onRemove(n.id))}
        onEdgesDelete={(deleted) => deleted.forEach((e) => onDisconnect(e.source, e.target))}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </section>
  );
}
