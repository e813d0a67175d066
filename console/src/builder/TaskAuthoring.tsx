/**
 * Authoring a new WorkflowTask the builder's way: a form (method, URL template, headers, schemas,
 * secrets by reference, timeout, retries) checked by core's validator as one types; the task joins
 * the palette (deployed with the workflow) or is deployed on its own (server-side dry run first).
 */
import { useId, useMemo, useState } from 'react';
import { validateTask } from '../../../core/validation/validate.ts';
import { useClient } from '../App.tsx';
import type { WorkflowTask } from '../api/types.ts';
import { ActionResultNote, type ActionResult } from '../components/States.tsx';
import { deployDefinitions } from './deploy.ts';
import { HelpLink } from './help.tsx';

type Draft = Record<
  | 'name'
  | 'description'
  | 'method'
  | 'url'
  | 'headers'
  | 'inputSchema'
  | 'outputSchema'
  | 'secrets'
  | 'timeout'
  | 'maxAttempts',
  string
>;

const START: Draft = {
  name: '',
  description: '',
  method: 'GET',
  url: 'http://demo.syncflow-system.svc:8080/users/{{input.userId}}',
  headers: '{}',
  inputSchema: '{"type":"object","required":["userId"],"properties":{"userId":{"type":"string"}}}',
  outputSchema: '{"type":"object","properties":{"id":{"type":"string"}}}',
  secrets: '[]',
  timeout: '2s',
  maxAttempts: '',
};

const JSON_FIELDS = ['headers', 'inputSchema', 'outputSchema', 'secrets'] as const;

/** The WorkflowTask a draft stands for, and the fields that are not JSON. */
function taskOf(draft: Draft): { task: WorkflowTask; jsonErrors: Record<string, string> } {
  const jsonErrors: Record<string, string> = {};
  const parsed: Record<string, unknown> = {};
  for (const field of JSON_FIELDS) {
    try {
      parsed[field] = JSON.parse(draft[field] || 'null') as unknown;
    } catch (error) {
      jsonErrors[field] = `not JSON: ${(error as Error).message}`;
    }
  }
  const headers = parsed.headers as Record<string, string> | null;
  const secrets = parsed.secrets as unknown[] | null;
  const task = {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name: draft.name },
    spec: {
      ...(draft.description ? { description: draft.description } : {}),
      ...(parsed.inputSchema ? { inputSchema: parsed.inputSchema } : {}),
      ...(parsed.outputSchema ? { outputSchema: parsed.outputSchema } : {}),
      http: {
        method: draft.method,
        url: draft.url,
        ...(headers && Object.keys(headers).length ? { headers } : {}),
      },
      ...(secrets?.length ? { secrets } : {}),
      ...(draft.timeout ? { timeout: draft.timeout } : {}),
      ...(draft.maxAttempts ? { retry: { maxAttempts: Number(draft.maxAttempts) } } : {}),
    },
  } as unknown as WorkflowTask;
  return { task, jsonErrors };
}

export function TaskAuthoring({ ns, onAdd }: { ns: string; onAdd: (task: WorkflowTask) => void }) {
  const client = useClient();
  const id = useId();
  const [draft, setDraft] = useState<Draft>(START);
  const [result, setResult] = useState<ActionResult | undefined>();
  const { task, jsonErrors } = useMemo(() => taskOf(draft), [draft]);
  const errors = useMemo(
    () => validateTask({ ...task, metadata: { ...task.metadata, namespace: ns } }).errors,
    [task, ns],
  );
  const problems = [
    ...Object.entries(jsonErrors).map(([f, m]) => `${f}: ${m}`),
    ...errors.map((e) => `${e.code}: ${e.field}: ${e.message}${e.suggestion ? ` (${e.suggestion})` : ''}`),
    ...(draft.name ? [] : ['metadata.name: a name is required']),
  ];
  const field = (key: keyof Draft, label: string, multiline = false) => (
    <div className="field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      {multiline ? (
        <textarea
          id={`${id}-${key}`}
          rows={2}
          value={draft[key]}
          onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
        />
      ) : (
        <input
          id={`${id}-${key}`}
          value={draft[key]}
          onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
        />
      )}
    </div>
  );
  return (
    <details className="panel task-authoring">
      <summary>New WorkflowTask</summary>
      <HelpLink topic="task" />
      <form onSubmit={(e) => e.preventDefault()} aria-label="New WorkflowTask">
        {field('name', 'Name')}
        {field('description', 'Description')}
        <div className="field">
          <label htmlFor={`${id}-method`}>Method</label>
          <select
            id={`${id}-method`}
            value={draft.method}
            onChange={(e) => setDraft({ ...draft, method: e.target.value })}
          >
            {['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </div>
        {field('url', 'URL template')}
        {field('headers', 'Headers (JSON object, templated)', true)}
        {field('inputSchema', 'Input schema (JSON Schema)', true)}
        {field('outputSchema', 'Output schema (JSON Schema)', true)}
        {field(
          'secrets',
          'Secrets by reference (JSON: [{"name":"token","secretKeyRef":{"name":"s","key":"k"}}])',
          true,
        )}
        {field('timeout', 'Timeout per attempt')}
        {field('maxAttempts', 'Retry: max attempts (1-10)')}
        <ul className="problems" aria-label="Problems of the new task">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
        <div className="row">
          <button type="button" disabled={problems.length > 0} onClick={() => onAdd(task)}>
            Add to palette
          </button>
          <button
            type="button"
            disabled={problems.length > 0}
            onClick={() =>
              deployDefinitions(client, ns, [task]).then(
                (done) =>
                  setResult({
                    ok: true,
                    text: `WorkflowTask/${task.metadata.name} ${done[0]?.action ?? ''}`,
                  }),
                (error: Error) => setResult({ ok: false, text: error.message }),
              )
            }
          >
            Deploy task
          </button>
        </div>
        <ActionResultNote result={result} />
      </form>
    </details>
  );
}
