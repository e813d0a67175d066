import { expect } from 'chai';
import fc from 'fast-check';
import { DependencyCycleError, ExecutionGraph } from './execution-graph.ts';

describe('ExecutionGraph', () => {
  it('orders a diamond deterministically and groups parallel steps', () => {
    const graph = ExecutionGraph.build([
      { id: 'a', dependsOn: [] },
      { id: 'c', dependsOn: ['a'] },
      { id: 'b', dependsOn: ['a'] },
      { id: 'd', dependsOn: ['b', 'c', 'b'] },
    ]);
    expect(graph.order).to.deep.equal(['a', 'c', 'b', 'd']);
    expect(graph.parallelGroups).to.deep.equal([['a'], ['c', 'b'], ['d']]);
    expect(graph.dependencies.get('d')).to.deep.equal(['b', 'c']);
    expect(graph.dependents.get('a')).to.deep.equal(['c', 'b']);
  });

  it('rejects a cycle and names it from the first declared step', () => {
    expect(() =>
      ExecutionGraph.build([
        { id: 'a', dependsOn: ['c'] },
        { id: 'b', dependsOn: ['a'] },
        { id: 'c', dependsOn: ['b'] },
      ]),
    )
      .to.throw(DependencyCycleError)
      .with.property('message', 'dependency cycle: a -> b -> c -> a');
  });

  it('ignores edges to unknown ids (the validator reports them)', () => {
    expect(ExecutionGraph.build([{ id: 'a', dependsOn: ['zz'] }]).order).to.deep.equal(['a']);
  });

  it('orders random DAGs so that every edge is respected', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 120 }),
        (n, pairs) => {
          // Edges only from a lower to a higher index: acyclic by construction, then shuffled ids.
          const nodes = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, dependsOn: [] as string[] }));
          for (const [x, y] of pairs) {
            const a = x % n;
            const b = y % n;
            if (a < b) nodes[b]?.dependsOn.push(`t${a}`);
          }
          const graph = ExecutionGraph.build([...nodes].reverse());
          const at = new Map(graph.order.map((id, i) => [id, i]));
          expect(graph.order).to.have.length(n);
          for (const node of nodes)
            for (const dep of node.dependsOn) expect(at.get(dep)).to.be.lessThan(at.get(node.id) as number);
          const level = new Map(graph.parallelGroups.flatMap((g, l) => g.map((id) => [id, l] as const)));
          for (const node of nodes)
            for (const dep of node.dependsOn)
              expect(level.get(dep)).to.be.lessThan(level.get(node.id) as number);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('always detects a cycle planted in a random DAG', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 30 }), fc.nat(), fc.nat(), (n, x, y) => {
        const nodes = Array.from({ length: n }, (_, i) => ({
          id: `t${i}`,
          dependsOn: i > 0 ? [`t${i - 1}`] : [],
        }));
        let low = Math.min(x % n, y % n);
        let high = Math.max(x % n, y % n);
        if (low === high) [low, high] = [0, n - 1];
        // The chain already makes high wait for low; low waiting for high closes a cycle.
        (nodes[low] as { dependsOn: string[] }).dependsOn.push(`t${high}`);
        let error: unknown;
        try {
          ExecutionGraph.build(nodes);
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(DependencyCycleError);
        const cycle = (error as DependencyCycleError).cycle;
        expect(cycle[0]).to.equal(cycle[cycle.length - 1]);
        // Each consecutive pair is a real edge: cycle[i+1] depends on cycle[i].
        for (let i = 0; i + 1 < cycle.length; i++) {
          const next = nodes.find((node) => node.id === cycle[i + 1]);
          expect(next?.dependsOn).to.include(cycle[i]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
