/**
 * Where edge labels go. React Flow puts a label at the middle of its edge, so the labels of two edges
 * that leave one task for tasks side by side (two `when` branches) land on each other. Each label is
 * moved along its own edge, nearer its source or its target, until its box meets no label placed
 * before it. Pure: the graph computes the positions from the layout, an edge draws its label there.
 */

import { NODE_HEIGHT, NODE_WIDTH, type Positions } from './layout.ts';

/** A point in the graph's coordinates. */
export interface Point {
  x: number;
  y: number;
}

/** An edge with a label: from the bottom of its source task to the top of its target task. */
export interface LabelToPlace {
  id: string;
  source: Point;
  target: Point;
  text: string;
}

/** Label text is 10 px (React Flow's style); the width is estimated generously from its length. */
const CHAR_WIDTH = 6.6;
/** The text's height with its background's padding. */
export const LABEL_HEIGHT = 18;
/** The padding of a label's background, each side (x, y). */
export const LABEL_PADDING: [number, number] = [4, 2];
/** Space kept between two labels. */
const GAP = 2;
/** Where along its edge a label may go, in the order tried: the middle first. */
const POSITIONS = [0.5, 0.3, 0.7, 0.2, 0.8];

/**
 * The point at `t` (0 to 1) along the curve React Flow draws from `source` (a bottom handle) to
 * `target` (a top handle): its cubic Bézier with the control points of `getBezierPath`.
 */
export function edgePoint(source: Point, target: Point, t: number): Point {
  const distance = target.y - source.y;
  const offset = distance >= 0 ? 0.5 * distance : 0.25 * 25 * Math.sqrt(-distance);
  const u = 1 - t;
  const a = u * u * u;
  const b = 3 * u * u * t;
  const c = 3 * u * t * t;
  const d = t * t * t;
  return {
    x: (a + b) * source.x + (c + d) * target.x,
    y: a * source.y + b * (source.y + offset) + c * (target.y - offset) + d * target.y,
  };
}

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function boxAt(point: Point, text: string): Box {
  const half = (text.length * CHAR_WIDTH) / 2 + LABEL_PADDING[0] + GAP / 2;
  const halfHeight = LABEL_HEIGHT / 2 + GAP / 2;
  return {
    left: point.x - half,
    right: point.x + half,
    top: point.y - halfHeight,
    bottom: point.y + halfHeight,
  };
}

function intersect(a: Box, b: Box): boolean {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/**
 * How far along its edge (0 to 1) each label goes: the middle unless it would meet a label placed
 * before it, then the first of a few positions nearer either end that meets none (the middle when
 * every one would).
 */
export function placeEdgeLabels(labels: readonly LabelToPlace[]): Map<string, number> {
  const placed: Box[] = [];
  const at = new Map<string, number>();
  for (const label of labels) {
    const boxes = POSITIONS.map((t) => ({
      t,
      box: boxAt(edgePoint(label.source, label.target, t), label.text),
    }));
    const free = boxes.find(({ box }) => !placed.some((other) => intersect(box, other))) ?? boxes[0]!;
    placed.push(free.box);
    at.set(label.id, free.t);
  }
  return at;
}

/**
 * Where each labelled edge's label goes (keyed by edge id), from the laid-out nodes' top-left corners:
 * an edge leaves the middle of its source's bottom and enters the middle of its target's top.
 */
export function edgeLabelPlaces(
  edges: readonly { id: string; from: string; to: string; text: string }[],
  positions: Positions,
): Map<string, number> {
  const labels: LabelToPlace[] = [];
  for (const edge of edges) {
    const from = positions.get(edge.from);
    const to = positions.get(edge.to);
    if (!edge.text || !from || !to) continue;
    labels.push({
      id: edge.id,
      source: { x: from.x + NODE_WIDTH / 2, y: from.y + NODE_HEIGHT },
      target: { x: to.x + NODE_WIDTH / 2, y: to.y },
      text: edge.text,
    });
  }
  return placeEdgeLabels(labels);
}
