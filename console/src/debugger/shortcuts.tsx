/**
 * The debugger's keyboard: one table of shortcuts per page, which both the key handler and the
 * help overlay (`?`) read, so every action listed is an action bound and the other way round.
 */
import { useEffect, useRef } from 'react';

/** One shortcut: the keys (as `KeyboardEvent.key`), how the help writes them, what they do. */
export interface Shortcut {
  keys: readonly string[];
  label: string;
  action: string;
}

/** Shortcuts of the step-through page. */
export const STEP_SHORTCUTS = {
  run: { keys: ['r'], label: 'R', action: 'Start a debug run with the breakpoints set' },
  toggle: {
    keys: ['b'],
    label: 'B',
    action: 'Toggle a breakpoint on the chosen task (or click / Enter on a node)',
  },
  every: { keys: ['e'], label: 'E', action: 'Pause at every task (on or off)' },
  continue: { keys: ['c'], label: 'C', action: 'Continue: send the paused request' },
  skip: { keys: ['s'], label: 'S', action: 'Skip: use the output typed in the editor instead of calling' },
  abort: { keys: ['x'], label: 'X', action: 'Abort the run' },
  runTo: { keys: ['t'], label: 'T', action: 'Run to the chosen task (continue until it is reached)' },
  help: { keys: ['?'], label: '?', action: 'Show or hide this help' },
} satisfies Record<string, Shortcut>;

/** Shortcuts of the time-travel page. */
export const TRAVEL_SHORTCUTS = {
  previous: { keys: ['ArrowLeft', 'p'], label: '← or P', action: 'Previous event' },
  next: { keys: ['ArrowRight', 'n'], label: '→ or N', action: 'Next event' },
  first: { keys: ['Home'], label: 'Home', action: 'Before the first event' },
  last: { keys: ['End'], label: 'End', action: 'The last event' },
  help: { keys: ['?'], label: '?', action: 'Show or hide this help' },
} satisfies Record<string, Shortcut>;

/** Keys typed into a field belong to the field, not to the page. */
function typing(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element?.tagName) return false;
  const tag = element.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || element.isContentEditable) return true;
  return (
    tag === 'input' && !['range', 'checkbox', 'button', 'radio'].includes((element as HTMLInputElement).type)
  );
}

/** Binds a page's shortcuts to handlers while it is shown; Escape closes the help first. */
export function useShortcuts<K extends string>(
  table: Record<K, Shortcut>,
  handlers: Partial<Record<K, () => void>>,
): void {
  const current = useRef(handlers);
  current.current = handlers;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      for (const name of Object.keys(table) as K[]) {
        if (!table[name].keys.includes(event.key)) continue;
        const handler = current.current[name];
        if (!handler) return;
        event.preventDefault();
        handler();
        return;
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [table]);
}

/** The help overlay: a modal dialog listing every shortcut of the page. */
export function HelpOverlay({
  shortcuts,
  open,
  onClose,
}: {
  shortcuts: Record<string, Shortcut>;
  open: boolean;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  return (
    <dialog ref={dialog} className="debug-help" aria-labelledby="debug-help-title" onClose={onClose}>
      <h2 id="debug-help-title">Keyboard shortcuts</h2>
      <table>
        <caption className="sr-only">Debugger keyboard shortcuts</caption>
        <thead>
          <tr>
            <th scope="col">Keys</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {Object.values(shortcuts).map((s) => (
            <tr key={s.label}>
              <td>
                <kbd>{s.label}</kbd>
              </td>
              <td>{s.action}</td>
            </tr>
          ))}
          <tr>
            <td>
              <kbd>Esc</kbd>
            </td>
            <td>Close this help</td>
          </tr>
        </tbody>
      </table>
      <form method="dialog">
        <button type="submit">Close</button>
      </form>
    </dialog>
  );
}
