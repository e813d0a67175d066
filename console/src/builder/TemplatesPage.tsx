/**
 * The templates library: every template of the repository, searchable and filtered by family and
 * difficulty; a preview shows its graph and YAML; "Use this template" opens it in the builder with
 * its placeholders to fill.
 */
import { useMemo } from 'react';
import { workflowGraph } from '../graph/model.ts';
import { WorkflowGraph } from '../graph/WorkflowGraph.tsx';
import { href, navigate } from '../router.ts';
import './builder.css';
import { TEMPLATES } from './library.ts';
import { DIFFICULTIES, exampleValues, FAMILIES, fillTemplate, type WorkflowTemplate } from './templates.ts';

function Preview({ template }: { template: WorkflowTemplate }) {
  const graph = useMemo(() => {
    const { tasks, workflow } = fillTemplate(template, exampleValues(template));
    return workflowGraph(workflow, tasks);
  }, [template]);
  return (
    <section className="panel" aria-label={`Preview of ${template.title}`}>
      <h2>Preview: {template.title}</h2>
      <WorkflowGraph
        tasks={graph.tasks}
        edges={graph.edges}
        label={`Graph of the template ${template.title}`}
      />
      <pre tabIndex={0} aria-label={`YAML of the template ${template.title}`}>
        {template.source}
      </pre>
    </section>
  );
}

/** `#/ns/<ns>/templates?q=&family=&difficulty=&preview=`. */
export default function TemplatesPage({ ns, query }: { ns: string; query: URLSearchParams }) {
  const q = query.get('q') ?? '';
  const family = query.get('family') ?? '';
  const difficulty = query.get('difficulty') ?? '';
  const preview = TEMPLATES.find((t) => t.name === query.get('preview'));
  const set = (changes: Record<string, string | undefined>) =>
    navigate(
      href(`/ns/${ns}/templates`, {
        q,
        family,
        difficulty,
        preview: preview?.name,
        ...changes,
      }),
      true,
    );
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = TEMPLATES.filter(
    (t) =>
      (!family || t.family === family) &&
      (!difficulty || t.difficulty === difficulty) &&
      words.every((w) =>
        `${t.title} ${t.description} ${t.tags.join(' ')} ${t.family}`.toLowerCase().includes(w),
      ),
  );
  return (
    <div className="library">
      <h1>Templates</h1>
      <p>
        Start from a working workflow: each template runs against the bundled demo upstream. Pick one, fill
        its placeholders in the builder, deploy.
      </p>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="template-search">Search templates</label>
        <input id="template-search" type="search" value={q} onChange={(e) => set({ q: e.target.value })} />
        <label htmlFor="template-family">Family</label>
        <select id="template-family" value={family} onChange={(e) => set({ family: e.target.value })}>
          <option value="">all</option>
          {FAMILIES.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
        <label htmlFor="template-difficulty">Difficulty</label>
        <select
          id="template-difficulty"
          value={difficulty}
          onChange={(e) => set({ difficulty: e.target.value })}
        >
          <option value="">all</option>
          {DIFFICULTIES.map((d) => (
            <option key={d}>{d}</option>
          ))}
        </select>
      </form>
      <p aria-live="polite">
        {shown.length} of {TEMPLATES.length} templates
      </p>
      <ul className="library-grid">
        {shown.map((t) => (
          <li key={t.name} className="template-card" data-template={t.name}>
            <h2>{t.title}</h2>
            <p>
              <span className="badge">{t.family}</span> <span className="badge">{t.difficulty}</span>
            </p>
            <p>{t.description}</p>
            <p className="muted">
              Tasks: {t.tasks.map((task) => task.metadata.name).join(', ')}. Placeholders:{' '}
              {t.placeholders.map((p) => p.name).join(', ') || 'none'}.
            </p>
            <div className="row">
              <button
                type="button"
                onClick={() => set({ preview: t.name })}
                aria-pressed={preview?.name === t.name}
              >
                Preview {t.title}
              </button>
              <a className="button primary" href={href(`/ns/${ns}/builder`, { template: t.name })}>
                Use the template {t.title}
              </a>
            </div>
          </li>
        ))}
      </ul>
      {preview ? <Preview template={preview} /> : null}
    </div>
  );
}
