import { expect } from 'chai';
import {
  layoutNetwork,
  NODE_RADIUS,
  separateNodes,
  type NetworkLayout,
  type NetworkWorkflow,
} from './network-layout.ts';

/** A chain of `length` tasks a0 → a1 → …, each a WorkflowTask of its own unless `shared` names one. */
function chain(name: string, length: number, options: Partial<NetworkWorkflow> = {}): NetworkWorkflow {
  const tasks = Array.from({ length }, (_, i) => ({ id: `s${i}`, taskRef: `${name}-t${i}` }));
  const edges = tasks.slice(1).map((t, i) => ({ from: `s${i}`, to: t.id }));
  return { namespace: 'shop', name, labels: {}, tasks, edges, ...options };
}

function positions(layout: NetworkLayout): Record<string, [number, number, number]> {
  return Object.fromEntries(layout.nodes.map((n) => [n.id, [n.x, n.y, n.z]]));
}

function distance(a: { x: number; y: number; z: number }, b: { x: number; y: number; z: number }): number {
  return Math.hypot(a.x - b.x, a.y - b.y, a.z - b.z);
}

/** The smallest distance between two of `points`. */
function closestPair(points: readonly { x: number; y: number; z: number }[]): number {
  let closest = Infinity;
  for (let i = 0; i < points.length; i++)
    for (let j = i + 1; j < points.length; j++)
      closest = Math.min(closest, distance(points[i] as never, points[j] as never));
  return closest;
}

describe('layoutNetwork', () => {
  const workflows = [
    chain('orders', 5, { labels: { team: 'sales' } }),
    chain('refunds', 4, { labels: { team: 'sales' } }),
    chain('stock', 6, { labels: { team: 'warehouse' } }),
  ];

  it('places every task of the same definitions at the same place, whatever the order they are given in', () => {
    const a = layoutNetwork(workflows, { clusterLabel: 'team' });
    const b = layoutNetwork([...workflows].reverse(), { clusterLabel: 'team' });
    expect(positions(b)).to.deep.equal(positions(a));
    expect(a.nodes).to.have.length(15);
  });

  it('gives another seed another layout', () => {
    const a = layoutNetwork(workflows, { clusterLabel: 'team', seed: 1 });
    const b = layoutNetwork(workflows, { clusterLabel: 'team', seed: 2 });
    expect(positions(b)).to.not.deep.equal(positions(a));
  });

  it('places a WorkflowTask used by several workflows once, and lists the workflows that use it', () => {
    const first = chain('a', 2);
    const second = chain('b', 2);
    (second.tasks[0] as { taskRef: string }).taskRef = 'a-t0';
    const layout = layoutNetwork([first, second]);
    const shared = layout.nodes.filter((n) => n.taskRef === 'a-t0');
    expect(shared).to.have.length(1);
    expect(shared[0]?.workflows).to.deep.equal(['shop/a', 'shop/b']);
    expect(layout.nodes).to.have.length(3);
    // Both workflows' edges leave the shared node.
    expect(layout.links.map((l) => `${l.source}>${l.target}`).sort()).to.deep.equal([
      'shop/a-t0>shop/a-t1',
      'shop/a-t0>shop/b-t1',
    ]);
  });

  it('merges the same dependency of several workflows into one link', () => {
    const first = chain('a', 2);
    const second = { ...chain('a', 2), name: 'a2' };
    const layout = layoutNetwork([first, second]);
    expect(layout.links).to.have.length(1);
    expect(layout.links[0]?.workflows).to.deep.equal(['shop/a', 'shop/a2']);
  });

  it('clusters tasks by namespace and label: each node is nearer its own cluster centre than any other', () => {
    const layout = layoutNetwork(
      [...workflows, chain('audit', 5, { namespace: 'ops', labels: { team: 'sales' } })],
      { clusterLabel: 'team' },
    );
    expect(layout.clusters.map((c) => c.key).sort()).to.deep.equal([
      'ops/team=sales',
      'shop/team=sales',
      'shop/team=warehouse',
    ]);
    const centroid = (key: string) => {
      const members = layout.nodes.filter((n) => n.cluster === key);
      const sum = members.reduce((s, n) => ({ x: s.x + n.x, y: s.y + n.y, z: s.z + n.z }), {
        x: 0,
        y: 0,
        z: 0,
      });
      return { x: sum.x / members.length, y: sum.y / members.length, z: sum.z / members.length };
    };
    const centres = new Map(layout.clusters.map((c) => [c.key, centroid(c.key)]));
    for (const node of layout.nodes) {
      const own = distance(node, centres.get(node.cluster) as { x: number; y: number; z: number });
      for (const [key, centre] of centres)
        if (key !== node.cluster) expect(own, `${node.id} vs ${key}`).to.be.below(distance(node, centre));
    }
  });

  it('keeps every existing node where it was when a workflow is added, and places the new ones', () => {
    const before = layoutNetwork(workflows, { clusterLabel: 'team' });
    const added = chain('returns', 4, { labels: { team: 'sales' } });
    (added.tasks[0] as { taskRef: string }).taskRef = 'orders-t4';
    const after = layoutNetwork([...workflows, added], { clusterLabel: 'team', previous: before });
    const old = positions(before);
    const now = positions(after);
    for (const id of Object.keys(old)) expect(now[id], id).to.deep.equal(old[id]);
    expect(Object.keys(now)).to.have.length(Object.keys(old).length + 3);
    for (const id of ['shop/returns-t1', 'shop/returns-t2', 'shop/returns-t3'])
      expect(now[id]?.every(Number.isFinite), id).to.equal(true);
    // The shared task now lists the new workflow too.
    expect(after.nodes.find((n) => n.id === 'shop/orders-t4')?.workflows).to.deep.equal([
      'shop/orders',
      'shop/returns',
    ]);
  });

  it('places a new workflow the same way whether the layout grew step by step or was computed again from the previous one', () => {
    const before = layoutNetwork(workflows, { clusterLabel: 'team' });
    const added = chain('returns', 3, { labels: { team: 'sales' } });
    const once = layoutNetwork([...workflows, added], { clusterLabel: 'team', previous: before });
    const again = layoutNetwork([...workflows, added], { clusterLabel: 'team', previous: before });
    expect(positions(again)).to.deep.equal(positions(once));
  });

  it('forgets the nodes of a removed workflow and keeps the others in place', () => {
    const before = layoutNetwork(workflows, { clusterLabel: 'team' });
    const after = layoutNetwork(workflows.slice(0, 2), { clusterLabel: 'team', previous: before });
    expect(after.nodes.some((n) => n.id.startsWith('shop/stock-'))).to.equal(false);
    const old = positions(before);
    for (const [id, place] of Object.entries(positions(after))) expect(place).to.deep.equal(old[id]);
  });

  it('lets no two nodes overlap, even in a dense namespace and after incremental additions', () => {
    const many = Array.from({ length: 30 }, (_, i) => chain(`w${i}`, 8, { labels: { team: `t${i % 3}` } }));
    const first = layoutNetwork(many.slice(0, 20), { clusterLabel: 'team' });
    const layout = layoutNetwork(many, { clusterLabel: 'team', previous: first });
    expect(layout.nodes).to.have.length(240);
    expect(closestPair(layout.nodes)).to.be.at.least(2 * NODE_RADIUS);
  });

  it('pushes new nodes out of a densely packed previous layout without moving it', () => {
    // 125 nodes packed in a cube just over two radii apart: wherever a new node starts, it overlaps.
    const grid: NetworkWorkflow = {
      namespace: 'shop',
      name: 'grid',
      tasks: Array.from({ length: 125 }, (_, i) => ({ id: `g${i}`, taskRef: `g${i}` })),
      edges: [],
    };
    const packed = layoutNetwork([grid]);
    packed.nodes.forEach((node, i) => {
      node.x = 2.05 * (i % 5);
      node.y = 2.05 * (Math.floor(i / 5) % 5);
      node.z = 2.05 * Math.floor(i / 25);
    });
    const added: NetworkWorkflow = {
      namespace: 'shop',
      name: 'inside',
      tasks: [
        { id: 'centre', taskRef: 'g62' },
        ...Array.from({ length: 10 }, (_, i) => ({ id: `n${i}`, taskRef: `n${i}` })),
      ],
      edges: Array.from({ length: 10 }, (_, i) => ({ from: 'centre', to: `n${i}` })),
    };
    const layout = layoutNetwork([grid, added], { previous: packed });
    const old = positions(packed);
    for (const [id, place] of Object.entries(old)) expect(positions(layout)[id], id).to.deep.equal(place);
    expect(closestPair(layout.nodes)).to.be.at.least(2 * NODE_RADIUS);
  });

  it('ignores edges that name a task the workflow does not have', () => {
    const broken = chain('a', 2);
    const layout = layoutNetwork([{ ...broken, edges: [...broken.edges, { from: 's0', to: 'missing' }] }]);
    expect(layout.links).to.have.length(1);
  });

  describe('the overlap-removal pass (after the simulation, which leaves overlaps in rare layouts)', () => {
    it('pushes apart new nodes that overlap, also ones at the very same point, and moves no fixed node', () => {
      const fixed = Array.from({ length: 27 }, (_, i) => ({
        x: 2.05 * (i % 3),
        y: 2.05 * (Math.floor(i / 3) % 3),
        z: 2.05 * Math.floor(i / 9),
        fixed: true,
      }));
      // Five new nodes on one point at the packed block's centre, three more half a radius apart beside it.
      const added = [
        ...Array.from({ length: 5 }, () => ({ x: 2.05, y: 2.05, z: 2.05, fixed: false })),
        ...Array.from({ length: 3 }, (_, i) => ({ x: 4 + 0.5 * i, y: 2, z: 2, fixed: false })),
      ];
      expect(closestPair(added)).to.equal(0);
      const nodes = [...fixed, ...added];
      const before = fixed.map((n) => ({ ...n }));
      separateNodes(nodes, 1);
      expect(closestPair(nodes)).to.be.at.least(2 * NODE_RADIUS);
      expect(nodes.slice(0, fixed.length)).to.deep.equal(before);
    });

    it('moves the same nodes to the same places for the same seed', () => {
      const start = () =>
        Array.from({ length: 12 }, (_, i) => ({ x: 0.3 * (i % 4), y: 0, z: i < 6 ? 0 : 0.1, fixed: false }));
      const a = start();
      const b = start();
      separateNodes(a, 7);
      separateNodes(b, 7);
      expect(b).to.deep.equal(a);
      expect(closestPair(a)).to.be.at.least(2 * NODE_RADIUS);
    });

    it('leaves two fixed nodes that overlap where they are (a previous layout is never moved)', () => {
      const nodes = [
        { x: 0, y: 0, z: 0, fixed: true },
        { x: 1, y: 0, z: 0, fixed: true },
      ];
      separateNodes(nodes, 1);
      expect(nodes.map((n) => n.x)).to.deep.equal([0, 1]);
    });
  });
});
