/**
 * The palette: the namespace's WorkflowTasks (and those a template or the task form brings, not yet
 * deployed), searchable by name, description and host. Each can be dragged onto the canvas, or added
 * with its Add button (the keyboard's way); hovering or focusing one shows its help card.
 */
import { useId, useState } from 'react';
import type { WorkflowTask } from '../api/types.ts';
import { TASK_DRAG_TYPE } from './BuilderCanvas.tsx';
import { callOf, HelpLink, TaskCard } from './help.tsx';

export function Palette({
  tasks,
  pending,
  onAdd,
}: {
  tasks: readonly WorkflowTask[];
  pending: readonly WorkflowTask[];
  onAdd: (name: string) => void;
}) {
  const id = useId();
  const [search, setSearch] = useState('');
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = tasks.filter((t) => {
    const text =
      `${t.metadata.name} ${t.spec.description ?? ''} ${t.spec.http?.method ?? ''} ${t.spec.http?.url ?? ''}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
  return (
    <section className="panel palette" aria-label="Task palette">
      <h2>
        Tasks <HelpLink topic="task" />
      </h2>
      <label htmlFor={`${id}-search`}>Search tasks</label>
      <input
        id={`${id}-search`}
        type="search"
        value={search}
        placeholder="name, description or host"
        onChange={(e) => setSearch(e.target.value)}
      />
      <p className="muted" aria-live="polite">
        {shown.length} of {tasks.length} tasks
      </p>
      <ul className="palette-list">
        {shown.map((task) => {
          const name = task.metadata.name;
          const { method, host } = callOf(task);
          const cardId = `${id}-card-${name}`;
          const isPending = pending.includes(task);
          return (
            <li
              key={name}
              className="palette-item"
              draggable
              data-task={name}
              onDragStart={(e) => {
                e.dataTransfer.setData(TASK_DRAG_TYPE, name);
                e.dataTransfer.effectAllowed = 'copy';
              }}
            >
              <div className="palette-head">
                <strong>{name}</strong>
                {isPending ? <span className="badge">not deployed</span> : null}
              </div>
              <div className="muted">
                <span className="method">{method}</span> {host}
              </div>
              <p className="palette-desc">{task.spec.description ?? ''}</p>
              <button type="button" aria-describedby={cardId} onClick={() => onAdd(name)}>
                Add {name}
              </button>
              <TaskCard task={task} id={cardId} />
            </li>
          );
        })}
      </ul>
    </section>
  );
}
