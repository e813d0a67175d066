import { expect } from 'chai';
import { parseFieldSelector, parseLabelSelector } from './selector.ts';
import { fieldSelectorConditions, labelSelectorConditions, SqlParameters } from './sql-filter.ts';

describe('selector SQL', () => {
  const columns = { labels: 'e.labels', workflowName: 'e.workflow_name' };

  it('binds every key and value as a parameter, never as SQL text', () => {
    const params = new SqlParameters();
    const sql = labelSelectorConditions(
      parseLabelSelector('team=web,tier in (a,b),x!=y,z notin (q),k,!n'),
      params,
      columns,
    );
    expect(sql).to.deep.equal([
      '(e.labels ->> $1::text) = $2::text',
      '(e.labels ->> $3::text) = ANY($4::text[])',
      '(e.labels ->> $5::text) IS DISTINCT FROM $6::text',
      'NOT coalesce((e.labels ->> $7::text) = ANY($8::text[]), false)',
      'e.labels ? $9::text',
      'NOT (e.labels ? $10::text)',
    ]);
    expect(params.values).to.deep.equal(['team', 'web', 'tier', ['a', 'b'], 'x', 'y', 'z', ['q'], 'k', 'n']);
  });

  it('uses the indexed workflow column for the workflow label', () => {
    const params = new SqlParameters();
    const sql = labelSelectorConditions(
      parseLabelSelector('syncflow.io/workflow=profile,syncflow.io/workflow in (a)'),
      params,
      columns,
    );
    expect(sql).to.deep.equal(['e.workflow_name = $1::text', 'e.workflow_name = ANY($2::text[])']);
  });

  it('maps selectable fields to columns', () => {
    const params = new SqlParameters();
    expect(
      fieldSelectorConditions(
        parseFieldSelector('spec.workflowRef.name=a,status.phase!=Failed'),
        params,
        'e',
      ),
    ).to.deep.equal(['e.workflow_name = $1', 'e.phase <> $2']);
  });
});
