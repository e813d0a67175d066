/**
 * The live view's accessible companion: the same information as the 3D network, as a table of
 * tasks (phase, calls and errors in the window, the last event), refreshed twice a second.
 */
import type { LiveRow, NodePhase } from './model.ts';

function ago(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return seconds < 60 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

export function LiveTable({ rows, phase }: { rows: readonly LiveRow[]; phase: NodePhase | undefined }) {
  const shown = phase ? rows.filter((r) => r.phase === phase) : rows;
  return (
    <section className="live3d-table" aria-labelledby="live3d-table-title">
      <h2 id="live3d-table-title">Tasks, live</h2>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">
            Each task of the network: its phase, calls and errors in the window
          </caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Workflows</th>
              <th scope="col">Phase</th>
              <th scope="col">Calls</th>
              <th scope="col">Errors</th>
              <th scope="col">Last event</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((row) => (
              <tr key={row.node} data-phase={row.phase}>
                <th scope="row">{row.task}</th>
                <td>{row.workflows}</td>
                <td>
                  <span className={`badge phase-${row.phase.toLowerCase()}`}>{row.phase}</span>
                </td>
                <td>{row.calls}</td>
                <td>{row.errors}</td>
                <td>{ago(row.lastEvent)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
