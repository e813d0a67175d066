/** The part of d3-force-3d (which ships no types) that the network layout uses. */
declare module 'd3-force-3d' {
  export interface SimulationNode {
    index?: number;
    x?: number;
    y?: number;
    z?: number;
    vx?: number;
    vy?: number;
    vz?: number;
    fx?: number | null;
    fy?: number | null;
    fz?: number | null;
  }
  export interface Force<N> {
    (alpha: number): void;
    initialize?(nodes: N[], random: () => number, numDimensions: number): void;
  }
  export interface Simulation<N> {
    force(name: string, force: Force<N> | null): this;
    randomSource(source: () => number): this;
    alphaDecay(decay: number): this;
    stop(): this;
    tick(iterations?: number): this;
  }
  export function forceSimulation<N extends SimulationNode>(nodes: N[], numDimensions: number): Simulation<N>;
  export interface LinkForce<N, L> extends Force<N> {
    id(id: (node: N) => string): this;
    distance(distance: number): this;
    strength(strength: number): this;
    links(): L[];
  }
  export function forceLink<N, L>(links: L[]): LinkForce<N, L>;
  export interface ManyBodyForce<N> extends Force<N> {
    strength(strength: number): this;
    distanceMax(distance: number): this;
  }
  export function forceManyBody<N>(): ManyBodyForce<N>;
  export interface PositionForce<N> extends Force<N> {
    strength(strength: number): this;
  }
  export function forceX<N>(x: (node: N) => number): PositionForce<N>;
  export function forceY<N>(y: (node: N) => number): PositionForce<N>;
  export function forceZ<N>(z: (node: N) => number): PositionForce<N>;
}
