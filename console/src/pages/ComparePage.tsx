/**
 * Two executions side by side (`#/ns/NS/compare?a=X&b=Y`): summary, inputs and outputs diffed line by
 * line, and each task's phase and timing with the difference — of one workflow or of two.
 */
import { stringify } from 'yaml';
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import type { Execution, List } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Show } from '../components/States.tsx';
import { diffLines } from '../diff.ts';
import { duration, shortRevision } from '../format.ts';
import { href, navigate } from '../router.ts';

function DiffView({ left, right, label }: { left: unknown; right: unknown; label: string }) {
  const rows = diffLines(
    stringify(left ?? null, { lineWidth: 0 }),
    stringify(right ?? null, { lineWidth: 0 }),
  );
  return (
    <div className="diff" role="table" tabIndex={0} aria-label={label}>
      {rows.map((row, i) => (
        <div role="row" className={`diff-row ${row.kind}`} key={i}>
          <pre role="cell">{row.left ?? ''}</pre>
          <pre role="cell">{row.right ?? ''}</pre>
        </div>
      ))}
    </div>
  );
}

/** Per task id (both executions' tasks, in order of first appearance): phase and duration on each side. */
export function taskTimings(a: Execution, b: Execution) {
  const ids = [...new Set([...(a.status?.tasks ?? []), ...(b.status?.tasks ?? [])].map((t) => t.id))];
  return ids.map((id) => {
    const left = a.status?.tasks?.find((t) => t.id === id);
    const right = b.status?.tasks?.find((t) => t.id === id);
    const delta =
      left?.durationMs !== undefined && right?.durationMs !== undefined
        ? right.durationMs - left.durationMs
        : undefined;
    return { id, left, right, delta };
  });
}

function Picker({ ns, a, b }: { ns: string; a: string; b: string }) {
  const client = useClient();
  const recent = useResource(
    (signal) => client.get<List<Execution>>(paths.executions(ns), { limit: 100 }, signal),
    `cmp/${ns}`,
  );
  const names = recent.state === 'ready' ? recent.data.items.map((e) => e.metadata.name) : [];
  const choose = (key: 'a' | 'b', value: string) =>
    navigate(href(`/ns/${ns}/compare`, { a: key === 'a' ? value : a, b: key === 'b' ? value : b }));
  return (
    <div className="controls">
      {(['a', 'b'] as const).map((key) => (
        <label key={key}>
          {key === 'a' ? 'Left' : 'Right'}{' '}
          <select value={key === 'a' ? a : b} onChange={(e) => choose(key, e.target.value)}>
            <option value="">choose an execution</option>
            {[...new Set([...(key === 'a' ? [a] : [b]).filter(Boolean), ...names])].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
      ))}
    </div>
  );
}

export default function ComparePage({ ns, query }: { ns: string; query: URLSearchParams }) {
  const client = useClient();
  const a = query.get('a') ?? '';
  const b = query.get('b') ?? '';
  const loaded = useResource(
    async (signal) =>
      a && b
        ? await Promise.all([
            client.get<Execution>(paths.execution(ns, a), {}, signal),
            client.get<Execution>(paths.execution(ns, b), {}, signal),
          ])
        : undefined,
    `${ns}/${a}/${b}`,
  );
  return (
    <>
      <p className="crumbs">
        <a href={href(`/ns/${ns}/executions`)}>Executions</a> / compare
      </p>
      <h1>Compare executions</h1>
      <Picker ns={ns} a={a} b={b} />
      <Show loaded={loaded} what="the two executions">
        {(pair) => {
          if (!pair) return <p className="state empty">Choose two executions to compare.</p>;
          const [left, right] = pair;
          return (
            <>
              <div className="table-wrap">
                <table>
                  <caption>Summary</caption>
                  <thead>
                    <tr>
                      <th scope="col" />
                      <th scope="col">{left.metadata.name}</th>
                      <th scope="col">{right.metadata.name}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {(
                      [
                        ['Workflow', (e: Execution) => e.spec.workflowRef.name],
                        ['Phase', (e: Execution) => `${e.status?.phase ?? ''} ${e.status?.reason ?? ''}`],
                        ['Duration', (e: Execution) => duration(e.status?.durationMs)],
                        ['Revision', (e: Execution) => shortRevision(e.status?.workflowRevision)],
                      ] as const
                    ).map(([label, value]) => (
                      <tr key={label}>
                        <th scope="row">{label}</th>
                        <td>{value(left)}</td>
                        <td>{value(right)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div className="table-wrap">
                <table className="task-timings">
                  <caption>Tasks</caption>
                  <thead>
                    <tr>
                      <th scope="col">Task</th>
                      <th scope="col">{left.metadata.name}</th>
                      <th scope="col">{right.metadata.name}</th>
                      <th scope="col">Difference</th>
                    </tr>
                  </thead>
                  <tbody>
                    {taskTimings(left, right).map(({ id, left: l, right: r, delta }) => (
                      <tr key={id} className={l?.phase !== r?.phase ? 'changed' : ''}>
                        <th scope="row">{id}</th>
                        <td>{l ? `${l.phase} ${duration(l.durationMs)}` : 'absent'}</td>
                        <td>{r ? `${r.phase} ${duration(r.durationMs)}` : 'absent'}</td>
                        <td>
                          {delta === undefined
                            ? l?.phase !== r?.phase
                              ? 'phase differs'
                              : '—'
                            : `${delta >= 0 ? '+' : '−'}${duration(Math.abs(delta))}`}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <h2>Input</h2>
              <DiffView
                left={left.spec.input}
                right={right.spec.input}
                label="Differences between the inputs"
              />
              <h2>Output</h2>
              <DiffView
                left={left.status?.output}
                right={right.status?.output}
                label="Differences between the outputs"
              />
            </>
          );
        }}
      </Show>
    </>
  );
}
