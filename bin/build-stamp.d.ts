/** Types of bin/build-stamp.js (plain JavaScript: it runs before any TypeScript loader). */

/** `fresh`, `stale` (a build from other sources, or an unreadable stamp) or `missing` (no build). */
export declare function buildState(root: string, out?: string): 'fresh' | 'stale' | 'missing';
