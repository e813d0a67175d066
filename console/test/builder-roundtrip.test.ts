// The canvas model and the YAML beside it describe the same workflow: for random valid workflows,
// workflow -> canvas model -> YAML -> canvas model is the identity.
import { expect } from 'chai';
import fc from 'fast-check';
import type { Workflow } from '../src/api/types.ts';
import { modelFromWorkflow, modelFromYaml, modelToYaml, workflowFromModel } from '../src/builder/model.ts';

const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/);
const templateOrText = (ids: string[]) =>
  fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('{{input.a}}', '{{input.items[0].id}}', 'Hello {{input.name}}!'),
    ...(ids.length ? [fc.constantFrom(...ids).map((id) => `{{tasks.${id}.output.value}}`)] : []),
  );
const jsonInput = (ids: string[]) =>
  fc.dictionary(
    fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,8}$/),
    fc.oneof(
      templateOrText(ids),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(templateOrText(ids), { maxLength: 3 }),
    ),
    { maxKeys: 4 },
  );

const workflows: fc.Arbitrary<Workflow> = fc
  .uniqueArray(label, { minLength: 1, maxLength: 8 })
  .chain((ids) =>
    fc.record(
      {
        name: label,
        steps: fc.tuple(
          ...ids.map((id, i) =>
            fc
              .record(
                {
                  taskRef: label,
                  input: jsonInput(ids.slice(0, i)),
                  dependsOn: fc.subarray(ids.slice(0, i)),
                  when: fc.constantFrom('input.a == 1', 'has(input.flag) && input.flag'),
                  onError: fc.constantFrom('fail', 'continue'),
                },
                { requiredKeys: ['taskRef'] },
              )
              .map(({ taskRef, ...s }) => ({ id, taskRef: { name: taskRef }, ...s })),
          ),
        ),
        description: fc.string({ maxLength: 30 }),
        timeout: fc.constantFrom('10s', '500ms', '1m'),
        maxConcurrency: fc.integer({ min: 1, max: 1024 }),
        output: jsonInput(ids),
      },
      { requiredKeys: ['name', 'steps'] },
    ),
  )
  .map(
    ({ name, steps, ...spec }) =>
      ({
        apiVersion: 'syncflow.io/v1alpha1',
        kind: 'Workflow',
        metadata: { name, namespace: 'shop' },
        spec: {
          ...spec,
          inputSchema: { type: 'object', properties: { a: { type: 'number' }, name: { type: 'string' } } },
          tasks: steps,
        },
      }) as Workflow,
  );

describe('builder round trip (workflow -> canvas model -> YAML -> canvas model)', () => {
  it('is the identity for random valid workflows', () => {
    fc.assert(
      fc.property(workflows, (workflow) => {
        const model = modelFromWorkflow(workflow);
        const back = modelFromYaml(modelToYaml(model));
        expect(back.errors).to.deep.equal([]);
        expect(back.model).to.deep.equal(model);
        expect(workflowFromModel(back.model!)).to.deep.equal(workflow);
      }),
      { numRuns: 200 },
    );
  });

  it('is the identity too when the YAML is rewritten over the previous document', () => {
    fc.assert(
      fc.property(workflows, workflows, (first, second) => {
        const { document } = modelFromYaml(modelToYaml(modelFromWorkflow(first)));
        const model = modelFromWorkflow(second);
        expect(modelFromYaml(modelToYaml(model, document)).model).to.deep.equal(model);
      }),
      { numRuns: 200 },
    );
  });
});
