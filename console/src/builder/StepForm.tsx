/**
 * The form of the selected step, generated from its WorkflowTask's inputSchema: one field per input
 * property with template suggestions (`{{input.…}}`, and `{{tasks.<id>.output.…}}` of the steps it
 * depends on), the steps it depends on, `when`, `onError`; each field shows its validator errors and
 * has a help button. The workflow's own fields (name, timeout, output mapping) have a form too.
 */
import { useId, useState } from 'react';
import type { FieldError } from '../../../core/errors.ts';
import type { WorkflowTask } from '../api/types.ts';
import { HelpLink } from './help.tsx';
import {
  dependenciesOf,
  templateSuggestions,
  type CanvasModel,
  type StepModel,
  type TemplateSuggestion,
} from './model.ts';

type Json = Record<string, unknown>;

/** The text a field shows for a value. */
function fieldText(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The value a field's text stands for, given the JSON type its schema asks for. */
export function fieldValue(text: string, type: string): unknown {
  const trimmed = text.trim();
  if (/^\{\{[^{}]*\}\}$/.test(trimmed)) return text;
  if ((type === 'number' || type === 'integer') && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (type === 'boolean' && (trimmed === 'true' || trimmed === 'false')) return trimmed === 'true';
  if ((type === 'object' || type === 'array' || type === 'any') && /^[[{]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function messages(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.message}${e.suggestion ? ` (${e.suggestion})` : ''} [${e.code}]`).join('; ');
}

/** A text field with template suggestions, its errors and help. */
function TemplateField({
  label,
  type,
  required,
  value,
  suggestions,
  errors,
  onChange,
  help,
}: {
  label: string;
  type: string;
  required?: boolean;
  value: unknown;
  suggestions: readonly TemplateSuggestion[];
  errors: readonly FieldError[];
  onChange: (value: unknown) => void;
  help: 'input' | 'output';
}) {
  const id = useId();
  const [text, setText] = useState(fieldText(value));
  const [shown, setShown] = useState(value);
  if (shown !== value && fieldText(value) !== text) {
    setShown(value);
    setText(fieldText(value));
  }
  return (
    <div className={`field${errors.length ? ' invalid' : ''}`}>
      <label htmlFor={id}>
        {label} <span className="type">{type}</span>
        {required ? <span className="type">required</span> : null}
      </label>
      <HelpLink topic={help} />
      <input
        id={id}
        list={`${id}-templates`}
        value={text}
        aria-invalid={errors.length > 0}
        aria-describedby={errors.length ? `${id}-errors` : undefined}
        onChange={(e) => {
          setText(e.target.value);
          onChange(fieldValue(e.target.value, type));
        }}
      />
      <datalist id={`${id}-templates`}>
        {suggestions.map((s) => (
          <option key={s.template} value={s.template} label={`${s.type}${s.type === type ? ' ✓' : ''}`} />
        ))}
      </datalist>
      {errors.length ? (
        <p className="error-text" id={`${id}-errors`}>
          {messages(errors)}
        </p>
      ) : null}
    </div>
  );
}

function under(errors: readonly FieldError[], prefix: string): FieldError[] {
  return errors.filter(
    (e) => e.field === prefix || e.field.startsWith(`${prefix}.`) || e.field.startsWith(`${prefix}[`),
  );
}

export interface StepFormProps {
  model: CanvasModel;
  step: StepModel;
  index: number;
  tasks: readonly WorkflowTask[];
  errors: readonly FieldError[];
  onChange: (patch: Partial<StepModel>) => void;
  onConnect: (from: string) => void;
  onDisconnect: (from: string) => void;
  onRemove: () => void;
}

export function StepForm({
  model,
  step,
  index,
  tasks,
  errors,
  onChange,
  onConnect,
  onDisconnect,
  onRemove,
}: StepFormProps) {
  const task = tasks.find((t) => t.metadata.name === step.taskRef);
  const schema = (task?.spec.inputSchema ?? {}) as Json;
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const input = (typeof step.input === 'object' && step.input !== null ? step.input : {}) as Json;
  const keys = [...new Set([...Object.keys(properties), ...Object.keys(input)])];
  const suggestions = templateSuggestions(model, step.id, tasks);
  const base = `spec.tasks[${index}]`;
  const deps = dependenciesOf(model, step.id);
  const whenId = useId();
  return (
    <form className="panel step-form" aria-label={`Step ${step.id}`} onSubmit={(e) => e.preventDefault()}>
      <h2>
        Step <code>{step.id}</code>
      </h2>
      <p className="muted">
        Runs <strong>{step.taskRef}</strong>
        {task?.spec.description ? `: ${task.spec.description}` : ''}
        {task ? null : ' (no such WorkflowTask in this namespace)'}
      </p>
      {under(errors, `${base}.taskRef`).length ? (
        <p className="error-text">{messages(under(errors, `${base}.taskRef`))}</p>
      ) : null}
      <fieldset>
        <legend>
          Input <HelpLink topic="input" />
        </legend>
        {keys.length === 0 ? <p className="muted">This task takes no input.</p> : null}
        {keys.map((key) => (
          <TemplateField
            key={`${step.id}/${key}`}
            label={key}
            type={String([properties[key]?.type ?? 'any'].flat()[0])}
            required={required.has(key)}
            value={input[key]}
            suggestions={suggestions}
            errors={under(errors, `${base}.input.${key}`)}
            help="input"
            onChange={(value) => onChange({ input: { ...input, [key]: value } })}
          />
        ))}
        {under(errors, `${base}.input`).filter(
          (e) => !keys.some((k) => e.field.startsWith(`${base}.input.${k}`)),
        ).length ? (
          <p className="error-text">
            {messages(
              under(errors, `${base}.input`).filter(
                (e) => !keys.some((k) => e.field.startsWith(`${base}.input.${k}`)),
              ),
            )}
          </p>
        ) : null}
      </fieldset>
      <fieldset>
        <legend>
          Depends on <HelpLink topic="dependsOn" />
        </legend>
        {model.steps.filter((s) => s.id !== step.id).length === 0 ? (
          <p className="muted">No other step yet.</p>
        ) : null}
        {model.steps
          .filter((s) => s.id !== step.id)
          .map((other) => {
            const explicit = (step.dependsOn ?? []).includes(other.id);
            const implied = deps.includes(other.id) && !explicit;
            return (
              <label key={other.id} className="check">
                <input
                  type="checkbox"
                  checked={deps.includes(other.id)}
                  disabled={implied}
                  onChange={(e) => (e.target.checked ? onConnect(other.id) : onDisconnect(other.id))}
                />{' '}
                {other.id}
                {implied ? <span className="muted"> (reads its output)</span> : null}
              </label>
            );
          })}
        {under(errors, `${base}.dependsOn`).length ? (
          <p className="error-text">{messages(under(errors, `${base}.dependsOn`))}</p>
        ) : null}
      </fieldset>
      <div className={`field${under(errors, `${base}.when`).length ? ' invalid' : ''}`}>
        <label htmlFor={whenId}>when (CEL, optional)</label>
        <HelpLink topic="when" />
        <input
          id={whenId}
          value={step.when ?? ''}
          placeholder="e.g. input.withOrders == true"
          onChange={(e) => onChange({ when: e.target.value || undefined })}
          aria-invalid={under(errors, `${base}.when`).length > 0}
        />
        {under(errors, `${base}.when`).length ? (
          <p className="error-text">{messages(under(errors, `${base}.when`))}</p>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={`${whenId}-onerror`}>On error</label>
        <HelpLink topic="onError" />
        <select
          id={`${whenId}-onerror`}
          value={step.onError ?? 'fail'}
          onChange={(e) => onChange({ onError: e.target.value === 'continue' ? 'continue' : undefined })}
        >
          <option value="fail">fail the workflow</option>
          <option value="continue">continue</option>
        </select>
      </div>
      <button type="button" onClick={onRemove}>
        Remove step {step.id}
      </button>
    </form>
  );
}

/** The workflow's own fields: name, description, timeout, concurrency, and its output mapping. */
export function WorkflowForm({
  model,
  tasks,
  errors,
  onChange,
}: {
  model: CanvasModel;
  tasks: readonly WorkflowTask[];
  errors: readonly FieldError[];
  onChange: (next: CanvasModel) => void;
}) {
  const id = useId();
  const output = (typeof model.output === 'object' && model.output !== null ? model.output : {}) as Json;
  const suggestions = [
    ...templateSuggestions(model, '', tasks),
    ...model.steps.flatMap((s) =>
      templateSuggestions(
        { ...model, steps: [...model.steps, { id: '~', taskRef: '', dependsOn: [s.id] }] },
        '~',
        tasks,
      ).filter((t) => t.template.startsWith('{{tasks.')),
    ),
  ];
  const [newKey, setNewKey] = useState('');
  const text = (field: keyof CanvasModel, label: string, help: 'workflow' | 'timeout', placeholder = '') => (
    <div
      className={`field${under(errors, field === 'metadata' ? 'metadata.name' : `spec.${field}`).length ? ' invalid' : ''}`}
    >
      <label htmlFor={`${id}-${field}`}>{label}</label>
      <HelpLink topic={help} />
      <input
        id={`${id}-${field}`}
        placeholder={placeholder}
        value={field === 'metadata' ? model.metadata.name : fieldText(model[field])}
        onChange={(e) => {
          const v = e.target.value;
          if (field === 'metadata') onChange({ ...model, metadata: { ...model.metadata, name: v } });
          else if (field === 'maxConcurrency')
            onChange({
              ...model,
              maxConcurrency: v === '' ? undefined : (fieldValue(v, 'integer') as number),
            });
          else onChange({ ...model, [field]: v === '' ? undefined : v });
        }}
      />
      {under(errors, field === 'metadata' ? 'metadata.name' : `spec.${field}`).length ? (
        <p className="error-text">
          {messages(under(errors, field === 'metadata' ? 'metadata.name' : `spec.${field}`))}
        </p>
      ) : null}
    </div>
  );
  return (
    <form className="panel workflow-form" aria-label="Workflow settings" onSubmit={(e) => e.preventDefault()}>
      <h2>Workflow</h2>
      {text('metadata', 'Name', 'workflow')}
      {text('description', 'Description', 'workflow')}
      {text('timeout', 'Timeout (whole workflow)', 'timeout', '30s')}
      {text('maxConcurrency', 'Max concurrency', 'workflow', '16')}
      <fieldset>
        <legend>
          Output mapping <HelpLink topic="output" />
        </legend>
        {Object.entries(output).map(([key, value]) => (
          <div key={key} className="output-row">
            <TemplateField
              label={key}
              type="any"
              value={value}
              suggestions={suggestions}
              errors={under(errors, `spec.output.${key}`)}
              help="output"
              onChange={(v) => onChange({ ...model, output: { ...output, [key]: v } })}
            />
            <button
              type="button"
              onClick={() => {
                const others = Object.fromEntries(Object.entries(output).filter(([k]) => k !== key));
                onChange({ ...model, output: Object.keys(others).length ? others : undefined });
              }}
            >
              Remove output {key}
            </button>
          </div>
        ))}
        <label htmlFor={`${id}-newkey`}>New output field</label>
        <input id={`${id}-newkey`} value={newKey} onChange={(e) => setNewKey(e.target.value.trim())} />
        <button
          type="button"
          disabled={!newKey || newKey in output}
          onClick={() => {
            onChange({ ...model, output: { ...output, [newKey]: '' } });
            setNewKey('');
          }}
        >
          Add output field
        </button>
      </fieldset>
    </form>
  );
}
