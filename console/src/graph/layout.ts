/**
 * Layered layout (elkjs, the Sugiyama method): dependencies run top to bottom, tasks of one parallel
 * group sit side by side. elkjs is loaded on first use, so pages without a graph do not pay for it.
 */
import type { GraphEdge, GraphTask } from './model.ts';

export const NODE_WIDTH = 210;
export const NODE_HEIGHT = 92;

export type Positions = Map<string, { x: number; y: number }>;

interface LayoutEngine {
  layout(graph: unknown): Promise<{ children?: Array<{ id: string; x?: number; y?: number }> }>;
}

let engine: Promise<LayoutEngine> | undefined;

/** Positions of each task's top-left corner. */
export async function layoutGraph(
  tasks: readonly GraphTask[],
  edges: readonly GraphEdge[],
): Promise<Positions> {
  engine ??= import('elkjs/lib/elk.bundled.js').then((module) => {
    // A CommonJS module: its class is `default` to the bundler, and may be nested once more under Node.
    const exported = module.default as unknown as { default?: unknown };
    const ELK = (exported.default ?? exported) as new () => LayoutEngine;
    return new ELK();
  });
  const elk = await engine;
  const result = await elk.layout({
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      // Rows with `when` labels between them get room for two labels one above the other
      // (labels.ts moves a label along its edge when another is in the way).
      'elk.layered.spacing.nodeNodeBetweenLayers': edges.some((e) => e.when) ? '100' : '60',
      'elk.spacing.nodeNode': '36',
      // React Flow draws the edges itself, so elk's cheapest routing; and fewer crossing-minimisation
      // sweeps (thoroughness 3 of the default 7). On the 50-task graph in Node this cuts the first,
      // not yet optimised layouts most (docs/console.md, Benchmarks).
      'elk.edgeRouting': 'POLYLINE',
      'elk.layered.thoroughness': '3',
      // A layer is a parallel group: every task as early as its dependencies allow, and tasks with no
      // edge between them (independent parts of one workflow) in the same rows, not stacked apart.
      'elk.layered.layering.strategy': 'LONGEST_PATH_SOURCE',
      'elk.separateConnectedComponents': 'false',
    },
    children: tasks.map((t) => ({ id: t.id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: edges.map((e, i) => ({ id: `e${i}`, sources: [e.from], targets: [e.to] })),
  });
  return new Map((result.children ?? []).map((c) => [c.id, { x: c.x ?? 0, y: c.y ?? 0 }]));
}
