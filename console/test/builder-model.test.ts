import { expect } from 'chai';
import type { Workflow, WorkflowTask } from '../src/api/types.ts';
import {
  addStep,
  connect,
  dependenciesOf,
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
} from '../src/builder/model.ts';

const task = (
  name: string,
  input: Record<string, unknown>,
  output: Record<string, unknown>,
): WorkflowTask => ({
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'WorkflowTask',
  metadata: { name },
  spec: {
    inputSchema: { type: 'object', properties: input },
    outputSchema: { type: 'object', properties: output },
    http: { method: 'GET', url: 'http://x/' },
  },
});
const TASKS = [
  task('fetch-user', { userId: { type: 'string' } }, { email: { type: 'string' }, age: { type: 'number' } }),
  task(
    'send-email',
    { to: { type: 'string' }, subject: { type: 'string' } },
    { messageId: { type: 'string' } },
  ),
];
const WORKFLOW: Workflow = {
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'Workflow',
  metadata: { name: 'w', namespace: 'shop' },
  spec: {
    inputSchema: {
      type: 'object',
      properties: {
        userId: { type: 'string' },
        flags: { type: 'object', properties: { vip: { type: 'boolean' } } },
      },
    },
    tasks: [
      { id: 'user', taskRef: { name: 'fetch-user' }, input: { userId: '{{input.userId}}' } },
      {
        id: 'mail',
        taskRef: { name: 'send-email' },
        input: { to: '{{tasks.user.output.email}}', subject: 'hi' },
      },
    ],
  },
};

describe('the builder model (console/src/builder/model.ts)', () => {
  it('turns a workflow into a model and back unchanged', () => {
    expect(workflowFromModel(modelFromWorkflow(WORKFLOW))).to.deep.equal(WORKFLOW);
  });

  it('counts a template reference as a dependency, an implied edge that disconnect cannot remove', () => {
    const model = modelFromWorkflow(WORKFLOW);
    expect(dependenciesOf(model, 'mail')).to.deep.equal(['user']);
    expect(edgesOf(model)).to.deep.equal([{ from: 'user', to: 'mail', explicit: false }]);
    expect(disconnect(model, 'user', 'mail')).to.be.an('error');
  });

  it('adds a task with a unique step id and input prefilled from same-named workflow inputs', () => {
    let model = modelFromWorkflow(WORKFLOW);
    model = addStep(model, TASKS[0] as WorkflowTask);
    const added = model.steps.at(-1);
    expect(added?.id).to.equal('fetch-user');
    expect(added?.input).to.deep.equal({ userId: '{{input.userId}}' });
    model = addStep(model, TASKS[0] as WorkflowTask);
    expect(model.steps.at(-1)?.id).to.equal('fetch-user-2');
  });

  it('connects two steps with an explicit dependsOn, and refuses a cycle or a self-edge, naming it', () => {
    const model = modelFromWorkflow(WORKFLOW);
    const withEdge = connect(model, 'mail', 'user');
    expect(withEdge)
      .to.be.an('error')
      .with.property('message')
      .that.matches(/cycle.*user -> mail -> user/);
    expect(connect(model, 'user', 'user')).to.be.an('error');
    const added = addStep(model, TASKS[1] as WorkflowTask);
    const connected = connect(added, 'user', 'send-email');
    if (connected instanceof Error) throw connected;
    expect(connected.steps.at(-1)?.dependsOn).to.deep.equal(['user']);
    const undone = disconnect(connected, 'user', 'send-email');
    if (undone instanceof Error) throw undone;
    expect(undone.steps.at(-1)?.dependsOn).to.equal(undefined);
  });

  it('removes a step and the explicit edges to it', () => {
    let model = addStep(modelFromWorkflow(WORKFLOW), TASKS[1] as WorkflowTask);
    model = connect(model, 'user', 'send-email') as typeof model;
    model = removeStep(model, 'user');
    expect(model.steps.map((s) => s.id)).to.deep.equal(['mail', 'send-email']);
    expect(model.steps[1]?.dependsOn).to.equal(undefined);
  });

  it('suggests {{input.…}} paths, and {{tasks.<id>.output.…}} only from the tasks a step depends on', () => {
    const model = modelFromWorkflow(WORKFLOW);
    const forUser = templateSuggestions(model, 'user', TASKS).map((s) => s.template);
    expect(forUser).to.include.members(['{{input.userId}}', '{{input.flags}}', '{{input.flags.vip}}']);
    expect(forUser.some((t) => t.startsWith('{{tasks.'))).to.equal(false);
    const forMail = templateSuggestions(model, 'mail', TASKS);
    expect(forMail).to.deep.include({ template: '{{tasks.user.output.age}}', type: 'number' });
    expect(forMail).to.deep.include({ template: '{{tasks.user.output.email}}', type: 'string' });
  });

  it('attributes validator errors to the step of their field path', () => {
    const model = modelFromWorkflow(WORKFLOW);
    const byStep = errorsByStep(model, [
      { code: 'TypeMismatch', field: 'spec.tasks[1].input.to', message: 'm' },
      { code: 'FieldInvalid', field: 'spec.timeout', message: 't' },
    ] as never);
    expect(Object.keys(byStep)).to.deep.equal(['mail']);
  });

  it('finds the YAML line of a field path, or of its closest existing parent', () => {
    const text = modelToYaml(modelFromWorkflow(WORKFLOW));
    const lines = text.split('\n');
    const { line, from, to } = locateField(text, 'spec.tasks[1].input.to');
    expect(lines[line - 1]).to.match(/to: .*tasks\.user\.output\.email/);
    expect(text.slice(from, to)).to.match(/^to: .*email/);
    expect(lines[locateField(text, 'spec.tasks[1].input.missing').line - 1]).to.match(/input:/);
  });

  it('keeps the comments of the YAML when the canvas changes it', () => {
    const text = `# my workflow\n${modelToYaml(modelFromWorkflow(WORKFLOW)).replace('subject: hi', 'subject: hi # greeting')}`;
    const { model, document } = modelFromYaml(text);
    const next = updateStep(model!, 'user', { when: 'input.userId != ""' });
    const out = modelToYaml(next, document);
    expect(out).to.contain('# my workflow').and.contain('# greeting').and.contain('when: input.userId != ""');
  });

  it('reports YAML that is not a Workflow without throwing', () => {
    expect(modelFromYaml('kind: [').errors[0]).to.match(/YAML/);
    expect(modelFromYaml('kind: Pod\n').errors[0]).to.match(/Workflow/);
  });

  it('undoes and redoes edits, and a new edit drops the redo', () => {
    let h = undoable(1);
    h = h.record(2).record(3);
    h = h.undo().undo();
    expect(h.present).to.equal(1);
    h = h.redo();
    expect(h.present).to.equal(2);
    h = h.record(9);
    expect(h.canRedo).to.equal(false);
    expect(h.undo().present).to.equal(2);
  });
});

describe('the builder YAML of a model that grows from empty', () => {
  it('writes steps added to an empty `tasks: []` as a block list', () => {
    const empty = { metadata: { name: 'w' }, steps: [] };
    const { document } = modelFromYaml(modelToYaml(empty));
    const grown = addStep(empty, TASKS[0] as WorkflowTask);
    const text = modelToYaml(grown, document);
    expect(text).to.match(/tasks:\n {4}- id: fetch-user/);
  });
});
