/**
 * Run a workflow: a form generated from its inputSchema, checked as one types by the validator the
 * server runs (core/engine/input.ts); Dry run shows the plan on the graph; Run executes through the
 * live-events stream and lights the graph up from its events (started, retrying, succeeded, failed,
 * skipped), then shows the result and the timeline.
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { flushSync } from 'react-dom';
import { checkWorkflowInput } from '../../../core/engine/input.ts';
import { SyncflowError } from '../../../core/errors.ts';
import { useClient } from '../App.tsx';
import { ApiError, bearerToken, paths } from '../api/client.ts';
import { ConsoleStream, StreamRefused, liveExecution, type LiveExecution } from '../api/stream.ts';
import {
  WORKFLOW_LABEL,
  type Execution,
  type ExecutionPlan,
  type List,
  type Revision,
} from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { ErrorView, Show } from '../components/States.tsx';
import { ExecutionResult } from '../components/ExecutionResult.tsx';
import { ExecutionTimeline } from '../components/ExecutionTimeline.tsx';
import { duration, shortRevision } from '../format.ts';
import type { WorkflowGraphModel } from '../graph/model.ts';
import { WorkflowGraph, type TaskOverlay } from '../graph/WorkflowGraph.tsx';
import { href, navigate } from '../router.ts';
import { objectYaml, useWorkflowWithTasks } from './WorkflowPage.tsx';

interface FieldSchema {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
}

type Values = Record<string, string | boolean>;

function fieldType(schema: FieldSchema): string {
  const type = [schema.type ?? 'string'].flat()[0] as string;
  return schema.enum ? 'enum' : type;
}

/** The input object the form's values stand for; unparsable JSON fields are reported by name. */
function inputFrom(
  properties: Record<string, FieldSchema>,
  values: Values,
): { input: Record<string, unknown>; parseErrors: Record<string, string> } {
  const input: Record<string, unknown> = {};
  const parseErrors: Record<string, string> = {};
  for (const [key, schema] of Object.entries(properties)) {
    const value = values[key];
    if (value === undefined || value === '') continue;
    const type = fieldType(schema);
    if (type === 'boolean') {
      input[key] = value === true;
    } else if (type === 'number' || type === 'integer') {
      input[key] = Number(value);
    } else if (type === 'object' || type === 'array') {
      try {
        input[key] = JSON.parse(String(value));
      } catch {
        parseErrors[key] = `is not valid JSON (an ${type} is expected)`;
      }
    } else if (type === 'enum') {
      input[key] = JSON.parse(String(value));
    } else input[key] = value;
  }
  return { input, parseErrors };
}

function initialValues(
  properties: Record<string, FieldSchema>,
  saved: Record<string, unknown> | undefined,
): Values {
  const values: Values = {};
  for (const [key, schema] of Object.entries(properties)) {
    const given = saved?.[key] ?? schema.default;
    const type = fieldType(schema);
    if (type === 'boolean') values[key] = given === true;
    else if (given === undefined) values[key] = '';
    else if (type === 'enum') values[key] = JSON.stringify(given);
    else if (type === 'object' || type === 'array') values[key] = JSON.stringify(given);
    else values[key] = String(given);
  }
  return values;
}

/** Field errors (by input field) from the server's validator, or from a 422 the server answered. */
function fieldErrors(causes: Array<{ field?: string; message?: string }>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const c of causes) {
    const field = (c.field ?? '').replace(/^spec\.input\.?/, '').split(/[.[]/)[0] || '';
    errors[field] = errors[field] ? `${errors[field]}; ${c.message}` : (c.message ?? 'invalid');
  }
  return errors;
}

function execution(ns: string, workflow: string, input: unknown, workflowRevision?: string) {
  return {
    apiVersion: 'execution.syncflow.io/v1alpha1',
    kind: 'WorkflowExecution',
    metadata: { namespace: ns, generateName: `${workflow}-` },
    spec: { workflowRef: { name: workflow }, input, ...(workflowRevision ? { workflowRevision } : {}) },
  };
}

/**
 * The recorded revision a re-run may go against (`?revision=<hash>`, from an execution's page):
 * its name, looked up among the workflow's recorded revisions.
 */
function useRecordedRevision(ns: string, workflow: string, hash: string | undefined) {
  const client = useClient();
  return useResource(
    async (signal) => {
      if (!hash) return undefined;
      const list = await client.get<List<Revision>>(
        paths.revisions(ns),
        { labelSelector: `${WORKFLOW_LABEL}=${workflow}` },
        signal,
      );
      return list.items.find((r) => r.hash === hash)?.metadata.name ?? null;
    },
    `rev/${ns}/${workflow}/${hash ?? ''}`,
  );
}

function RevisionChoice({
  hash,
  name,
  against,
  onChange,
}: {
  hash: string;
  name: string | null | undefined;
  against: 'recorded' | 'current';
  onChange: (choice: 'recorded' | 'current') => void;
}) {
  return (
    <fieldset className="revision-choice">
      <legend>Run against</legend>
      <label>
        <input
          type="radio"
          name="against"
          value="recorded"
          checked={against === 'recorded'}
          disabled={!name}
          onChange={() => onChange('recorded')}
        />{' '}
        this revision <code>{shortRevision(hash)}</code>
        {name === null
          ? ' (not recorded: it cannot be run again)'
          : name
            ? ` (${name})`
            : ' (looking it up…)'}
      </label>
      <label>
        <input
          type="radio"
          name="against"
          value="current"
          checked={against === 'current'}
          onChange={() => onChange('current')}
        />{' '}
        the current revision
      </label>
      {against === 'recorded' ? (
        <small>
          The form and the graph show the current definition; the server checks the input against the recorded
          one, and the result appears when the run ends.
        </small>
      ) : null}
    </fieldset>
  );
}

function PlanView({ plan }: { plan: ExecutionPlan }) {
  return (
    <section className="panel" aria-label="Dry-run plan">
      <h2>Plan</h2>
      <p>
        Order: {plan.order?.join(' → ')}. Parallel groups:{' '}
        {plan.parallelGroups?.map((g) => `[${g.join(', ')}]`).join(' ')}.{' '}
        {plan.estimatedDurationMs !== undefined
          ? `Estimated ${duration(plan.estimatedDurationMs)} (from history).`
          : 'No estimate yet (no history).'}
      </p>
      <div className="table-wrap">
        <table>
          <caption>Resolved task inputs</caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Input</th>
              <th scope="col">when</th>
            </tr>
          </thead>
          <tbody>
            {plan.tasks?.map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.id}</th>
                <td>
                  <code>{JSON.stringify(t.input)}</code>
                </td>
                <td>{t.when ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function RunForm({
  ns,
  name,
  graph,
  schema,
  query,
}: {
  ns: string;
  name: string;
  graph: WorkflowGraphModel;
  schema: { properties?: Record<string, FieldSchema>; required?: string[] } | undefined;
  query: URLSearchParams;
}) {
  const client = useClient();
  const properties = schema?.properties ?? {};
  const saved = useMemo(() => {
    try {
      return JSON.parse(query.get('input') ?? '{}') as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }, []);
  const [values, setValues] = useState<Values>(() => initialValues(properties, saved));
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [plan, setPlan] = useState<ExecutionPlan | undefined>();
  const [live, setLive] = useState<LiveExecution | undefined>();
  const [final, setFinal] = useState<Execution | undefined>();
  const [failure, setFailure] = useState<Error | undefined>();
  const [busy, setBusy] = useState<'plan' | 'run' | undefined>();
  const stream = useRef<ConsoleStream | undefined>(undefined);
  useEffect(() => () => stream.current?.close(), []);
  const revisionHash = query.get('revision') ?? undefined;
  const recordedRevision = useRecordedRevision(ns, name, revisionHash);
  const revisionName = recordedRevision.state === 'ready' ? recordedRevision.data : undefined;
  const [against, setAgainst] = useState<'recorded' | 'current'>(revisionHash ? 'recorded' : 'current');
  const workflowRevision = against === 'recorded' && revisionName ? revisionName : undefined;

  const { input, parseErrors } = inputFrom(properties, values);
  // The same check the server makes before anything runs, with the same messages and field paths.
  let errors: Record<string, string> = { ...parseErrors };
  if (graph.compiled) {
    try {
      checkWorkflowInput(graph.compiled, input);
    } catch (error) {
      if (error instanceof SyncflowError) errors = { ...fieldErrors(error.causes ?? []), ...errors };
      else throw error;
    }
  }
  errors = { ...errors, ...serverErrors };
  const valid = Object.keys(errors).length === 0;

  useEffect(() => {
    navigate(
      href(`/ns/${ns}/workflows/${name}/run`, {
        input: JSON.stringify(input),
        ...(revisionHash ? { revision: revisionHash } : {}),
      }),
      true,
    );
  }, [JSON.stringify(input)]);

  const set = (key: string, value: string | boolean) => {
    setValues((v) => ({ ...v, [key]: value }));
    setTouched((t) => ({ ...t, [key]: true }));
    setServerErrors({});
  };

  const refused = (error: unknown) => {
    if (error instanceof ApiError && error.code === 422 && error.status.details?.causes)
      setServerErrors(fieldErrors(error.status.details.causes));
    setFailure(error as Error);
  };

  const dryRun = async () => {
    setBusy('plan');
    setFailure(undefined);
    setFinal(undefined);
    setLive(undefined);
    try {
      const answer = await client.create<Execution>(
        paths.executions(ns),
        execution(ns, name, input, workflowRevision),
        { dryRun: 'All' },
      );
      setPlan(answer.status?.plan);
    } catch (error) {
      refused(error);
    } finally {
      setBusy(undefined);
    }
  };

  const run = async (event: FormEvent) => {
    event.preventDefault();
    setTouched(Object.fromEntries(Object.keys(properties).map((k) => [k, true])));
    if (!valid) return;
    setBusy('run');
    setFailure(undefined);
    setPlan(undefined);
    setFinal(undefined);
    setLive(liveExecution.start(graph.tasks.map((t) => t.id)));
    // One connection per run: the stream is the page's own identity, like every other call.
    stream.current?.close();
    const connection = new ConsoleStream({
      config: client.config,
      namespace: ns,
      ...(client.config.auth === 'bearer' && bearerToken.get() ? { token: bearerToken.get() as string } : {}),
    });
    stream.current = connection;
    try {
      // Each event is drawn as it arrives (flushSync): batched with the next ones, a phase that lasts
      // a few milliseconds (a retry's short backoff) would never be shown at all.
      // The recorded revision too runs through the stream, so that it lights the graph up live.
      const request = { workflow: name, input, ...(workflowRevision ? { workflowRevision } : {}) };
      const object = await connection.execute(request, (message) =>
        flushSync(() => setLive((state) => state && liveExecution(state, message))),
      ).done;
      setFinal(object);
    } catch (error) {
      refused(error instanceof StreamRefused ? new ApiError(error.code, error.status) : error);
      setLive(undefined);
    } finally {
      setBusy(undefined);
      connection.close();
    }
  };

  const overlay: Record<string, TaskOverlay> = {};
  if (live) {
    for (const task of graph.tasks) overlay[task.id] = live.tasks[task.id] ?? { phase: 'Pending' };
  } else if (plan) {
    const group = new Map<string, number>();
    plan.parallelGroups?.forEach((g, i) => g.forEach((id) => group.set(id, i + 1)));
    plan.order?.forEach((id, i) => {
      const when = plan.tasks?.find((t) => t.id === id)?.when;
      overlay[id] = { note: `#${i + 1} · group ${group.get(id)}${when ? ` · when ${when}` : ''}` };
    });
  }

  return (
    <>
      <form className="run-form" onSubmit={run} noValidate aria-label={`Input of ${name}`}>
        {Object.keys(properties).length === 0 ? (
          <p className="note">This workflow takes no declared input.</p>
        ) : null}
        {Object.entries(properties).map(([key, field]) => {
          const type = fieldType(field);
          const required = schema?.required?.includes(key) ?? false;
          const error = touched[key] || serverErrors[key] ? errors[key] : undefined;
          const id = `field-${key}`;
          const described =
            [field.description ? `${id}-help` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') ||
            undefined;
          const common = {
            id,
            name: key,
            'aria-invalid': error ? true : undefined,
            'aria-describedby': described,
            'aria-required': required || undefined,
          };
          return (
            <div className={`field${error ? ' invalid' : ''}`} key={key}>
              <label htmlFor={id}>
                {key}
                {required ? <span aria-hidden="true"> *</span> : null}{' '}
                <span className="type">({type === 'enum' ? 'one of' : type})</span>
              </label>
              {type === 'boolean' ? (
                <input
                  type="checkbox"
                  {...common}
                  checked={values[key] === true}
                  onChange={(e) => set(key, e.target.checked)}
                />
              ) : type === 'enum' ? (
                <select
                  {...common}
                  value={String(values[key] ?? '')}
                  onChange={(e) => set(key, e.target.value)}
                >
                  <option value="">—</option>
                  {field.enum?.map((v) => (
                    <option key={JSON.stringify(v)} value={JSON.stringify(v)}>
                      {String(v)}
                    </option>
                  ))}
                </select>
              ) : type === 'object' || type === 'array' ? (
                <textarea
                  {...common}
                  rows={3}
                  value={String(values[key] ?? '')}
                  onChange={(e) => set(key, e.target.value)}
                />
              ) : (
                <input
                  type={type === 'number' || type === 'integer' ? 'number' : 'text'}
                  {...common}
                  value={String(values[key] ?? '')}
                  onChange={(e) => set(key, e.target.value)}
                  onBlur={() => setTouched((t) => ({ ...t, [key]: true }))}
                />
              )}
              {field.description ? <small id={`${id}-help`}>{field.description}</small> : null}
              {error ? (
                <small id={`${id}-error`} className="error-text">
                  {key} {error}
                </small>
              ) : null}
            </div>
          );
        })}
        {revisionHash ? (
          <RevisionChoice hash={revisionHash} name={revisionName} against={against} onChange={setAgainst} />
        ) : null}
        <div className="actions">
          <button type="button" onClick={dryRun} disabled={busy !== undefined || !valid}>
            {busy === 'plan' ? 'Planning…' : 'Dry run'}
          </button>
          <button type="submit" className="primary" disabled={busy !== undefined}>
            {busy === 'run' ? 'Running…' : 'Run'}
          </button>
        </div>
      </form>
      <div aria-live="polite" className="sr-only">
        {final
          ? `Execution ${final.metadata.name} ${final.status?.phase}`
          : live
            ? `Execution ${live.name ?? ''} ${live.phase}`
            : plan
              ? 'Plan ready'
              : ''}
      </div>
      {failure ? <ErrorView error={failure} what="the execution" /> : null}
      <WorkflowGraph
        tasks={graph.tasks}
        edges={graph.edges}
        overlay={overlay}
        label={`Graph of workflow ${name}`}
      />
      {plan ? <PlanView plan={plan} /> : null}
      {final ? (
        <ExecutionResult ns={ns} execution={final} title="Result">
          <pre tabIndex={0}>{objectYaml(final.status?.output ?? null)}</pre>
          <ExecutionTimeline execution={final} edges={graph.edges} />
        </ExecutionResult>
      ) : null}
    </>
  );
}

export default function RunPage({ ns, name, query }: { ns: string; name: string; query: URLSearchParams }) {
  const loaded = useWorkflowWithTasks(ns, name);
  return (
    <>
      <p className="crumbs">
        <a href={href(`/ns/${ns}/workflows`)}>Workflows</a> /{' '}
        <a href={href(`/ns/${ns}/workflows/${name}`)}>{name}</a> / run
      </p>
      <h1>Run {name}</h1>
      <Show loaded={loaded} what={`workflow ${name}`}>
        {({ workflow, graph }) => (
          <RunForm
            ns={ns}
            name={name}
            graph={graph}
            schema={workflow.spec.inputSchema as never}
            query={query}
          />
        )}
      </Show>
    </>
  );
}
