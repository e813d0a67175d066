/**
 * The network of a namespace's workflows in 3D, for the console's live view and for tools
 * (`syncflow map`): one node per WorkflowTask (a task that several workflows use is placed once),
 * one link per dependency between two WorkflowTasks, nodes clustered into regions by namespace and,
 * optionally, a label of their workflows. Pure and deterministic: the same definitions and seed give
 * the same places on every reload, whatever order the workflows come in; given the previous layout,
 * the nodes it had keep their places exactly and only new ones are laid out around them.
 */
// The declaration travels with its one user: the console's type check includes only console/src.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./d3-force-3d.d.ts" />
import { forceLink, forceManyBody, forceSimulation, forceX, forceY, forceZ } from 'd3-force-3d';

/** A workflow as the layout reads it: its tasks (step id → WorkflowTask) and dependencies (step ids). */
export interface NetworkWorkflow {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  tasks: readonly { id: string; taskRef: string }[];
  edges: readonly { from: string; to: string }[];
}

/** A point in the layout's space (units: node radii). */
export interface Point3 {
  x: number;
  y: number;
  z: number;
}

/** One WorkflowTask of the network. */
export interface NetworkNode extends Point3 {
  /** `<namespace>/<WorkflowTask name>`. */
  id: string;
  namespace: string;
  taskRef: string;
  /** `<namespace>/<workflow>` of every workflow that uses the task, sorted. */
  workflows: string[];
  /** The region it is drawn in: the cluster of the first of its workflows. */
  cluster: string;
}

/** A dependency between two WorkflowTasks, merged over the workflows that have it. */
export interface NetworkLink {
  source: string;
  target: string;
  workflows: string[];
}

/** A region: `<namespace>` or `<namespace>/<label>=<value>`, and where its centre is. */
export interface NetworkCluster extends Point3 {
  key: string;
}

/** The laid-out network. */
export interface NetworkLayout {
  seed: number;
  nodes: NetworkNode[];
  links: NetworkLink[];
  clusters: NetworkCluster[];
}

/** How to lay out. */
export interface NetworkLayoutOptions {
  /** Another seed, another (equally stable) layout. Default 1. */
  seed?: number;
  /** The label of workflows that splits a namespace into regions (e.g. `team`); absent, one region per namespace. */
  clusterLabel?: string;
  /** The layout before a change: its nodes stay where they are. */
  previous?: NetworkLayout;
}

/** The radius of a node; no two nodes are closer than twice this. */
export const NODE_RADIUS = 1;

const MIN_DISTANCE = 2 * NODE_RADIUS * 1.02;
const LINK_DISTANCE = 5;
const MAX_TICKS = 300;
const MIN_TICKS = 60;

/** The node id of WorkflowTask `taskRef` in `namespace`. */
export function networkNodeId(namespace: string, taskRef: string): string {
  return `${namespace}/${taskRef}`;
}

interface SimNode extends Point3 {
  id: string;
  cluster: NetworkCluster;
  fixed: boolean;
  fx?: number;
  fy?: number;
  fz?: number;
  vx?: number;
  vy?: number;
  vz?: number;
}

/** Lays out the network of `workflows` (see the module comment). */
export function layoutNetwork(
  workflows: readonly NetworkWorkflow[],
  options: NetworkLayoutOptions = {},
): NetworkLayout {
  const seed = options.seed ?? 1;
  const sorted = [...workflows].sort((a, b) =>
    compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
  );
  const nodes = new Map<string, Omit<NetworkNode, keyof Point3>>();
  const links = new Map<string, NetworkLink>();
  for (const workflow of sorted) {
    const key = `${workflow.namespace}/${workflow.name}`;
    const label = options.clusterLabel ? workflow.labels?.[options.clusterLabel] : undefined;
    const cluster =
      label === undefined ? workflow.namespace : `${workflow.namespace}/${options.clusterLabel}=${label}`;
    const stepNode = new Map<string, string>();
    for (const task of workflow.tasks) {
      const id = networkNodeId(workflow.namespace, task.taskRef);
      stepNode.set(task.id, id);
      const node = nodes.get(id);
      if (!node)
        nodes.set(id, {
          id,
          namespace: workflow.namespace,
          taskRef: task.taskRef,
          workflows: [key],
          cluster,
        });
      else if (!node.workflows.includes(key)) node.workflows.push(key);
    }
    for (const edge of workflow.edges) {
      const source = stepNode.get(edge.from);
      const target = stepNode.get(edge.to);
      if (!source || !target || source === target) continue;
      const link = links.get(`${source}>${target}`);
      if (!link) links.set(`${source}>${target}`, { source, target, workflows: [key] });
      else if (!link.workflows.includes(key)) link.workflows.push(key);
    }
  }

  const previousNodes = new Map((options.previous?.nodes ?? []).map((n) => [n.id, n]));
  const previousClusters = new Map((options.previous?.clusters ?? []).map((c) => [c.key, c]));
  const ids = [...nodes.keys()].sort(compare);
  const clusters = new Map<string, NetworkCluster>();
  for (const id of ids) {
    const key = (nodes.get(id) as NetworkNode).cluster;
    if (!clusters.has(key))
      clusters.set(key, previousClusters.get(key) ?? clusterCentre(key, seed, ids.length));
  }

  const sim: SimNode[] = ids.map((id) => {
    const cluster = clusters.get((nodes.get(id) as NetworkNode).cluster) as NetworkCluster;
    const before = previousNodes.get(id);
    if (before)
      return {
        id,
        cluster,
        fixed: true,
        x: before.x,
        y: before.y,
        z: before.z,
        fx: before.x,
        fy: before.y,
        fz: before.z,
      };
    return { id, cluster, fixed: false, x: 0, y: 0, z: 0 };
  });
  const index = new Map(sim.map((n, i) => [n.id, i]));
  const simLinks = [...links.values()].map((l) => ({
    source: index.get(l.source) as number,
    target: index.get(l.target) as number,
  }));
  placeNewNodes(sim, simLinks, seed);

  if (sim.some((n) => !n.fixed)) {
    // Fewer steps for big networks (each costs O(n log n)); the simulation cools within them.
    const ticks = Math.round(Math.max(MIN_TICKS, Math.min(MAX_TICKS, (MAX_TICKS * 200) / sim.length)));
    forceSimulation(sim, 3)
      .randomSource(lcg(seed))
      .alphaDecay(1 - Math.pow(0.001, 1 / ticks))
      .force(
        'link',
        forceLink<SimNode, { source: number; target: number }>(simLinks)
          .distance(LINK_DISTANCE)
          .strength(0.4),
      )
      .force(
        'charge',
        forceManyBody<SimNode>()
          .strength(-6)
          .distanceMax(6 * LINK_DISTANCE),
      )
      .force('x', forceX<SimNode>((n) => n.cluster.x).strength(0.06))
      .force('y', forceY<SimNode>((n) => n.cluster.y).strength(0.06))
      .force('z', forceZ<SimNode>((n) => n.cluster.z).strength(0.06))
      .stop()
      .tick(ticks);
    separateNodes(sim, seed);
  }

  return {
    seed,
    nodes: sim.map((n) => {
      const node = nodes.get(n.id) as NetworkNode;
      const place = n.fixed
        ? (previousNodes.get(n.id) as Point3)
        : { x: round(n.x), y: round(n.y), z: round(n.z) };
      return { ...node, workflows: [...node.workflows].sort(compare), x: place.x, y: place.y, z: place.z };
    }),
    links: [...links.values()]
      .map((l) => ({ ...l, workflows: [...l.workflows].sort(compare) }))
      .sort((a, b) => compare(`${a.source}>${a.target}`, `${b.source}>${b.target}`)),
    clusters: [...clusters.values()].sort((a, b) => compare(a.key, b.key)),
  };
}

/**
 * A new cluster's centre: a direction from a hash of its key (so it does not depend on the other
 * clusters, and adding one moves none), at a distance that grows with the network's size.
 */
function clusterCentre(key: string, seed: number, nodeCount: number): NetworkCluster {
  const random = lcg(hash(key) ^ seed);
  const u = random() * 2 - 1;
  const theta = random() * 2 * Math.PI;
  const r = 30 + 4 * Math.cbrt(nodeCount) * LINK_DISTANCE;
  const s = Math.sqrt(1 - u * u);
  return { key, x: round(r * s * Math.cos(theta)), y: round(r * s * Math.sin(theta)), z: round(r * u) };
}

/** Starts each new node beside a placed neighbour (so additions grow from what they attach to), else near its cluster's centre. */
function placeNewNodes(sim: SimNode[], links: { source: number; target: number }[], seed: number): void {
  const neighbours = new Map<number, number[]>();
  for (const { source, target } of links) {
    neighbours.set(source, [...(neighbours.get(source) ?? []), target]);
    neighbours.set(target, [...(neighbours.get(target) ?? []), source]);
  }
  sim.forEach((node, i) => {
    if (node.fixed) return;
    const random = lcg(hash(node.id) ^ seed);
    const anchorIndex = (neighbours.get(i) ?? []).find((j) => sim[j]?.fixed);
    const anchor = anchorIndex === undefined ? node.cluster : (sim[anchorIndex] as SimNode);
    const spread = anchorIndex === undefined ? 8 : LINK_DISTANCE;
    node.x = anchor.x + (random() - 0.5) * spread;
    node.y = anchor.y + (random() - 0.5) * spread;
    node.z = anchor.z + (random() - 0.5) * spread;
  });
}

/**
 * The overlap-removal pass: pushes apart any two nodes closer than {@link MIN_DISTANCE} (cheaper
 * than the simulation's collision force, and exact); only nodes not `fixed` move, the same way for
 * the same `seed`. A grid of cells one distance wide keeps each pass linear in the number of nodes.
 */
export function separateNodes(sim: (Point3 & { fixed: boolean })[], seed: number): void {
  const random = lcg(seed ^ 0x5eed);
  for (let pass = 0; pass < 200; pass++) {
    const grid = new Map<string, number[]>();
    const cell = (v: number) => Math.floor(v / MIN_DISTANCE);
    sim.forEach((n, i) => {
      const key = `${cell(n.x)},${cell(n.y)},${cell(n.z)}`;
      grid.set(key, [...(grid.get(key) ?? []), i]);
    });
    let moved = false;
    sim.forEach((a, i) => {
      for (let dx = -1; dx <= 1; dx++)
        for (let dy = -1; dy <= 1; dy++)
          for (let dz = -1; dz <= 1; dz++)
            for (const j of grid.get(`${cell(a.x) + dx},${cell(a.y) + dy},${cell(a.z) + dz}`) ?? []) {
              if (j <= i) continue;
              const b = sim[j] as Point3 & { fixed: boolean };
              if (a.fixed && b.fixed) continue;
              let vx = b.x - a.x;
              let vy = b.y - a.y;
              let vz = b.z - a.z;
              let d = Math.hypot(vx, vy, vz);
              if (d >= MIN_DISTANCE * 1.001) continue;
              if (d < 1e-9) {
                [vx, vy, vz] = [random() - 0.5, random() - 0.5, random() - 0.5];
                d = Math.hypot(vx, vy, vz);
              }
              // Moves past the minimum by a margin, so rounding cannot bring them back under it.
              const push = (MIN_DISTANCE * 1.01 - d) / d;
              const share = a.fixed || b.fixed ? 1 : 0.5;
              if (!a.fixed) {
                a.x -= vx * push * share;
                a.y -= vy * push * share;
                a.z -= vz * push * share;
              }
              if (!b.fixed) {
                b.x += vx * push * share;
                b.y += vy * push * share;
                b.z += vz * push * share;
              }
              moved = true;
            }
    });
    if (!moved) return;
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a of a string: seeds of per-node and per-cluster randomness. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seeded linear congruential generator in [0, 1) (the one d3-force uses, with a seed). */
function lcg(seed: number): () => number {
  let state = (seed >>> 0) % 4294967296 || 1;
  return () => {
    state = (1664525 * state + 1013904223) % 4294967296;
    return state / 4294967296;
  };
}
