/**
 * The end of a run started on a page: the execution's phase and duration under `title`, the reason
 * and message when it has one, a link to the execution (and, with `timeTravel`, to time travel
 * through it), then what the page adds below.
 */
import type { ReactNode } from 'react';
import type { Execution } from '../api/types.ts';
import { duration } from '../format.ts';
import { href } from '../router.ts';

export function ExecutionResult({
  ns,
  execution,
  title,
  timeTravel = false,
  children,
}: {
  ns: string;
  execution: Execution;
  title: string;
  timeTravel?: boolean;
  children?: ReactNode;
}) {
  const { status, metadata } = execution;
  return (
    <section className="panel" aria-label="Result">
      <h2>
        {title}: <span className={`badge phase-${(status?.phase ?? '').toLowerCase()}`}>{status?.phase}</span>{' '}
        in {duration(status?.durationMs)}
      </h2>
      {status?.message ? (
        <p className="note">
          {status.reason}: {status.message}
        </p>
      ) : null}
      <p>
        <a href={href(`/ns/${ns}/executions/${metadata.name}`)}>Open execution {metadata.name}</a>
        {timeTravel ? (
          <>
            {' · '}
            <a href={href(`/ns/${ns}/executions/${metadata.name}/travel`)}>Time travel through it</a>
          </>
        ) : null}
      </p>
      {children}
    </section>
  );
}
