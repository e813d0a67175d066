import { getBezierPath, Position } from '@xyflow/react';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Workflow, WorkflowTask } from '../src/api/types.ts';
import { edgeLabelPlaces, edgePoint, placeEdgeLabels, LABEL_HEIGHT } from '../src/graph/labels.ts';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH } from '../src/graph/layout.ts';
import { workflowGraph } from '../src/graph/model.ts';

function loanQuote() {
  const docs = parseAllDocuments(
    readFileSync(new URL('../../examples/loan-quote.yaml', import.meta.url), 'utf8'),
  ).map((d) => d.toJSON() as { kind: string; metadata: { namespace?: string } });
  for (const doc of docs) doc.metadata.namespace = 'shop';
  return workflowGraph(
    docs.find((d) => d.kind === 'Workflow') as unknown as Workflow,
    docs.filter((d) => d.kind === 'WorkflowTask') as unknown as WorkflowTask[],
  );
}

/** A label's box as placed: centred on its point, its width estimated as the placement does. */
function box(point: { x: number; y: number }, text: string) {
  const half = (text.length * 5.5) / 2;
  return {
    left: point.x - half,
    right: point.x + half,
    top: point.y - LABEL_HEIGHT / 2,
    bottom: point.y + LABEL_HEIGHT / 2,
  };
}
const overlap = (a: ReturnType<typeof box>, b: ReturnType<typeof box>) =>
  a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

describe('edge labels (placed so that none covers another)', () => {
  it('follow the very curve React Flow draws between a bottom and a top handle', () => {
    for (const [source, target] of [
      [
        { x: 10, y: 20 },
        { x: 300, y: 140 },
      ],
      [
        { x: 300, y: 200 },
        { x: 40, y: 60 },
      ],
    ] as const) {
      const [, labelX, labelY] = getBezierPath({
        sourceX: source.x,
        sourceY: source.y,
        sourcePosition: Position.Bottom,
        targetX: target.x,
        targetY: target.y,
        targetPosition: Position.Top,
      });
      const middle = edgePoint(source, target, 0.5);
      expect(middle.x).to.be.closeTo(labelX, 1e-9);
      expect(middle.y).to.be.closeTo(labelY, 1e-9);
    }
    expect(edgePoint({ x: 0, y: 0 }, { x: 100, y: 100 }, 0)).to.deep.equal({ x: 0, y: 0 });
    expect(edgePoint({ x: 0, y: 0 }, { x: 100, y: 100 }, 1)).to.deep.equal({ x: 100, y: 100 });
  });

  it('moves the second of two `when` labels under loan-quote’s score along its edge, off the first', async () => {
    const graph = loanQuote();
    const positions = await layoutGraph(graph.tasks, graph.edges);
    const edges = graph.edges
      .filter((e) => e.when)
      .map((e) => ({ id: `${e.from}->${e.to}`, from: e.from, to: e.to, text: `when ${e.when}` }));
    expect(edges.map((e) => e.id)).to.have.members(['score->quote', 'score->review']);
    const at = edgeLabelPlaces(edges, positions);
    const points = edges.map((e) => {
      const from = positions.get(e.from)!;
      const to = positions.get(e.to)!;
      const source = { x: from.x + NODE_WIDTH / 2, y: from.y + NODE_HEIGHT };
      const target = { x: to.x + NODE_WIDTH / 2, y: to.y };
      return {
        text: e.text,
        middle: edgePoint(source, target, 0.5),
        placed: edgePoint(source, target, at.get(e.id)!),
      };
    });
    const [a, b] = points as [(typeof points)[0], (typeof points)[0]];
    // In the middle of their edges they would cover each other; placed, they do not.
    expect(overlap(box(a.middle, a.text), box(b.middle, b.text))).to.equal(true);
    expect(overlap(box(a.placed, a.text), box(b.placed, b.text))).to.equal(false);
    // Both stay between the score node and the row below it.
    const score = positions.get('score')!;
    for (const p of [a.placed, b.placed]) {
      expect(p.y - LABEL_HEIGHT / 2).to.be.greaterThan(score.y + NODE_HEIGHT);
      expect(p.y + LABEL_HEIGHT / 2).to.be.lessThan(positions.get('quote')!.y);
    }
  });

  it('leaves a label that meets no other in the middle of its edge', () => {
    const at = placeEdgeLabels([
      { id: 'a', source: { x: 0, y: 0 }, target: { x: 0, y: 100 }, text: 'when x' },
      { id: 'b', source: { x: 500, y: 0 }, target: { x: 500, y: 100 }, text: 'when y' },
    ]);
    expect([...at]).to.deep.equal([
      ['a', 0.5],
      ['b', 0.5],
    ]);
  });
});
