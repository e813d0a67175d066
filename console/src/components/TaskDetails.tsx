/**
 * One task of an execution, collapsible (a native `details`: Enter or Space opens it): the request
 * it sent and the input it was given beside the response (status, attempts, output or error).
 */
import type { TaskStatus } from '../api/types.ts';
import { duration } from '../format.ts';
import { taskExchange } from './exchange.ts';
import { HeaderTable } from './HeaderTable.tsx';
import { mapProgressText, recordedTaskOverlay } from './task-progress.ts';

export function TaskDetails({
  task,
  open,
  onToggle,
}: {
  task: TaskStatus;
  open: boolean;
  onToggle: (open: boolean) => void;
}) {
  const view = taskExchange(task);
  const overlay = recordedTaskOverlay(task);
  const { response } = view;
  return (
    <details
      className={`task-details phase-${task.phase.toLowerCase()}`}
      data-task={task.id}
      open={open}
      onToggle={(e) => {
        const now = (e.currentTarget as HTMLDetailsElement).open;
        if (now !== open) onToggle(now);
      }}
    >
      <summary>
        <strong>{task.id}</strong> <span className="muted">{task.taskRef}</span>{' '}
        <span className={`badge phase-${task.phase.toLowerCase()}`}>{task.phase}</span>{' '}
        {response.status ?? ''} {task.durationMs !== undefined ? duration(task.durationMs) : ''}
        {overlay.badges?.map((b) => (
          <span key={b} className="badge task-badge">
            {' '}
            {b}
          </span>
        ))}
        {overlay.map ? <span className="muted"> · map: {mapProgressText(overlay.map)}</span> : null}
      </summary>
      <div className="columns">
        <section aria-label={`Request of task ${task.id}`}>
          <h3>Request</h3>
          {view.request ? (
            <>
              <p>
                <code className="request-line">{view.request.line}</code>
              </p>
              {view.request.headers?.length ? (
                <HeaderTable
                  headers={view.request.headers}
                  caption={`Request headers of ${task.id}`}
                  hideCaption
                />
              ) : null}
              {view.request.body !== undefined ? (
                <pre tabIndex={0} aria-label={`Request body of ${task.id}`}>
                  {view.request.body}
                </pre>
              ) : null}
              {view.request.note ? <p className="note">{view.request.note}</p> : null}
            </>
          ) : (
            <p className="muted">
              {task.phase === 'Skipped'
                ? 'Skipped: nothing was sent.'
                : task.phase === 'Cancelled' && task.httpStatus === undefined
                  ? 'Cancelled before it started (the execution had ended): nothing was sent.'
                  : 'No request recorded for this task.'}
            </p>
          )}
          {view.input !== undefined ? (
            <>
              <h3>Input</h3>
              <pre tabIndex={0} aria-label={`Input of ${task.id}`}>
                {view.input}
              </pre>
            </>
          ) : null}
        </section>
        <section aria-label={`Response of task ${task.id}`}>
          <h3>Response</h3>
          {response.status || response.attempts !== undefined ? (
            <p>
              {response.status ?? 'no HTTP answer'}
              {response.attempts !== undefined
                ? `, ${response.attempts} attempt${response.attempts === 1 ? '' : 's'}`
                : ''}
            </p>
          ) : null}
          {response.source ? <p className="note">Output {response.source}.</p> : null}
          {response.error ? (
            <p className="state error">
              <strong>{response.error}</strong>
            </p>
          ) : null}
          {response.output !== undefined ? (
            <pre tabIndex={0} aria-label={`Output of ${task.id}`}>
              {response.output}
            </pre>
          ) : null}
          {!response.status && !response.output && !response.error ? (
            <p className="muted">No response.</p>
          ) : null}
        </section>
      </div>
    </details>
  );
}
