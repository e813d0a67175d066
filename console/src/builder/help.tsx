/**
 * Help where it is needed: a help link beside each builder field (to its section of
 * docs/authoring.md), the hover/focus card of a WorkflowTask (description, example input, schemas),
 * and the first-visit tour, dismissed once and remembered.
 */
import { useId, useState, type ReactNode } from 'react';
import type { WorkflowTask } from '../api/types.ts';

/** docs/authoring.md, bundled so that help works where the console runs (no docs site needed). */
const AUTHORING = import.meta.glob('../../../docs/authoring.md', {
  query: '?raw',
  import: 'default',
  eager: true,
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
export function headingAnchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .trim()
    .replace(/ /g, '-');
}

/** The text of the docs/authoring.md section at an anchor (its heading to the next one of its level). */
export function authoringSection(anchor: string): string | undefined {
  const lines = (Object.values(AUTHORING)[0] ?? '').split('\n');
  const start = lines.findIndex((l) => /^#{1,4} /.test(l) && headingAnchor(l.replace(/^#+ /, '')) === anchor);
  if (start < 0) return undefined;
  const level = /^#+/.exec(lines[start] as string)?.[0].length ?? 2;
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return lines
    .slice(start, end < 0 ? undefined : end)
    .join('\n')
    .trim();
}

/** Sections of docs/authoring.md the builder's fields link to. */
export const HELP = {
  workflow: { anchor: 'workflow', text: 'A Workflow is a DAG of steps, each running a WorkflowTask.' },
  task: { anchor: 'workflowtask', text: 'A WorkflowTask is one HTTP call with input and output schemas.' },
  input: {
    anchor: 'templates',
    text: 'Each field is a value or a template: {{input.…}} reads the workflow input, {{tasks.<id>.output.…}} the output of a step this one depends on.',
  },
  dependsOn: {
    anchor: 'workflow',
    text: 'Steps run in parallel unless one depends on another, explicitly here or by reading its output.',
  },
  when: {
    anchor: 'cost-of-when',
    text: 'A CEL condition over input and tasks.<id>.output; false skips the step (and what reads it).',
  },
  onError: {
    anchor: 'workflow',
    text: 'fail (default) fails the workflow; continue records the failure and goes on.',
  },
  timeout: {
    anchor: 'workflow',
    text: 'The whole workflow’s deadline (default 30s, at most 5m); retries never exceed it. Per-attempt timeouts and retries belong to the WorkflowTask.',
  },
  output: {
    anchor: 'templates',
    text: 'What an execution returns: templates over the input and the steps’ outputs.',
  },
  validation: {
    anchor: 'validation-errors',
    text: 'The same checks, codes and field paths as syncflow validate and the admission webhook.',
  },
  running: {
    anchor: 'running',
    text: 'A dry run plans without calling anything; a run calls the upstreams.',
  },
} satisfies Record<string, { anchor: string; text: string }>;

/**
 * A "?" button beside a field: opens its explanation and the docs/authoring.md section it belongs to
 * (the anchor is named, so the same text is found in the repository).
 */
export function HelpLink({ topic }: { topic: keyof typeof HELP }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const help = HELP[topic];
  return (
    <span className="help">
      <button
        type="button"
        className="help-link"
        aria-label={`Help: ${topic}`}
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen(!open)}
      >
        ?
      </button>
      {open ? (
        <span className="help-text" id={id} role="note">
          <span>{help.text}</span>
          <span className="help-ref">docs/authoring.md#{help.anchor}</span>
          <pre>{authoringSection(help.anchor) ?? ''}</pre>
        </span>
      ) : null}
    </span>
  );
}

/** An example value for a JSON Schema (first enum value, example, or a value of its type). */
export function exampleOf(schema: unknown, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 4) return null;
  const s = schema as Record<string, unknown>;
  if (s.examples && Array.isArray(s.examples)) return s.examples[0];
  if (Array.isArray(s.enum)) return s.enum[0];
  if (s.default !== undefined) return s.default;
  const type = [s.type ?? 'object'].flat()[0];
  if (type === 'string') return 'text';
  if (type === 'number' || type === 'integer') return 1;
  if (type === 'boolean') return true;
  if (type === 'array') return [exampleOf(s.items, depth + 1)];
  const properties = (s.properties ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, exampleOf(v, depth + 1)]));
}

function hostOf(url: string | undefined): string {
  return /^[a-z]+:\/\/([^/{?]+)/i.exec(url ?? '')?.[1] ?? '';
}

/** Method and host of a task's call. */
export function callOf(task: WorkflowTask): { method: string; host: string } {
  return { method: task.spec.http?.method ?? '', host: hostOf(task.spec.http?.url) };
}

/** A task's help card: description, call, an example input and both schemas. */
export function TaskCard({ task, id }: { task: WorkflowTask; id: string }) {
  const { method, host } = callOf(task);
  return (
    <div className="task-card" role="tooltip" id={id}>
      <p>{task.spec.description ?? 'No description.'}</p>
      <p>
        <code>
          {method} {task.spec.http?.url}
        </code>
        {host ? null : null}
      </p>
      <p>Example input:</p>
      <pre>{JSON.stringify(exampleOf(task.spec.inputSchema), null, 1)}</pre>
      <p>Input schema:</p>
      <pre>{JSON.stringify(task.spec.inputSchema ?? {}, null, 1)}</pre>
      <p>Output schema:</p>
      <pre>{JSON.stringify(task.spec.outputSchema ?? {}, null, 1)}</pre>
    </div>
  );
}

const TOUR_KEY = 'syncflow-console-builder-tour';

const TOUR: Array<{ title: string; body: ReactNode }> = [
  {
    title: 'Welcome to the builder',
    body: 'Make a workflow by drawing it. Start from a template (Templates) or from the tasks of this namespace on the left.',
  },
  {
    title: 'Add and connect tasks',
    body: 'Drag a task onto the canvas, or focus it and press Add. Connect a node’s bottom handle to another’s top to make it wait; or tick “Depends on” in the step form.',
  },
  {
    title: 'Configure a step',
    body: 'Select a node to edit its inputs. Suggestions offer {{input.…}} and the outputs of the steps it depends on.',
  },
  {
    title: 'YAML and errors',
    body: 'The YAML beside the canvas follows every change, and you can edit it too. The validator of syncflow validate runs as you type: errors show on the line and on the node.',
  },
  { title: 'Try, then deploy', body: 'Dry run with a sample input to see the plan, then Deploy and Run.' },
];

/** The first-visit tour: shown until dismissed, then remembered in this browser. */
export function Tour() {
  const [step, setStep] = useState(() => (localStorage.getItem(TOUR_KEY) === 'done' ? -1 : 0));
  if (step < 0) return null;
  const close = () => {
    localStorage.setItem(TOUR_KEY, 'done');
    setStep(-1);
  };
  const current = TOUR[step] as (typeof TOUR)[number];
  return (
    <section className="tour panel" aria-label="Builder tour" aria-live="polite">
      <h2>
        {current.title}{' '}
        <span className="muted">
          ({step + 1}/{TOUR.length})
        </span>
      </h2>
      <p>{current.body}</p>
      <div className="row">
        {step + 1 < TOUR.length ? (
          <button type="button" onClick={() => setStep(step + 1)}>
            Next
          </button>
        ) : null}
        <button type="button" onClick={close}>
          {step + 1 < TOUR.length ? 'Skip the tour' : 'Done'}
        </button>
      </div>
    </section>
  );
}
