/**
 * The playground: five short lessons (a first workflow, dependencies, parallel tasks, templates,
 * live events). Each starts from YAML with one thing to do, checked as one types by the validator,
 * and passes only by running it: the lesson deploys the workflow with the tasks it needs, runs it
 * and checks what the execution did. Passed lessons are remembered in this browser.
 */
import { lazy, Suspense, useMemo, useState } from 'react';
import { useClient } from '../App.tsx';
import { paths } from '../api/client.ts';
import { WORKFLOW_LABEL, type Execution, type List, type WorkflowTask } from '../api/types.ts';
import { useResource } from '../api/useResource.ts';
import { ActionResultNote, Show, type ActionResult } from '../components/States.tsx';
import { href } from '../router.ts';
import { validateModel } from './BuilderPage.tsx';
import './builder.css';
import { deployDefinitions, retryWhenOverloaded } from './deploy.ts';
import { TEMPLATES } from './library.ts';
import { dependenciesOf, locateField, modelFromYaml, workflowFromModel, type CanvasModel } from './model.ts';

const YamlEditor = lazy(() => import('./YamlEditor.tsx'));

/** What a lesson's check sees: the model run, its compiled parallel groups, the execution and the live events. */
interface Outcome {
  model: CanvasModel;
  parallelGroups: string[][];
  execution: Execution;
  liveEvents: number;
}

interface Lesson {
  id: string;
  title: string;
  goal: string;
  yaml: string;
  input: unknown;
  /** Why the run does not pass yet; undefined when it does. */
  check(outcome: Outcome): string | undefined;
}

const succeeded = (o: Outcome) =>
  o.execution.status?.phase === 'Succeeded'
    ? undefined
    : `the execution ${o.execution.status?.phase ?? 'did not finish'}: ${o.execution.status?.message ?? ''}`;

const LESSONS: Lesson[] = [
  {
    id: 'first-workflow',
    title: '1. A first workflow',
    goal: 'The step fetches a user but its userId is empty: map it to the workflow input, {{input.userId}}, then run.',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata:
  name: lesson-first
spec:
  inputSchema: { type: object, required: [userId], properties: { userId: { type: string } } }
  tasks:
    - id: user
      taskRef: { name: fetch-user }
      input: { userId: "" }
  output:
    email: "{{tasks.user.output.email}}"
`,
    input: { userId: '42' },
    check: (o) =>
      succeeded(o) ??
      ((o.execution.status?.output as { email?: string })?.email === 'user42@example.com'
        ? undefined
        : 'the output email is not user 42’s'),
  },
  {
    id: 'dependencies',
    title: '2. Dependencies',
    goal: 'orders needs the user’s email: set its email to {{tasks.user.output.email}}. Reading another step’s output makes it wait for that step.',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata:
  name: lesson-dependencies
spec:
  inputSchema: { type: object, required: [userId], properties: { userId: { type: string } } }
  tasks:
    - id: user
      taskRef: { name: fetch-user }
      input: { userId: "{{input.userId}}" }
    - id: orders
      taskRef: { name: fetch-orders }
      input: { email: "" }
  output:
    orders: "{{tasks.orders.output.orders}}"
`,
    input: { userId: '7' },
    check: (o) =>
      succeeded(o) ??
      (dependenciesOf(o.model, 'orders').includes('user') ? undefined : 'orders does not depend on user yet'),
  },
  {
    id: 'parallel',
    title: '3. Parallel tasks',
    goal: 'recs waits for user for no reason: remove its dependsOn so both run at the same time (one parallel group).',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata:
  name: lesson-parallel
spec:
  inputSchema: { type: object, required: [userId], properties: { userId: { type: string } } }
  tasks:
    - id: user
      taskRef: { name: fetch-user }
      input: { userId: "{{input.userId}}" }
    - id: recs
      taskRef: { name: fetch-recommendations }
      input: { userId: "{{input.userId}}" }
      dependsOn: [user]
  output:
    name: "{{tasks.user.output.name}}"
    recommendations: "{{tasks.recs.output.items}}"
`,
    input: { userId: '5' },
    check: (o) =>
      succeeded(o) ??
      (o.parallelGroups.some((g) => g.includes('user') && g.includes('recs'))
        ? undefined
        : 'user and recs are not in one parallel group'),
  },
  {
    id: 'templates',
    title: '4. Templates',
    goal: 'Make the output greeting say hello to the user by name: "Hello {{tasks.user.output.name}}". A template inside a longer string is text.',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata:
  name: lesson-templates
spec:
  inputSchema: { type: object, required: [userId], properties: { userId: { type: string } } }
  tasks:
    - id: user
      taskRef: { name: fetch-user }
      input: { userId: "{{input.userId}}" }
  output:
    greeting: "Hello"
`,
    input: { userId: '9' },
    check: (o) =>
      succeeded(o) ??
      ((o.execution.status?.output as { greeting?: string })?.greeting === 'Hello User 9'
        ? undefined
        : 'the greeting is not “Hello User 9”'),
  },
  {
    id: 'live-events',
    title: '5. Live events',
    goal: 'Three slow steps in a chain. Run it: the page watches the execution and counts the live events that show a step running.',
    yaml: `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata:
  name: lesson-live
spec:
  inputSchema: { type: object, required: [id], properties: { id: { type: string } } }
  tasks:
    - id: a
      taskRef: { name: slow-lookup }
      input: { id: "{{input.id}}" }
    - id: b
      taskRef: { name: slow-lookup }
      input: { id: "{{tasks.a.output.id}}-b" }
    - id: c
      taskRef: { name: slow-lookup }
      input: { id: "{{tasks.b.output.id}}-c" }
  output:
    id: "{{tasks.c.output.id}}"
`,
    input: { id: 'live' },
    check: (o) => succeeded(o) ?? (o.liveEvents > 0 ? undefined : 'no live event showed a running step'),
  },
];

const PASSED_KEY = 'syncflow-console-playground';

/** The WorkflowTasks the lessons use, from the templates library. */
const LESSON_TASKS: WorkflowTask[] = [
  'fetch-user',
  'fetch-orders',
  'fetch-recommendations',
  'slow-lookup',
].map((name) => TEMPLATES.flatMap((t) => t.tasks).find((t) => t.metadata.name === name) as WorkflowTask);

function LessonView({
  ns,
  lesson,
  tasks,
  passed,
  onPassed,
}: {
  ns: string;
  lesson: Lesson;
  tasks: readonly WorkflowTask[];
  passed: boolean;
  onPassed: () => void;
}) {
  const client = useClient();
  const [text, setText] = useState(lesson.yaml);
  const [result, setResult] = useState<ActionResult | undefined>();
  const [running, setRunning] = useState(false);
  const parsed = useMemo(() => modelFromYaml(text), [text]);
  const all = useMemo(
    () => [...tasks, ...LESSON_TASKS.filter((t) => !tasks.some((n) => n.metadata.name === t.metadata.name))],
    [tasks],
  );
  const validation = useMemo(
    () => (parsed.model ? validateModel(parsed.model, ns, all) : undefined),
    [parsed, ns, all],
  );
  const problems = [
    ...parsed.errors,
    ...(validation?.errors ?? []).map(
      (e) => `${e.code}: ${e.field}: ${e.message}${e.suggestion ? ` (${e.suggestion})` : ''}`,
    ),
  ];
  const marks = (validation?.errors ?? []).map((e) => ({
    ...locateField(text, e.field),
    severity: 'error' as const,
    message: `${e.code}: ${e.message}`,
  }));

  const run = async () => {
    if (!parsed.model || !validation?.workflow) return;
    const model = parsed.model;
    setRunning(true);
    setResult(undefined);
    let liveEvents = 0;
    const name = model.metadata.name;
    let stop = () => undefined as void;
    try {
      const needed = LESSON_TASKS.filter((t) => model.steps.some((s) => s.taskRef === t.metadata.name));
      await deployDefinitions(client, ns, [...needed, workflowFromModel(model)]);
      // The watch starts before the run; a server that sends its headers only with the first event
      // must not hold the run back, so the run starts at the latest 1.5 s later.
      const opened = new Promise<void>((resolve) => {
        stop = client.watch<Execution>(
          paths.executions(ns),
          { labelSelector: `${WORKFLOW_LABEL}=${name}` },
          (e) => {
            if (e.object.status?.tasks?.some((t) => t.phase === 'Running')) liveEvents++;
          },
          () => resolve(),
          () => resolve(),
        );
      });
      await Promise.race([opened, new Promise((resolve) => setTimeout(resolve, 1_500))]);
      const execution = await retryWhenOverloaded(() =>
        client.create<Execution>(paths.executions(ns), {
          apiVersion: 'execution.syncflow.io/v1alpha1',
          kind: 'WorkflowExecution',
          metadata: { generateName: `${name}-`, namespace: ns },
          spec: { workflowRef: { name }, input: lesson.input },
        }),
      );
      // The last events of a watch may arrive just after the answer.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const failure = lesson.check({
        model,
        parallelGroups: validation.workflow.graph.parallelGroups.map((g) => [...g]),
        execution,
        liveEvents,
      });
      if (failure) setResult({ ok: false, text: `Not yet: ${failure}.` });
      else {
        setResult({
          ok: true,
          text: `Passed: ${execution.metadata.name} Succeeded${liveEvents ? ` (${liveEvents} live events showed a running step)` : ''}.`,
        });
        onPassed();
      }
    } catch (error) {
      setResult({ ok: false, text: `The run failed: ${(error as Error).message}` });
    } finally {
      stop();
      setRunning(false);
    }
  };
  return (
    <section
      className={`panel lesson${passed ? ' passed' : ''}`}
      aria-label={lesson.title}
      data-lesson={lesson.id}
    >
      <h2>
        {lesson.title} {passed ? <span className="badge phase-succeeded">passed</span> : null}
      </h2>
      <p>{lesson.goal}</p>
      <Suspense fallback={<p className="state loading">Loading the YAML editor…</p>}>
        <YamlEditor
          value={text}
          onChange={setText}
          marks={marks}
          templates={['{{input.userId}}', '{{tasks.user.output.email}}', '{{tasks.user.output.name}}']}
          label={`YAML of ${lesson.title}`}
        />
      </Suspense>
      <ul className="problems" aria-label={`Problems of ${lesson.title}`}>
        {problems.map((p) => (
          <li key={p}>{p}</li>
        ))}
      </ul>
      <div className="row">
        <button type="button" onClick={run} disabled={running || problems.length > 0}>
          {running ? 'Running…' : `Run and check ${lesson.title}`}
        </button>
        <button type="button" onClick={() => setText(lesson.yaml)}>
          Start over
        </button>
        <a
          className="button"
          download={`${lesson.id}.yaml`}
          href={`data:text/yaml;charset=utf-8,${encodeURIComponent(text)}`}
        >
          Download YAML
        </a>
      </div>
      <ActionResultNote result={result} />
    </section>
  );
}

/** `#/ns/<ns>/playground[?lesson=<id>]`. */
export default function PlaygroundPage({ ns, query }: { ns: string; query: URLSearchParams }) {
  const client = useClient();
  const [passed, setPassed] = useState<string[]>(
    () => JSON.parse(localStorage.getItem(PASSED_KEY) ?? '[]') as string[],
  );
  const tasks = useResource(
    (signal) => client.get<List<WorkflowTask>>(paths.tasks(ns), {}, signal),
    `tasks/${ns}`,
  );
  const current = LESSONS.find((l) => l.id === query.get('lesson')) ?? LESSONS[0];
  return (
    <div className="playground">
      <h1>Playground</h1>
      <p>
        Five short lessons, each checked by running it in <code>{ns}</code> (it deploys the lesson’s workflow
        and the demo tasks it needs). {passed.length} of {LESSONS.length} passed.
      </p>
      <nav aria-label="Lessons" className="tabs">
        {LESSONS.map((l) => (
          <a
            key={l.id}
            href={href(`/ns/${ns}/playground`, { lesson: l.id })}
            aria-current={l === current ? 'page' : undefined}
          >
            {l.title}
            {passed.includes(l.id) ? ' ✓' : ''}
          </a>
        ))}
      </nav>
      <Show loaded={tasks} what="the namespace's WorkflowTasks">
        {(list) =>
          current ? (
            <LessonView
              key={current.id}
              ns={ns}
              lesson={current}
              tasks={list.items}
              passed={passed.includes(current.id)}
              onPassed={() => {
                const next = [...new Set([...passed, current.id])];
                localStorage.setItem(PASSED_KEY, JSON.stringify(next));
                setPassed(next);
              }}
            />
          ) : null
        }
      </Show>
    </div>
  );
}
