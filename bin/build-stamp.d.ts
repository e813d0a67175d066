/** Types of bin/build-stamp.js (plain JavaScript: it runs before any TypeScript loader). */

/** File name of the stamp inside the build's output folder. */
export declare const STAMP: string;

/** The fingerprint of the sources a build with `tsconfig` (relative to `root`) compiles. */
export declare function sourceFingerprint(
  root: string,
  tsconfig?: string,
): { tsconfig: string; files: number; sha256: string };

/** `fresh`, `stale` (a build from other sources, or an unreadable stamp) or `missing` (no build). */
export declare function buildState(root: string, out?: string): 'fresh' | 'stale' | 'missing';
