import { expect } from 'chai';
import type { NodeChange } from '@xyflow/react';
import { measuredOf, withDimensions, type MeasuredSizes } from '../src/graph/measured.ts';

const EMPTY: MeasuredSizes = new Map();
const dimensions = (id: string, width: number, height: number): NodeChange => ({
  id,
  type: 'dimensions',
  dimensions: { width, height },
});

describe('withDimensions (measured sizes of controlled React Flow nodes)', () => {
  it('keeps the size React Flow measured for each node', () => {
    const sizes = withDimensions(EMPTY, [dimensions('a', 240, 96), dimensions('b', 240, 112)]);
    expect([...sizes]).to.deep.equal([
      ['a', { width: 240, height: 96 }],
      ['b', { width: 240, height: 112 }],
    ]);
  });

  it('answers the same map when nothing changed, so that React renders nothing again', () => {
    const sizes = withDimensions(EMPTY, [dimensions('a', 240, 96)]);
    expect(withDimensions(sizes, [dimensions('a', 240, 96)])).to.equal(sizes);
    expect(withDimensions(sizes, [{ id: 'a', type: 'select', selected: true }])).to.equal(sizes);
    expect(withDimensions(sizes, [{ id: 'a', type: 'dimensions' }])).to.equal(sizes);
  });

  it('answers a new map with the new size when a node was resized, leaving the old one as it was', () => {
    const sizes = withDimensions(EMPTY, [dimensions('a', 240, 96)]);
    const resized = withDimensions(sizes, [dimensions('a', 240, 130)]);
    expect(resized).not.to.equal(sizes);
    expect(resized.get('a')).to.deep.equal({ width: 240, height: 130 });
    expect(sizes.get('a')).to.deep.equal({ width: 240, height: 96 });
  });
});

describe('measuredOf', () => {
  it('gives a node its measured size once there is one, and nothing before', () => {
    const sizes = withDimensions(EMPTY, [dimensions('a', 240, 96)]);
    expect(measuredOf(sizes, 'a')).to.deep.equal({ measured: { width: 240, height: 96 } });
    expect(measuredOf(sizes, 'b')).to.deep.equal({});
  });
});
