// The templates library (templates/*.yaml): every template is complete, and with its placeholders
// filled by their examples passes the validator `syncflow validate` and the admission webhook run.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkWorkflowInput } from '../../core/engine/input.ts';
import { validateDocuments } from '../../core/validation/validate.ts';
import {
  DIFFICULTIES,
  FAMILIES,
  exampleValues,
  fillTemplate,
  parseWorkflowTemplate,
  placeholdersUsed,
  type WorkflowTemplate,
} from '../../console/src/builder/templates.ts';
import { repoRoot } from '../harness/controlplane.ts';

const DIR = join(repoRoot, 'templates');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const templates = files.map((file) => {
  const parsed = parseWorkflowTemplate(file.replace(/\.yaml$/, ''), readFileSync(join(DIR, file), 'utf8'));
  return { file, ...parsed };
});

describe('templates library', () => {
  it('holds at least 12 templates across the four families', () => {
    expect(templates.length).to.be.at.least(12);
    for (const family of FAMILIES)
      expect(templates.filter((t) => t.template?.family === family).length, family).to.be.at.least(2);
  });

  it('has the templates the library promises by name', () => {
    const names = templates.map((t) => t.template?.name);
    for (const name of [
      'parallel-fetch',
      'sequential-pipeline',
      'conditional-branch',
      'enrich',
      'aggregate',
      'validate-and-route',
      'status-poll',
      'fan-out-notify',
      'chat-notification',
      'payment-idempotency',
      'webhook-relay',
    ])
      expect(names).to.include(name);
  });

  for (const { file, template, errors } of templates) {
    describe(file, () => {
      it('is a well-formed template: title, family, difficulty, description, placeholders with examples', () => {
        expect(errors).to.deep.equal([]);
        const t = template as WorkflowTemplate;
        expect(FAMILIES).to.include(t.family);
        expect(DIFFICULTIES).to.include(t.difficulty);
        expect(t.description.length).to.be.greaterThan(40);
        for (const p of t.placeholders) expect(p.example, p.name).to.be.a('string').and.not.equal('');
      });

      it('declares exactly the placeholders it uses', () => {
        const t = template as WorkflowTemplate;
        expect([...placeholdersUsed(t)].sort()).to.deep.equal(t.placeholders.map((p) => p.name).sort());
      });

      it('passes the validator of `syncflow validate` with its placeholders filled by their examples', () => {
        const filled = fillTemplate(
          template as WorkflowTemplate,
          exampleValues(template as WorkflowTemplate),
        );
        const reports = validateDocuments([...filled.tasks, filled.workflow]);
        const problems = reports.flatMap((r) =>
          r.errors.map((e) => `${r.kind}/${r.name}: ${e.field}: ${e.code} ${e.message}`),
        );
        expect(problems).to.deep.equal([]);
        const workflow = reports.at(-1)?.workflow;
        expect(workflow, 'the workflow compiles').not.to.equal(undefined);
        // The sample input is what the e2e runs: the workflow's inputSchema accepts it.
        expect(() =>
          checkWorkflowInput(workflow!, (template as WorkflowTemplate).sampleInput),
        ).not.to.throw();
      });
    });
  }

  it('defines a WorkflowTask the same way in every template that needs it (they share a namespace)', () => {
    const seen = new Map<string, string>();
    for (const { file, template } of templates)
      for (const task of template?.tasks ?? []) {
        const spec = JSON.stringify(task.spec);
        const before = seen.get(task.metadata.name);
        if (before !== undefined) expect(spec, `${file}: ${task.metadata.name}`).to.equal(before);
        seen.set(task.metadata.name, spec);
      }
  });
});

describe('fillTemplate', () => {
  const text = `
title: T
family: integrations
difficulty: beginner
description: A template that only this test uses, long enough to pass the description rule.
placeholders:
  - {name: name, description: the name, example: demo}
  - {name: channel, description: a channel, example: '#ops'}
sampleInput: {}
tasks: []
workflow:
  apiVersion: syncflow.io/v1alpha1
  kind: Workflow
  metadata: {name: '\${name}'}
  spec:
    tasks:
      - {id: a, taskRef: {name: t}, input: {channel: '\${channel}', text: 'to \${channel} and {{input.x}}'}}
`;

  it('replaces every ${placeholder} in strings and leaves {{templates}} alone', () => {
    const { template } = parseWorkflowTemplate('t', text);
    const filled = fillTemplate(template!, { name: 'n1', channel: '#c' });
    expect(filled.workflow.metadata.name).to.equal('n1');
    expect(filled.workflow.spec.tasks[0]?.input).to.deep.equal({
      channel: '#c',
      text: 'to #c and {{input.x}}',
    });
  });

  it('names each missing field of a malformed template', () => {
    const { errors } = parseWorkflowTemplate('bad', 'title: x\nfamily: cooking\n');
    expect(errors.join('\n'))
      .to.match(/family/)
      .and.match(/difficulty/)
      .and.match(/workflow/);
  });
});
