/**
 * Two executions side by side (`#/ns/NS/compare?a=X&b=Y`): summary, inputs and outputs field by field,
 * and each task's phase and timing with the difference — of one workflow or of two (console/src/compare.ts).
 */
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import type { Execution, List, TaskStatus } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Show } from '../components/States.tsx';
import { fieldDiff, taskTimings } from '../compare.ts';
import { duration, shortRevision } from '../format.ts';
import { href, navigate } from '../router.ts';

/** The fields of two values side by side, one row per path (a real table: columns stay aligned). */
function FieldDiffTable({ left, right, label }: { left: unknown; right: unknown; label: string }) {
  const rows = fieldDiff(left, right);
  if (rows.length === 0) return <p className="note">Both are empty.</p>;
  const changed = rows.filter((r) => r.kind !== 'same').length;
  return (
    <div className="table-wrap">
      <table className="field-diff">
        <caption>
          {label} ({changed === 0 ? 'identical' : `${changed} of ${rows.length} fields differ`})
        </caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Left</th>
            <th scope="col">Right</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.path} className={`diff-${row.kind}`} data-kind={row.kind}>
              <th scope="row">
                <code>{row.path}</code>
                {row.kind === 'same' ? null : <span className="sr-only"> ({row.kind})</span>}
              </th>
              <td>
                {row.left === undefined ? <span className="absent">absent</span> : <code>{row.left}</code>}
              </td>
              <td>
                {row.right === undefined ? <span className="absent">absent</span> : <code>{row.right}</code>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function taskCell(task: TaskStatus | undefined, named: boolean): string {
  if (!task) return 'absent';
  return `${named ? `${task.id}: ` : ''}${task.phase} ${duration(task.durationMs)}`.trim();
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
          const sameWorkflow = left.spec.workflowRef.name === right.spec.workflowRef.name;
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
                  <caption>
                    Tasks
                    {sameWorkflow ? '' : ' (different workflows: paired by the order they started)'}
                  </caption>
                  <thead>
                    <tr>
                      {sameWorkflow ? <th scope="col">Task</th> : <th scope="col">#</th>}
                      <th scope="col">{left.metadata.name}</th>
                      <th scope="col">{right.metadata.name}</th>
                      <th scope="col">Difference</th>
                    </tr>
                  </thead>
                  <tbody>
                    {taskTimings(left, right).map(({ left: l, right: r, delta }, i) => (
                      <tr key={`${l?.id}/${r?.id}/${i}`} className={l?.phase !== r?.phase ? 'changed' : ''}>
                        <th scope="row">{sameWorkflow ? (l ?? r)?.id : i + 1}</th>
                        <td>{taskCell(l, !sameWorkflow)}</td>
                        <td>{taskCell(r, !sameWorkflow)}</td>
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
              <FieldDiffTable
                left={left.spec.input}
                right={right.spec.input}
                label="Differences between the inputs"
              />
              <h2>Output</h2>
              <FieldDiffTable
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
