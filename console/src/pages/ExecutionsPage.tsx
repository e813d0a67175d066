/**
 * Executions of a namespace, filtered by workflow, phase, label and age (all in the URL), read 50 at
 * a time as the table is scrolled (`limit` and `continue`: a long history is never read whole), kept
 * current by a Kubernetes watch from the first page's resourceVersion.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import type { Execution, List } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Empty, Show } from '../components/States.tsx';
import { ago, duration, shortRevision } from '../format.ts';
import { href, navigate } from '../router.ts';

const PAGE = 50;
const AGES: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 };

function time(e: Execution): number {
  return Date.parse(e.status?.startTime ?? e.metadata.creationTimestamp ?? '') || 0;
}

export function ExecutionsPage({ ns, query }: { ns: string; query: URLSearchParams }) {
  const client = useClient();
  const workflow = query.get('workflow') ?? '';
  const phase = query.get('phase') ?? '';
  const label = query.get('label') ?? '';
  const age = query.get('age') ?? '';
  const fieldSelector = [workflow && `spec.workflowRef.name=${workflow}`, phase && `status.phase=${phase}`]
    .filter(Boolean)
    .join(',');
  const selectors = {
    ...(fieldSelector ? { fieldSelector } : {}),
    ...(label ? { labelSelector: label } : {}),
  };
  const listed = useResource(
    (signal) => client.get<List<Execution>>(paths.executions(ns), { ...selectors, limit: PAGE }, signal),
    JSON.stringify([ns, selectors]),
  );
  const [rows, setRows] = useState<Execution[]>([]);
  const [liveState, setLiveState] = useState<'off' | 'live' | 'broken'>('off');
  const [next, setNext] = useState<string | undefined>();
  const [more, setMore] = useState<'idle' | 'loading' | Error>('idle');
  const page = listed.state === 'ready' ? listed.data : undefined;
  /** Reads the next 50 rows (when the end of the table scrolls into view, or on the button). */
  const loadMore = async () => {
    if (!next || more === 'loading') return;
    setMore('loading');
    try {
      const list = await client.get<List<Execution>>(paths.executions(ns), {
        ...selectors,
        limit: PAGE,
        continue: next,
      });
      setRows((current) => {
        const known = new Set(current.map((r) => r.metadata.name));
        return [...current, ...list.items.filter((r) => !known.has(r.metadata.name))];
      });
      setNext(list.metadata.continue || undefined);
      setMore('idle');
    } catch (error) {
      setMore(error as Error);
    }
  };
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!end.current || !next) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadMore();
    });
    observer.observe(end.current);
    return () => observer.disconnect();
  });
  useEffect(() => {
    if (!page) return;
    setRows(page.items);
    setNext(page.metadata.continue || undefined);
    setMore('idle');
    const stop = client.watch<Execution>(
      paths.executions(ns),
      { ...selectors, resourceVersion: page.metadata.resourceVersion },
      (event) => {
        setLiveState('live');
        const name = event.object?.metadata?.name;
        if (!name || event.type === 'BOOKMARK' || event.type === 'ERROR') return;
        setRows((current) => {
          const rest = current.filter((r) => r.metadata.name !== name);
          if (event.type === 'DELETED') return rest;
          const known = current.some((r) => r.metadata.name === name);
          return known
            ? current.map((r) => (r.metadata.name === name ? event.object : r))
            : [event.object, ...current];
        });
      },
      () => setLiveState('broken'),
      () => setLiveState('live'),
    );
    return () => {
      stop();
      setLiveState('off');
    };
    // One watch per page of results (the list's object), not per render.
  }, [page]);

  const filter = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (k: string) => String(form.get(k) ?? '').trim() || undefined;
    navigate(
      href(`/ns/${ns}/executions`, {
        workflow: value('workflow'),
        phase: value('phase'),
        label: value('label'),
        age: value('age'),
      }),
    );
  };
  const cutoff = AGES[age] ? Date.now() - (AGES[age] as number) : 0;
  const shown = [...rows].filter((e) => !cutoff || time(e) >= cutoff).sort((a, b) => time(b) - time(a));

  return (
    <>
      <h1>Executions in {ns}</h1>
      <form className="filters" onSubmit={filter} aria-label="Filter executions" key={query.toString()}>
        <label>
          Workflow <input name="workflow" defaultValue={workflow} size={14} />
        </label>
        <label>
          Phase{' '}
          <select name="phase" defaultValue={phase}>
            <option value="">any</option>
            <option>Running</option>
            <option>Succeeded</option>
            <option>Failed</option>
          </select>
        </label>
        <label>
          Labels <input name="label" defaultValue={label} placeholder="team=web" size={14} />
        </label>
        <label>
          Age{' '}
          <select name="age" defaultValue={age}>
            <option value="">any</option>
            <option value="1h">last hour</option>
            <option value="24h">last day</option>
            <option value="7d">last week</option>
          </select>
        </label>
        <button type="submit">Filter</button>
        <span className={`live ${liveState}`} role="status">
          {liveState === 'live' ? '● live' : liveState === 'broken' ? 'live updates stopped' : ''}
        </span>
      </form>
      <Show loaded={listed} what={`the executions of ${ns}`}>
        {() => (
          <>
            {shown.length === 0 ? (
              <Empty>No executions match. Run a workflow from its page, or with kubectl create.</Empty>
            ) : (
              <div className="table-wrap">
                <table className="executions">
                  <caption className="sr-only">Executions</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Workflow</th>
                      <th scope="col">Phase</th>
                      <th scope="col">Duration</th>
                      <th scope="col">Started</th>
                      <th scope="col">Revision</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((e) => (
                      <tr key={e.metadata.name} data-execution={e.metadata.name}>
                        <th scope="row">
                          <a href={href(`/ns/${ns}/executions/${e.metadata.name}`)}>{e.metadata.name}</a>
                        </th>
                        <td>
                          <a href={href(`/ns/${ns}/workflows/${e.spec.workflowRef.name}`)}>
                            {e.spec.workflowRef.name}
                          </a>
                        </td>
                        <td>
                          <span className={`badge phase-${(e.status?.phase ?? '').toLowerCase()}`}>
                            {e.status?.phase ?? '—'}
                          </span>
                          {e.status?.reason ? ` ${e.status.reason}` : ''}
                        </td>
                        <td>{duration(e.status?.durationMs)}</td>
                        <td>{ago(e.status?.startTime ?? e.metadata.creationTimestamp)}</td>
                        <td>
                          <code>{shortRevision(e.status?.workflowRevision)}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <div ref={end} className="pager" role="status" aria-live="polite">
              {`${shown.length} shown`}
              {typeof more === 'object' ? `; reading more failed: ${more.message}` : ''}
              {next ? (
                <button type="button" onClick={() => void loadMore()} disabled={more === 'loading'}>
                  {more === 'loading' ? 'Loading more…' : 'Load more'}
                </button>
              ) : (
                '; that is all'
              )}
            </div>
          </>
        )}
      </Show>
    </>
  );
}
