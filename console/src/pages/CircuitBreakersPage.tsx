/**
 * The circuit breakers of the server replica that answers (the read-only, cluster-scoped
 * `circuitbreakers` resource): state, failure ratio over the window, when each opened. Read with
 * the user's identity; a namespace-only grant is refused, and the page says so.
 */
import { useClient } from '../App.tsx';
import type { List, ObjectMeta } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Empty, Show } from '../components/States.tsx';
import { ago } from '../format.ts';

/** One breaker as the API serves it. */
interface CircuitBreaker {
  metadata: ObjectMeta;
  origin: string;
  replica: string;
  state: 'closed' | 'open' | 'half-open';
  failureRatio: number;
  requests: number;
  openedAt?: string;
}

const PATH = '/apis/execution.syncflow.io/v1alpha1/circuitbreakers';

export default function CircuitBreakersPage() {
  const client = useClient();
  const loaded = useResource((signal) => client.get<List<CircuitBreaker>>(PATH, {}, signal), 'breakers');
  return (
    <>
      <div className="title-row">
        <h1>Circuit breakers</h1>
        <button type="button" onClick={loaded.reload}>
          Refresh
        </button>
      </div>
      <p className="muted">
        One breaker per upstream origin, shared by every namespace's executions on a server replica. Each
        replica keeps its own: this list is the replica that answered.
      </p>
      <Show loaded={loaded} what="circuit breakers (a cluster-wide grant: list circuitbreakers)">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>
              No circuit breakers yet: they appear once a task with a circuitBreaker calls its upstream.
            </Empty>
          ) : (
            <div className="table-wrap">
              <table className="breakers">
                <caption>Circuit breakers of replica {list.items[0]?.replica}</caption>
                <thead>
                  <tr>
                    <th scope="col">Origin</th>
                    <th scope="col">State</th>
                    <th scope="col">Failure ratio</th>
                    <th scope="col">Calls in window</th>
                    <th scope="col">Opened</th>
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((b) => (
                    <tr key={b.metadata.name} data-origin={b.origin}>
                      <th scope="row">
                        <code>{b.origin}</code>
                      </th>
                      <td>
                        <span className={`badge breaker-${b.state}`}>{b.state}</span>
                      </td>
                      <td>{Math.round(b.failureRatio * 100)}%</td>
                      <td>{b.requests}</td>
                      <td>{b.openedAt ? <time dateTime={b.openedAt}>{ago(b.openedAt)}</time> : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
    </>
  );
}
