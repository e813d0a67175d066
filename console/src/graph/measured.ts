/**
 * The sizes React Flow measured for the nodes of a graph whose nodes a page controls. React Flow
 * reports a node's size as a `dimensions` change and expects controlled nodes to carry it back as
 * `measured`: a node passed again without it counts as new, loses its handle positions and draws no
 * edges until it is measured again, which a node whose size does not change may never be (a run's
 * graph lost its edge when the phases arrived).
 */
import type { NodeChange } from '@xyflow/react';

/** Width and height per node id. */
export type MeasuredSizes = ReadonlyMap<string, { width: number; height: number }>;

/** The sizes with the changes' dimensions applied: the same map when none of them changed a size. */
export function withDimensions(sizes: MeasuredSizes, changes: readonly NodeChange[]): MeasuredSizes {
  let next: Map<string, { width: number; height: number }> | undefined;
  for (const change of changes) {
    if (change.type !== 'dimensions' || !change.dimensions) continue;
    const { width, height } = change.dimensions;
    const known = (next ?? sizes).get(change.id);
    if (known && known.width === width && known.height === height) continue;
    next ??= new Map(sizes);
    next.set(change.id, { width, height });
  }
  return next ?? sizes;
}

/** A node's `measured` member: its measured size, or nothing before React Flow measured it. */
export function measuredOf(
  sizes: MeasuredSizes,
  id: string,
): { measured: { width: number; height: number } } | Record<string, never> {
  const size = sizes.get(id);
  return size ? { measured: size } : {};
}
