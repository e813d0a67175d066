/**
 * The builder: a palette of the namespace's WorkflowTasks, the canvas, the selected step's form and
 * the YAML beside them, all views of one canvas model with undo/redo. The validator from core/ (the
 * admission webhook's) runs on every change; its errors mark the YAML line and the node. Dry run
 * plans with a sample input in the browser (core's planner); Deploy sends the workflow and the
 * tasks it still needs with the person's identity (server-side dry run first).
 */
import { lazy, Suspense, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { FieldError } from '../../../core/errors.ts';
import { planExecution } from '../../../core/plan/planner.ts';
import { TaskSet, validateTask, validateWorkflow } from '../../../core/validation/validate.ts';
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import type { ExecutionPlan, List, Workflow, WorkflowTask } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { Show } from '../components/States.tsx';
import { href } from '../router.ts';
import './builder.css';
import { BuilderCanvas, type CanvasStep } from './BuilderCanvas.tsx';
import { deployDefinitions, type DeployedObject } from './deploy.ts';
import { callOf, exampleOf, HelpLink, Tour } from './help.tsx';
import { templateNamed } from './library.ts';
import {
  addStep,
  connect,
  disconnect,
  edgesOf,
  errorsByStep,
  locateField,
  modelFromWorkflow,
  modelFromYaml,
  modelToYaml,
  removeStep,
  templateSuggestions,
  undoable,
  updateStep,
  workflowFromModel,
  type CanvasModel,
} from './model.ts';
import { Palette } from './Palette.tsx';
import { StepForm, WorkflowForm } from './StepForm.tsx';
import { fillTemplate, type WorkflowTemplate } from './templates.ts';
import { TaskAuthoring } from './TaskAuthoring.tsx';
import type { YamlMark } from './YamlEditor.tsx';
import type { Document } from 'yaml';

const YamlEditor = lazy(() => import('./YamlEditor.tsx'));

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9_-]*)\}/g;

/** Validates a workflow model against the tasks it can use, as the admission webhook would. */
export function validateModel(
  model: CanvasModel,
  ns: string,
  tasks: readonly WorkflowTask[],
): ReturnType<typeof validateWorkflow> {
  const set = new TaskSet();
  for (const task of tasks) set.set(task.metadata.name, validateTask(task).task ?? null);
  const doc = workflowFromModel(model);
  return validateWorkflow({ ...doc, metadata: { ...doc.metadata, namespace: ns } }, set);
}

/** A deployed workflow as its author wrote it: no status, no metadata the server keeps. */
function authored(workflow: Workflow): Workflow {
  const { name, labels, annotations } = workflow.metadata;
  return {
    apiVersion: workflow.apiVersion,
    kind: workflow.kind,
    metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: workflow.spec,
  } as Workflow;
}

function blankModel(): CanvasModel {
  return {
    metadata: { name: 'my-workflow' },
    inputSchema: { type: 'object', properties: { userId: { type: 'string' } } },
    steps: [],
  };
}

interface YamlState {
  text: string;
  document: Document | undefined;
  errors: string[];
}

function yamlOf(model: CanvasModel, previous?: Document): YamlState {
  const text = modelToYaml(model, previous);
  return { text, document: modelFromYaml(text).document, errors: [] };
}

function errorText(e: FieldError): string {
  return `${e.code}: ${e.field}: ${e.message}${e.suggestion ? ` (${e.suggestion})` : ''}`;
}

function Builder({
  ns,
  namespaceTasks,
  workflow,
  template,
}: {
  ns: string;
  namespaceTasks: WorkflowTask[];
  workflow: Workflow | undefined;
  template: WorkflowTemplate | undefined;
}) {
  const client = useClient();
  const initial = useMemo(
    () =>
      workflow
        ? modelFromWorkflow(authored(workflow))
        : template
          ? modelFromWorkflow(template.workflow)
          : blankModel(),
    [],
  );
  const [history, setHistory] = useState(() => undoable(initial));
  const model = history.present;
  const [yaml, setYaml] = useState<YamlState>(() => yamlOf(initial));
  const [pending, setPending] = useState<WorkflowTask[]>(() =>
    (template?.tasks ?? []).filter((t) => !namespaceTasks.some((n) => n.metadata.name === t.metadata.name)),
  );
  const tasks = useMemo(() => [...namespaceTasks, ...pending], [namespaceTasks, pending]);
  const [selected, setSelected] = useState<string | undefined>();
  const [notice, setNotice] = useState<{ kind: 'error' | 'ok'; text: string } | undefined>();
  const [placeholders, setPlaceholders] = useState<Record<string, string>>({});
  const [sample, setSample] = useState(() =>
    JSON.stringify(template?.sampleInput ?? exampleOf(initial.inputSchema), null, 2),
  );
  const [plan, setPlan] = useState<ExecutionPlan | undefined>();
  const [deployed, setDeployed] = useState<DeployedObject[] | undefined>();
  const [busy, setBusy] = useState(false);
  const stepForm = useRef<HTMLDivElement>(null);

  /** Records a new model from the canvas or a form, and rewrites the YAML over the previous text. */
  const apply = (next: CanvasModel | Error) => {
    if (next instanceof Error) {
      setNotice({ kind: 'error', text: next.message });
      return;
    }
    setNotice(undefined);
    setPlan(undefined);
    setHistory((h) => h.record(next));
    setYaml((y) => yamlOf(next, y.document));
  };
  const onYamlChange = (text: string) => {
    if (text === yaml.text) return;
    const parsed = modelFromYaml(text);
    setYaml({ text, document: parsed.document, errors: parsed.errors });
    // Text that means the same workflow (a comment, spacing) is not a step of the undo history.
    if (parsed.model && JSON.stringify(parsed.model) !== JSON.stringify(history.present)) {
      setPlan(undefined);
      setHistory((h) => h.record(parsed.model as CanvasModel));
    }
  };
  const travel = (direction: 'undo' | 'redo') => {
    const next = direction === 'undo' ? history.undo() : history.redo();
    setHistory(next);
    setYaml((y) => yamlOf(next.present, y.document));
  };

  const validation = useMemo(() => validateModel(model, ns, tasks), [model, ns, tasks]);
  const errors = yaml.errors.length ? [] : validation.errors;
  const unfilled = useMemo(
    () => [...new Set([...yaml.text.matchAll(PLACEHOLDER)].map((m) => m[1] as string))],
    [yaml.text],
  );
  const marks = useMemo<YamlMark[]>(() => {
    const out: YamlMark[] = errors.map((e) => ({
      ...locateField(yaml.text, e.field),
      severity: 'error',
      message: errorText(e),
    }));
    for (const m of yaml.text.matchAll(PLACEHOLDER))
      out.push({
        from: m.index,
        to: m.index + m[0].length,
        severity: 'warning',
        message: `placeholder ${m[1]}: fill it in`,
      });
    return out;
  }, [errors, yaml.text]);
  const byStep = errorsByStep(model, errors);
  const planNotes = useMemo(() => {
    const notes: Record<string, string> = {};
    plan?.parallelGroups?.forEach((group, i) => group.forEach((id) => (notes[id] = `plan: group ${i + 1}`)));
    for (const t of plan?.tasks ?? []) if (t.when === 'false') notes[t.id] = 'plan: skipped (when is false)';
    return notes;
  }, [plan]);
  const canvasSteps: CanvasStep[] = model.steps.map((s) => {
    const task = tasks.find((t) => t.metadata.name === s.taskRef);
    const call = task ? callOf(task) : undefined;
    return {
      id: s.id,
      taskRef: s.taskRef,
      ...(call?.method ? { method: call.method } : {}),
      ...(call?.host ? { host: call.host } : {}),
      ...(task?.spec.description ? { description: task.spec.description } : {}),
      ...(task ? { task } : {}),
      errors: (byStep[s.id] ?? []).map((e) => `${e.message}${e.suggestion ? ` (${e.suggestion})` : ''}`),
      ...(planNotes[s.id] ? { plan: planNotes[s.id] } : {}),
    };
  });
  const selectedIndex = model.steps.findIndex((s) => s.id === selected);
  const selectedStep = model.steps[selectedIndex];

  const add = (name: string) => {
    const task = tasks.find((t) => t.metadata.name === name);
    if (!task) return;
    const next = addStep(model, task);
    apply(next);
    const id = next.steps.at(-1)?.id;
    setSelected(id);
    setNotice({ kind: 'ok', text: `Added step ${id ?? ''}.` });
    requestAnimationFrame(() => stepForm.current?.querySelector<HTMLElement>('input, select')?.focus());
  };

  const fill = () => {
    const filled = fillTemplate({ tasks: pending, workflow: workflowFromModel(model) }, placeholders);
    setPending(filled.tasks);
    apply(modelFromWorkflow(filled.workflow));
  };

  const dryRun = async () => {
    setPlan(undefined);
    if (!validation.workflow) {
      setNotice({ kind: 'error', text: 'Fix the errors first: a dry run needs a valid workflow.' });
      return;
    }
    try {
      setPlan(await planExecution(validation.workflow, JSON.parse(sample)));
      setNotice({ kind: 'ok', text: 'Dry run: the plan is on the canvas. Nothing was called.' });
    } catch (error) {
      const cause = error as Error & { fieldErrors?: FieldError[] };
      setNotice({
        kind: 'error',
        text: `Dry run refused the sample input: ${cause.message}${cause.fieldErrors ? ` ${cause.fieldErrors.map(errorText).join('; ')}` : ''}`,
      });
    }
  };

  const deploy = async () => {
    setBusy(true);
    setDeployed(undefined);
    setNotice(undefined);
    const doc = workflowFromModel(model);
    const needed = pending.filter((t) => model.steps.some((s) => s.taskRef === t.metadata.name));
    try {
      const done = await deployDefinitions(client, ns, [...needed, doc]);
      setDeployed(done);
      setPending((p) => p.filter((t) => !needed.includes(t)));
      setNotice({
        kind: 'ok',
        text: `Deployed: ${done.map((d) => `${d.kind}/${d.name} ${d.action}`).join(', ')}.`,
      });
    } catch (error) {
      setNotice({ kind: 'error', text: `Deploy refused: ${(error as Error).message}` });
    } finally {
      setBusy(false);
    }
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement;
    if (target.closest('input, textarea, select, .cm-editor')) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === 'z') {
      event.preventDefault();
      travel(event.shiftKey ? 'redo' : 'undo');
    } else if ((event.ctrlKey || event.metaKey) && key === 'y') {
      event.preventDefault();
      travel('redo');
    }
  };

  const name = model.metadata.name;
  const workflowDeployed = deployed?.some((d) => d.kind === 'Workflow');
  return (
    <div className="builder" onKeyDown={onKeyDown}>
      <div className="title-row">
        <h1>Builder: {name || 'new workflow'}</h1>
        <div className="row" role="toolbar" aria-label="Builder actions">
          <button type="button" onClick={() => travel('undo')} disabled={!history.canUndo}>
            Undo
          </button>
          <button type="button" onClick={() => travel('redo')} disabled={!history.canRedo}>
            Redo
          </button>
          <a
            className="button"
            download={`${name || 'workflow'}.yaml`}
            href={`data:text/yaml;charset=utf-8,${encodeURIComponent(yaml.text)}`}
          >
            Download YAML
          </a>
          <a className="button" href={href(`/ns/${ns}/templates`)}>
            Templates
          </a>
          <a className="button" href={href(`/ns/${ns}/playground`)}>
            Playground
          </a>
        </div>
      </div>
      <Tour />
      {template ? (
        <section className="panel placeholders" aria-label="Template placeholders">
          <h2>
            From the template “{template.title}” <HelpLink topic="workflow" />
          </h2>
          <p>{template.description}</p>
          {template.placeholders.length ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                fill();
              }}
            >
              {template.placeholders.map((p) => (
                <div key={p.name} className={`field${unfilled.includes(p.name) ? ' placeholder-open' : ''}`}>
                  <label htmlFor={`ph-${p.name}`}>
                    <code>{`\${${p.name}}`}</code> {p.description}
                  </label>
                  <input
                    id={`ph-${p.name}`}
                    placeholder={p.example}
                    value={placeholders[p.name] ?? ''}
                    onChange={(e) => setPlaceholders({ ...placeholders, [p.name]: e.target.value })}
                  />
                </div>
              ))}
              <button type="submit">Fill in placeholders</button>
              {unfilled.length ? (
                <p className="muted">Still to fill: {unfilled.map((u) => `\${${u}}`).join(', ')}</p>
              ) : (
                <p className="ok-text">All placeholders filled.</p>
              )}
            </form>
          ) : null}
          {template.secrets.length ? (
            <p className="muted">
              Needs the Secret{template.secrets.length > 1 ? 's' : ''}{' '}
              {template.secrets.map((s) => `${s.name} (key ${s.key})`).join(', ')} in {ns}.
            </p>
          ) : null}
        </section>
      ) : null}
      {notice ? (
        <p
          className={notice.kind === 'error' ? 'state error' : 'note'}
          role={notice.kind === 'error' ? 'alert' : 'status'}
        >
          {notice.text}
        </p>
      ) : null}
      <div className="builder-grid">
        <div className="builder-side">
          <Palette tasks={tasks} pending={pending} onAdd={add} />
          <TaskAuthoring
            ns={ns}
            onAdd={(task) => {
              setPending((p) => [...p.filter((t) => t.metadata.name !== task.metadata.name), task]);
              setNotice({
                kind: 'ok',
                text: `WorkflowTask ${task.metadata.name} is in the palette; it is deployed with the workflow.`,
              });
            }}
          />
        </div>
        <div className="builder-main">
          <BuilderCanvas
            steps={canvasSteps}
            edges={edgesOf(model)}
            selected={selected}
            onSelect={setSelected}
            onConnect={(from, to) => apply(connect(model, from, to))}
            onDisconnect={(from, to) => apply(disconnect(model, from, to))}
            onRemove={(id) => {
              apply(removeStep(model, id));
              setSelected(undefined);
            }}
            onDropTask={add}
          />
          <div ref={stepForm}>
            {selectedStep ? (
              <StepForm
                key={selectedStep.id}
                model={model}
                step={selectedStep}
                index={selectedIndex}
                tasks={tasks}
                errors={errors}
                onChange={(patch) => apply(updateStep(model, selectedStep.id, patch))}
                onConnect={(from) => apply(connect(model, from, selectedStep.id))}
                onDisconnect={(from) => apply(disconnect(model, from, selectedStep.id))}
                onRemove={() => {
                  apply(removeStep(model, selectedStep.id));
                  setSelected(undefined);
                }}
              />
            ) : (
              <p className="muted">
                Select a step on the canvas (click it, or Tab to it and press Enter) to configure it.
              </p>
            )}
          </div>
          <WorkflowForm model={model} tasks={tasks} errors={errors} onChange={apply} />
          <section className="panel" aria-label="Try and deploy">
            <h2>
              Try, then deploy <HelpLink topic="running" />
            </h2>
            <label htmlFor="sample-input">Sample input (JSON)</label>
            <textarea id="sample-input" rows={4} value={sample} onChange={(e) => setSample(e.target.value)} />
            <div className="row">
              <button type="button" onClick={dryRun}>
                Dry run
              </button>
              <button
                type="button"
                className="primary"
                onClick={deploy}
                disabled={busy || errors.length > 0 || yaml.errors.length > 0}
              >
                {busy ? 'Deploying…' : 'Deploy'}
              </button>
              {workflowDeployed ? (
                <a
                  className="button"
                  href={href(`/ns/${ns}/workflows/${name}/run`, { input: sample.replace(/\s+/g, ' ') })}
                >
                  Run {name}
                </a>
              ) : null}
            </div>
            {plan ? (
              <p aria-label="Dry-run plan">
                Plan: {plan.parallelGroups?.map((g, i) => `group ${i + 1} [${g.join(', ')}]`).join(' → ')}
              </p>
            ) : null}
          </section>
        </div>
        <div className="builder-yaml">
          <section className="panel" aria-label="Validation">
            <h2>
              {yaml.errors.length + errors.length === 0
                ? 'Valid'
                : `${yaml.errors.length + errors.length} problem(s)`}{' '}
              <HelpLink topic="validation" />
            </h2>
            <ul className="problems">
              {yaml.errors.map((e) => (
                <li key={e}>{e}</li>
              ))}
              {errors.map((e) => (
                <li key={errorText(e)}>
                  <code>{e.code}</code> <code>{e.field}</code>: {e.message}
                  {e.suggestion ? ` (${e.suggestion})` : ''}
                </li>
              ))}
            </ul>
          </section>
          <Suspense fallback={<p className="state loading">Loading the YAML editor…</p>}>
            <YamlEditor
              value={yaml.text}
              onChange={onYamlChange}
              marks={marks}
              templates={[
                ...new Set(
                  model.steps.flatMap((s) => templateSuggestions(model, s.id, tasks).map((t) => t.template)),
                ),
              ]}
              label="Workflow YAML"
            />
          </Suspense>
        </div>
      </div>
    </div>
  );
}

/** `#/ns/<ns>/builder[/<workflow>][?template=<name>]`. */
export default function BuilderPage({
  ns,
  name,
  query,
}: {
  ns: string;
  name?: string;
  query: URLSearchParams;
}) {
  const client = useClient();
  const templateName = query.get('template');
  const loaded = useResource(
    async (signal) => {
      const [tasks, workflow] = await Promise.all([
        client.get<List<WorkflowTask>>(paths.tasks(ns), {}, signal),
        name ? client.get<Workflow>(paths.workflow(ns, name), {}, signal) : Promise.resolve(undefined),
      ]);
      return { tasks: tasks.items, workflow };
    },
    `${ns}/${name ?? ''}/${templateName ?? ''}`,
  );
  useEffect(() => {
    document.title = `syncflow · builder${name ? ` · ${name}` : ''}`;
  }, [name]);
  return (
    <Show loaded={loaded} what="the namespace's WorkflowTasks">
      {(data) => (
        <Builder
          key={`${ns}/${name ?? ''}/${templateName ?? ''}`}
          ns={ns}
          namespaceTasks={data.tasks}
          workflow={data.workflow}
          template={templateNamed(templateName)}
        />
      )}
    </Show>
  );
}
