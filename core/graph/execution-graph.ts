/**
 * The dependency graph of a workflow: which step waits for which. Built once per definition;
 * gives a deterministic topological order, the parallel groups (levels) and names any cycle.
 */

/** One node as declared: its id and the ids it depends on. */
export interface GraphNode {
  id: string;
  dependsOn: readonly string[];
}

/** A dependency cycle, listed as the path that closes it: `['a', 'b', 'a']`. */
export class DependencyCycleError extends Error {
  readonly cycle: string[];

  constructor(cycle: string[]) {
    super(`dependency cycle: ${cycle.join(' -> ')}`);
    this.name = 'DependencyCycleError';
    this.cycle = cycle;
  }
}

/** An acyclic graph of steps with its precomputed orderings. */
export class ExecutionGraph {
  /** Ids in a deterministic topological order (declaration order breaks ties). */
  readonly order: readonly string[];
  /** Levels: every step of group n depends only on steps of groups < n. */
  readonly parallelGroups: readonly (readonly string[])[];
  /** Direct dependencies of each step, deduplicated, in declaration order. */
  readonly dependencies: ReadonlyMap<string, readonly string[]>;
  /** Direct dependents of each step. */
  readonly dependents: ReadonlyMap<string, readonly string[]>;

  private constructor(
    order: string[],
    groups: string[][],
    dependencies: Map<string, string[]>,
    dependents: Map<string, string[]>,
  ) {
    this.order = order;
    this.parallelGroups = groups;
    this.dependencies = dependencies;
    this.dependents = dependents;
  }

  /**
   * Builds the graph. Throws `DependencyCycleError` naming one cycle. Edges to ids that are not
   * nodes are ignored here: reporting them is the validator's job.
   */
  static build(nodes: readonly GraphNode[]): ExecutionGraph {
    const ids = new Set(nodes.map((n) => n.id));
    const dependencies = new Map<string, string[]>();
    const dependents = new Map<string, string[]>();
    for (const node of nodes) dependents.set(node.id, []);
    for (const node of nodes) {
      const deps = [...new Set(node.dependsOn)].filter((d) => ids.has(d));
      dependencies.set(node.id, deps);
      for (const dep of deps) (dependents.get(dep) as string[]).push(node.id);
    }
    const cycle = findCycle(nodes, dependencies);
    if (cycle) throw new DependencyCycleError(cycle);

    const level = new Map<string, number>();
    const order: string[] = [];
    const remaining = new Map(nodes.map((n) => [n.id, (dependencies.get(n.id) as string[]).length]));
    // Kahn's algorithm over declaration order, so equal inputs always give the same order.
    let ready = nodes.filter((n) => remaining.get(n.id) === 0).map((n) => n.id);
    const position = new Map(nodes.map((n, i) => [n.id, i]));
    while (ready.length > 0) {
      const next: string[] = [];
      for (const id of ready) {
        order.push(id);
        const deps = dependencies.get(id) as string[];
        level.set(id, deps.length === 0 ? 0 : Math.max(...deps.map((d) => level.get(d) as number)) + 1);
        for (const child of dependents.get(id) as string[]) {
          const left = (remaining.get(child) as number) - 1;
          remaining.set(child, left);
          if (left === 0) next.push(child);
        }
      }
      ready = next.sort((a, b) => (position.get(a) as number) - (position.get(b) as number));
    }
    const groups: string[][] = [];
    for (const id of order) {
      const l = level.get(id) as number;
      (groups[l] ??= []).push(id);
    }
    for (const group of groups)
      group.sort((a, b) => (position.get(a) as number) - (position.get(b) as number));
    return new ExecutionGraph(order, groups, dependencies, dependents);
  }
}

/** Depth-first search for a cycle; returns it as `[a, b, ..., a]`, or undefined. */
function findCycle(nodes: readonly GraphNode[], dependencies: Map<string, string[]>): string[] | undefined {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const position = (id: string) => index.get(id) as number;
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of dependencies.get(id) as string[]) {
      const s = state.get(dep);
      if (s === 'visiting') {
        // The stack holds the path of "depends on" edges; report it in execution direction.
        const cycle = stack.slice(stack.indexOf(dep)).reverse();
        // Start at the earliest-declared step so the message is stable and easy to find.
        const first = cycle.reduce(
          (best, id, i) => (position(id) < position(cycle[best] as string) ? i : best),
          0,
        );
        const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
        return [...rotated, rotated[0] as string];
      }
      if (s === undefined) {
        const found = visit(dep);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const node of nodes) {
    if (state.get(node.id) === undefined) {
      const found = visit(node.id);
      if (found) return found;
    }
  }
  return undefined;
}
