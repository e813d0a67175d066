/**
 * The workflow graph as the debugger pages use it: the console's WorkflowGraph with their overlays,
 * and a node "activated" by a click or by Enter / Space on the focused node (setting a breakpoint,
 * choosing the task under the cursor) — also when it is already the selected one, which a selection
 * change alone would not report.
 */
import type { KeyboardEvent, MouseEvent } from 'react';
import { WorkflowGraph, type WorkflowGraphProps } from '../graph/WorkflowGraph.tsx';

function nodeOf(target: EventTarget): string | undefined {
  const node = (target as HTMLElement).closest?.('.react-flow__node');
  return node?.getAttribute('data-id') ?? undefined;
}

export function DebugGraph({
  onActivate,
  ...props
}: WorkflowGraphProps & { onActivate?: (taskId: string) => void }) {
  const click = (event: MouseEvent) => {
    const id = nodeOf(event.target);
    if (id) onActivate?.(id);
  };
  const key = (event: KeyboardEvent) => {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    const id = nodeOf(event.target);
    if (!id) return;
    event.preventDefault();
    onActivate?.(id);
  };
  // The graph's nodes are the focusable, named controls; this wrapper only listens to them.
  return (
    <div className="debug-graph" onClickCapture={click} onKeyDownCapture={key} role="presentation">
      <WorkflowGraph {...props} />
    </div>
  );
}
