/**
 * Hash routing: the whole page state is in the URL after `#` (`#/ns/shop/workflows/a?tab=yaml`), so
 * links can be shared and the console works at any base path without server-side routes.
 */
import { useEffect, useState } from 'react';

/** The current route: path segments and query. */
export interface Route {
  path: string;
  segments: string[];
  query: URLSearchParams;
}

/** The route the address bar shows now. */
export function currentRoute(): Route {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = raw.split('?');
  return {
    path,
    segments: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(search),
  };
}

/* c8 ignore start: a React hook (it needs a renderer); the browser test uses it on every page. */
/** The route, re-rendered on every change. */
export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}
/* c8 ignore stop */

/** A link target: a path and optional query (empty values dropped). */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ''}`;
}

/** Goes to a route; `replace` keeps the history entry (for filter edits). */
export function navigate(target: string, replace = false): void {
  if (replace) history.replaceState(null, '', target);
  else location.hash = target.replace(/^#/, '');
  if (replace) dispatchEvent(new HashChangeEvent('hashchange'));
}

/** The sections of the navigation, in order: the route's segment after the namespace, and its label. */
export const NAV_SECTIONS = [
  { section: 'workflows', label: 'Workflows' },
  { section: 'executions', label: 'Executions' },
  { section: 'live', label: 'Live' },
  { section: 'builder', label: 'Builder' },
  { section: 'templates', label: 'Templates' },
  { section: 'breakers', label: 'Breakers' },
] as const;

/** Pages that are not a section of their own, and the section they belong to. */
const BELONGS_TO: Record<string, string> = { compare: 'executions', playground: 'builder' };

/** The one navigation section a page (its route segment) belongs to: workflows unless it says otherwise. */
export function navSection(segment: string | undefined): string {
  if (segment === undefined) return 'workflows';
  if (NAV_SECTIONS.some((s) => s.section === segment)) return segment;
  return BELONGS_TO[segment] ?? 'workflows';
}
