/**
 * The YAML beside the canvas: CodeMirror 6 with YAML highlighting, completion (the Workflow's fields
 * from the CRD schema, and the templates a step may use), and the validator's errors as lint marks
 * on their lines. Loaded only by the builder and the playground.
 */
import { autocompletion, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import { yaml } from '@codemirror/lang-yaml';
import { forceLinting, linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { EditorView, basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';
import { WorkflowSpec } from '../../../core/model/schema.ts';

/** One mark: a range of the text, how bad it is and what it says. */
export interface YamlMark {
  from: number;
  to: number;
  severity: 'error' | 'warning';
  message: string;
}

/** The Workflow's field names from the CRD schema: spec, and a step's. */
function schemaKeys(): string[] {
  const spec = WorkflowSpec as unknown as { properties: Record<string, { items?: { properties?: object } }> };
  const step = spec.properties.tasks?.items?.properties ?? {};
  return [...new Set([...Object.keys(spec.properties), ...Object.keys(step), 'taskRef', 'name'])];
}

export interface YamlEditorProps {
  value: string;
  onChange: (text: string) => void;
  marks: readonly YamlMark[];
  /** Templates offered inside `{{`. */
  templates: readonly string[];
  label: string;
}

export default function YamlEditor({ value, onChange, marks, templates, label }: YamlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView>(undefined);
  const latest = useRef({ onChange, marks, templates });
  latest.current = { onChange, marks, templates };

  useEffect(() => {
    const keys = schemaKeys();
    const complete = (context: CompletionContext): CompletionResult | null => {
      const template = context.matchBefore(/\{\{[\w.[\]-]*/);
      if (template) {
        // Closing braces typed (or auto-closed) already are replaced too.
        const after = context.state.sliceDoc(context.pos, context.pos + 2);
        return {
          from: template.from,
          to: after === '}}' ? context.pos + 2 : context.pos,
          options: latest.current.templates.map((t) => ({ label: t, type: 'variable' })),
        };
      }
      const word = context.matchBefore(/^\s*(- )?\w*/);
      if (!word || (word.from === word.to && !context.explicit)) return null;
      const start = word.from + (/^\s*(- )?/.exec(word.text)?.[0].length ?? 0);
      return {
        from: start,
        options: keys.map((k) => ({ label: `${k}: `, displayLabel: k, type: 'property' })),
      };
    };
    const editor = new EditorView({
      parent: host.current as HTMLDivElement,
      doc: value,
      extensions: [
        basicSetup,
        yaml(),
        lintGutter(),
        linter(() => latest.current.marks.map((m): Diagnostic => ({ ...m })), { delay: 0 }),
        autocompletion({ override: [complete] }),
        // Focusable by tabindex too, so that axe counts the scrolled region's content as focusable.
        EditorView.contentAttributes.of({ 'aria-label': label, tabindex: '0' }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) latest.current.onChange(update.state.doc.toString());
        }),
      ],
    });
    view.current = editor;
    return () => editor.destroy();
  }, []);

  // A change made elsewhere (the canvas, a form) replaces the text; typing here does not come back.
  useEffect(() => {
    const editor = view.current;
    if (!editor || editor.state.doc.toString() === value) return;
    const head = Math.min(editor.state.selection.main.head, value.length);
    editor.dispatch({
      changes: { from: 0, to: editor.state.doc.length, insert: value },
      selection: { anchor: head },
    });
  }, [value]);

  useEffect(() => {
    if (view.current) forceLinting(view.current);
  }, [marks]);

  return <div className="yaml-editor" ref={host} data-marks={marks.length} />;
}
