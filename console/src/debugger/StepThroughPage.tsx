/**
 * Step through a run: breakpoints chosen on the graph (click or Enter on a node, or "pause at every
 * task"), remembered per workflow in this browser; a debug run over the live-events stream; at each
 * pause the resolved request (secrets redacted by the server) and the outputs so far; Continue, Skip
 * with an output checked against the task's outputSchema as one types (the check the server makes:
 * core/engine/debug.ts), Abort, or Run to a chosen task.
 *
 * The run pauses before every task on the server; the page stops at breakpoints and the "run to"
 * target and lets the others go on at once, so breakpoints can change while the run is paused.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { checkWorkflowInput } from '../../../core/engine/input.ts';
import { checkSkipOutput } from '../../../core/engine/debug.ts';
import { SyncflowError } from '../../../core/errors.ts';
import { useClient } from '../App.tsx';
import { bearerToken } from '../api/client.ts';
import {
  ConsoleStream,
  StreamRefused,
  liveExecution,
  type LiveExecution,
  type LiveRun,
  type StreamMessage,
} from '../api/stream.ts';
import type { Execution } from '../api/types.ts';
import { ExecutionResult } from '../components/ExecutionResult.tsx';
import { HeaderTable } from '../components/HeaderTable.tsx';
import { ErrorView, Show } from '../components/States.tsx';
import type { WorkflowGraphModel } from '../graph/model.ts';
import type { EdgeOverlay, TaskOverlay } from '../graph/WorkflowGraph.tsx';
import { href } from '../router.ts';
import { objectYaml, useWorkflowWithTasks } from '../pages/WorkflowPage.tsx';
import { DebugGraph } from './DebugGraph.tsx';
import {
  edgeKey,
  exampleOutput,
  loadBreakpoints,
  outputReferences,
  saveBreakpoints,
  shortValue,
  stopsAt,
  valueAt,
  type Breakpoints,
} from './model.ts';
import { HelpOverlay, STEP_SHORTCUTS, useShortcuts } from './shortcuts.tsx';
import './debugger.css';

/** The request a paused task would send, as the server shows it. */
interface ShownRequest {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Pause {
  task: string;
  request: ShownRequest;
}

function RequestView({ request }: { request: ShownRequest }) {
  return (
    <section className="panel" aria-label="Resolved request">
      <h3>Resolved request</h3>
      <p className="request-line">
        <strong>{request.method}</strong> <code>{request.url}</code>
      </p>
      <HeaderTable headers={Object.entries(request.headers ?? {})} caption="Headers (secrets redacted)" />
      {request.body !== undefined ? (
        <>
          <h4>Body</h4>
          <pre tabIndex={0} aria-label="Request body">
            {JSON.stringify(request.body, null, 2)}
          </pre>
        </>
      ) : null}
    </section>
  );
}

function Debugger({
  ns,
  name,
  graph,
  definitions,
  initialInput,
}: {
  ns: string;
  name: string;
  graph: WorkflowGraphModel;
  /** Per step: its input template and its task's outputSchema. */
  definitions: ReadonlyMap<string, { input: unknown; outputSchema: unknown }>;
  initialInput: string;
}) {
  const client = useClient();
  const ids = useMemo(() => graph.tasks.map((t) => t.id), [graph]);
  const [breakpoints, setBreakpointsState] = useState<Breakpoints>(() =>
    loadBreakpoints(localStorage, ns, name, ids),
  );
  const [chosen, setChosen] = useState<string | undefined>(ids[1] ?? ids[0]);
  const [runTo, setRunToState] = useState<string | undefined>();
  const [inputText, setInputText] = useState(initialInput);
  const [live, setLive] = useState<LiveExecution | undefined>();
  const [outputs, setOutputs] = useState<Record<string, unknown>>({});
  const [pause, setPause] = useState<Pause | undefined>();
  const [skipText, setSkipText] = useState('');
  const [final, setFinal] = useState<Execution | undefined>();
  const [failure, setFailure] = useState<Error | undefined>();
  const [help, setHelp] = useState(false);
  const [announcement, setAnnouncement] = useState('');
  const run = useRef<LiveRun | undefined>(undefined);
  const stream = useRef<ConsoleStream | undefined>(undefined);
  // The stream's handler reads the latest choices, not those of the render that started the run.
  const latest = useRef({ breakpoints, runTo });
  latest.current = { breakpoints, runTo };
  useEffect(() => () => stream.current?.close(), []);

  const setBreakpoints = (next: Breakpoints) => {
    setBreakpointsState(next);
    saveBreakpoints(localStorage, ns, name, next);
  };
  const toggle = (task: string | undefined) => {
    if (!task) return;
    const on = breakpoints.tasks.includes(task);
    setBreakpoints({
      ...breakpoints,
      tasks: on ? breakpoints.tasks.filter((t) => t !== task) : [...breakpoints.tasks, task],
    });
    setAnnouncement(`Breakpoint ${on ? 'removed from' : 'set on'} ${task}`);
  };

  // The input, checked as one types with the server's own check.
  let input: unknown;
  let inputError: string | undefined;
  try {
    input = JSON.parse(inputText || '{}');
    if (graph.compiled) checkWorkflowInput(graph.compiled, input);
  } catch (error) {
    inputError =
      error instanceof SyncflowError
        ? (error.causes ?? []).map((c) => `${c.field} ${c.message}`).join('; ') || error.message
        : `not JSON: ${(error as Error).message}`;
  }

  // The substitute output, checked against the paused task's outputSchema as one types.
  const pausedTask = pause ? graph.compiled?.steps.get(pause.task)?.task : undefined;
  let skipValue: unknown;
  let skipErrors: string[] = [];
  if (pause) {
    try {
      skipValue = JSON.parse(skipText);
      skipErrors = pausedTask
        ? checkSkipOutput(pausedTask, skipValue).map((e) => `${e.field} ${e.message}`)
        : [];
    } catch (error) {
      skipErrors = [`not JSON: ${(error as Error).message}`];
    }
  }

  const onMessage = (message: StreamMessage) => {
    if (message.type === 'paused') {
      const { breakpoints: bp, runTo: target } = latest.current;
      if (!stopsAt(message.task, bp, target)) {
        run.current?.continue();
        return;
      }
      if (target === message.task) setRunToState(undefined);
      setSkipText(skeleton(definitions.get(message.task)?.outputSchema));
      setPause({ task: message.task, request: (message.request ?? {}) as ShownRequest });
      setChosen(message.task);
      setAnnouncement(`Paused before task ${message.task}`);
      return;
    }
    // A map element's end (`item`) is not the step's output: the step's own TaskFinished gives it.
    if (message.type === 'TaskFinished' && message.phase === 'Succeeded' && message.item === undefined)
      setOutputs((o) => ({ ...o, [message.task]: message.output }));
    setLive((state) => state && liveExecution(state, message));
  };

  const start = async () => {
    if (inputError || (run.current && !final && live)) return;
    setFailure(undefined);
    setFinal(undefined);
    setPause(undefined);
    setOutputs({});
    setLive(liveExecution.start(ids));
    stream.current?.close();
    const connection = new ConsoleStream({
      config: client.config,
      namespace: ns,
      ...(client.config.auth === 'bearer' && bearerToken.get() ? { token: bearerToken.get() as string } : {}),
    });
    stream.current = connection;
    const current = connection.execute({ workflow: name, input, debug: { breakpoints: ['*'] } }, onMessage);
    run.current = current;
    setAnnouncement('Debug run started');
    try {
      const object = await current.done;
      setFinal(object);
      setAnnouncement(`Execution ${object.metadata.name} ${object.status?.phase}`);
    } catch (error) {
      setFailure(
        error instanceof StreamRefused ? new Error(`${error.code}: ${error.message}`) : (error as Error),
      );
    } finally {
      setPause(undefined);
      run.current = undefined;
      connection.close();
    }
  };

  const decide = (action: 'continue' | 'skip' | 'abort') => {
    if (!pause || !run.current) return;
    if (action === 'skip') {
      if (skipErrors.length) return;
      run.current.skip(skipValue);
    } else if (action === 'continue') run.current.continue();
    else run.current.abort();
    setAnnouncement(
      `${action === 'skip' ? 'Skipped' : action === 'continue' ? 'Continued' : 'Aborted'} at ${pause.task}`,
    );
    setPause(undefined);
  };

  const runToChosen = () => {
    if (!chosen) return;
    setRunToState(chosen);
    latest.current = { breakpoints, runTo: chosen };
    setAnnouncement(`Running to ${chosen}`);
    if (pause && pause.task !== chosen) decide('continue');
    else if (!run.current) void start();
  };

  useShortcuts(STEP_SHORTCUTS, {
    run: () => void start(),
    toggle: () => toggle(chosen),
    every: () => setBreakpoints({ ...breakpoints, every: !breakpoints.every }),
    continue: () => decide('continue'),
    skip: () => decide('skip'),
    abort: () => (pause ? decide('abort') : run.current?.abort()),
    runTo: runToChosen,
    help: () => setHelp((h) => !h),
  });

  const running = live !== undefined && !final && !failure;
  const overlay: Record<string, TaskOverlay> = {};
  for (const id of ids) {
    const marked = breakpoints.every || breakpoints.tasks.includes(id);
    const state = live?.tasks[id];
    const classes = [
      marked ? 'breakpoint' : '',
      pause?.task === id ? 'paused' : '',
      runTo === id ? 'run-to' : '',
    ];
    overlay[id] = {
      ...(state ? { phase: pause?.task === id ? 'Paused' : state.phase } : {}),
      ...(state?.note ? { note: state.note } : marked ? { note: '● breakpoint' } : {}),
      className: classes.filter(Boolean).join(' '),
      detail: [marked ? 'breakpoint' : '', pause?.task === id ? 'paused here' : '']
        .filter(Boolean)
        .join(', '),
    };
  }
  const edgeOverlay: Record<string, EdgeOverlay> = {};
  for (const edge of graph.edges) {
    if (!(edge.from in outputs)) continue;
    const paths = outputReferences(definitions.get(edge.to)?.input).get(edge.from);
    const value = paths?.length === 1 ? valueAt(outputs[edge.from], paths[0] as string) : outputs[edge.from];
    edgeOverlay[edgeKey(edge.from, edge.to)] = { label: shortValue(value, 28), full: JSON.stringify(value) };
  }

  return (
    <div className="debugger">
      <div className="sr-only" aria-live="polite">
        {announcement}
      </div>
      <section className="panel" aria-label="Breakpoints">
        <h2>Breakpoints</h2>
        <p className="note">
          Click a node or press Enter on it to set or remove its breakpoint (they are kept in this browser for{' '}
          {name}). Press <kbd>?</kbd> for every shortcut.
        </p>
        <label className="inline">
          <input
            type="checkbox"
            checked={breakpoints.every}
            onChange={(e) => setBreakpoints({ ...breakpoints, every: e.target.checked })}
          />{' '}
          Pause at every task
        </label>
        <fieldset className="breakpoint-list">
          <legend>Pause before</legend>
          {ids.map((id) => (
            <label key={id} className="inline">
              <input
                type="checkbox"
                checked={breakpoints.every || breakpoints.tasks.includes(id)}
                disabled={breakpoints.every}
                onChange={() => toggle(id)}
              />{' '}
              {id}
            </label>
          ))}
        </fieldset>
      </section>
      <div className="field">
        <label htmlFor="debug-input">Input (JSON)</label>
        <textarea
          id="debug-input"
          rows={3}
          value={inputText}
          aria-invalid={inputError ? true : undefined}
          aria-describedby={inputError ? 'debug-input-error' : undefined}
          onChange={(e) => setInputText(e.target.value)}
        />
        {inputError ? (
          <small id="debug-input-error" className="error-text">
            {inputError}
          </small>
        ) : null}
      </div>
      <div className="actions controls">
        <button
          type="button"
          className="primary"
          onClick={() => void start()}
          disabled={!!inputError || running}
        >
          Start debug run <kbd>R</kbd>
        </button>
        <label htmlFor="run-to">Run to</label>
        <select id="run-to" value={chosen ?? ''} onChange={(e) => setChosen(e.target.value || undefined)}>
          {ids.map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
        <button type="button" onClick={runToChosen} disabled={!chosen}>
          Run to task <kbd>T</kbd>
        </button>
        <button type="button" onClick={() => setHelp(true)}>
          Keyboard shortcuts <kbd>?</kbd>
        </button>
      </div>
      {failure ? <ErrorView error={failure} what="the debug run" /> : null}
      <DebugGraph
        tasks={graph.tasks}
        edges={graph.edges}
        overlay={overlay}
        edgeOverlay={edgeOverlay}
        label={`Graph of workflow ${name}: choose breakpoints`}
        onActivate={(id) => {
          setChosen(id);
          toggle(id);
        }}
      />
      {pause ? (
        <section className="panel paused-panel" aria-label={`Paused before ${pause.task}`}>
          <h2>Paused before task {pause.task}</h2>
          <RequestView request={pause.request} />
          <div className="actions">
            <button type="button" className="primary" onClick={() => decide('continue')}>
              Continue <kbd>C</kbd>
            </button>
            <button type="button" onClick={() => decide('skip')} disabled={skipErrors.length > 0}>
              Skip with this output <kbd>S</kbd>
            </button>
            <button type="button" onClick={() => decide('abort')}>
              Abort <kbd>X</kbd>
            </button>
          </div>
          <div className="field">
            <label htmlFor="skip-output">
              Substitute output of {pause.task} (JSON, checked against its outputSchema)
            </label>
            <textarea
              id="skip-output"
              rows={6}
              spellCheck={false}
              value={skipText}
              aria-invalid={skipErrors.length ? true : undefined}
              aria-describedby="skip-output-check"
              onChange={(e) => setSkipText(e.target.value)}
            />
            <div
              id="skip-output-check"
              aria-live="polite"
              className={skipErrors.length ? 'error-text' : 'ok-text'}
            >
              {skipErrors.length ? (
                <ul>
                  {skipErrors.map((e) => (
                    <li key={e}>{e}</li>
                  ))}
                </ul>
              ) : (
                'Matches the outputSchema.'
              )}
            </div>
          </div>
        </section>
      ) : null}
      {Object.keys(outputs).length ? (
        <section className="panel" aria-label="Outputs so far">
          <h2>Outputs so far</h2>
          {Object.entries(outputs).map(([task, output]) => (
            <div key={task}>
              <h3>{task}</h3>
              <pre tabIndex={0} aria-label={`Output of ${task}`}>
                {objectYaml(output ?? null)}
              </pre>
            </div>
          ))}
        </section>
      ) : null}
      {final ? <ExecutionResult ns={ns} execution={final} title="Finished" timeTravel /> : null}
      <HelpOverlay shortcuts={STEP_SHORTCUTS} open={help} onClose={() => setHelp(false)} />
    </div>
  );
}

function skeleton(schema: unknown): string {
  return JSON.stringify(exampleOutput(schema) ?? {}, null, 2);
}

export default function StepThroughPage({
  ns,
  name,
  query,
}: {
  ns: string;
  name: string;
  query: URLSearchParams;
}) {
  const loaded = useWorkflowWithTasks(ns, name);
  return (
    <>
      <p className="crumbs">
        <a href={href(`/ns/${ns}/workflows`)}>Workflows</a> /{' '}
        <a href={href(`/ns/${ns}/workflows/${name}`)}>{name}</a> / debug
      </p>
      <h1>Debug {name}</h1>
      <Show loaded={loaded} what={`workflow ${name}`}>
        {({ workflow, tasks, graph }) => (
          <Debugger
            ns={ns}
            name={name}
            graph={graph}
            definitions={
              new Map(
                (workflow.spec.tasks ?? []).map((step) => [
                  step.id,
                  {
                    input: step.input,
                    outputSchema: tasks.find((t) => t.metadata.name === step.taskRef.name)?.spec.outputSchema,
                  },
                ]),
              )
            }
            initialInput={query.get('input') ?? skeleton(workflow.spec.inputSchema)}
          />
        )}
      </Show>
    </>
  );
}
