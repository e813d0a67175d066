import { expect } from 'chai';
import { SyncflowError } from '../core/errors.ts';
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  toFieldSelector,
  toLabelSelector,
  type LabelSelector,
} from './selector.ts';

describe('parseLabelSelector', () => {
  const valid: [string, LabelSelector][] = [
    ['', []],
    ['team=web', [{ key: 'team', operator: 'eq', values: ['web'] }]],
    ['team==web', [{ key: 'team', operator: 'eq', values: ['web'] }]],
    ['team != web', [{ key: 'team', operator: 'neq', values: ['web'] }]],
    ['tier in (gold, silver)', [{ key: 'tier', operator: 'in', values: ['gold', 'silver'] }]],
    ['tier notin (gold)', [{ key: 'tier', operator: 'notin', values: ['gold'] }]],
    ['beta', [{ key: 'beta', operator: 'exists', values: [] }]],
    ['!beta', [{ key: 'beta', operator: 'notexists', values: [] }]],
    [
      'syncflow.io/workflow=user-profile',
      [{ key: 'syncflow.io/workflow', operator: 'eq', values: ['user-profile'] }],
    ],
    ['team=', [{ key: 'team', operator: 'eq', values: [''] }]],
    [
      'a=b,c in (d,e),!f',
      [
        { key: 'a', operator: 'eq', values: ['b'] },
        { key: 'c', operator: 'in', values: ['d', 'e'] },
        { key: 'f', operator: 'notexists', values: [] },
      ],
    ],
  ];
  for (const [text, expected] of valid) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parseLabelSelector(text)).to.deep.equal(expected);
    });
  }

  const invalid: [string, string][] = [
    ['a=b,', 'empty requirement'],
    ['tier in ()', 'the value set is empty'],
    ['Bad_Prefix!/x=y', 'key prefix'],
    ['-team=web', 'key "-team" must be'],
    ['team=we b', 'value "we b" must be'],
    ['replicas>3', 'operators < and > are not supported'],
    ['tier in (ok, -bad)', 'value "-bad"'],
  ];
  for (const [text, message] of invalid) {
    it(`rejects ${JSON.stringify(text)} as a BadRequest on labelSelector`, () => {
      try {
        parseLabelSelector(text);
        expect.fail('expected an error');
      } catch (error) {
        expect(error).to.be.instanceOf(SyncflowError);
        expect((error as SyncflowError).code).to.equal('BadRequest');
        expect((error as SyncflowError).causes[0]?.field).to.equal('labelSelector');
        expect((error as SyncflowError).message).to.contain(message);
      }
    });
  }

  it('passes a parsed selector through and treats absence as everything', () => {
    const parsed: LabelSelector = [{ key: 'a', operator: 'exists', values: [] }];
    expect(toLabelSelector(parsed)).to.equal(parsed);
    expect(toLabelSelector(undefined)).to.deep.equal([]);
    expect(toLabelSelector('a')).to.deep.equal(parsed);
  });
});

describe('matchesLabels', () => {
  const labels = { team: 'web', tier: 'gold' };
  const cases: [string, boolean][] = [
    ['team=web', true],
    ['team=api', false],
    ['team!=api', true],
    ['owner!=bob', true],
    ['tier in (gold,silver)', true],
    ['owner in (bob)', false],
    ['tier notin (gold)', false],
    ['owner notin (bob)', true],
    ['team', true],
    ['owner', false],
    ['!owner', true],
    ['!team', false],
    ['team=web,tier=silver', false],
    ['', true],
  ];
  for (const [selector, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'} ${JSON.stringify(selector)}`, () => {
      expect(matchesLabels(parseLabelSelector(selector), labels)).to.equal(expected);
    });
  }

  it('treats missing labels as an empty set', () => {
    expect(matchesLabels(parseLabelSelector('!team'), undefined)).to.equal(true);
  });
});

describe('parseFieldSelector', () => {
  it('parses the selectable fields with =, == and !=', () => {
    expect(
      parseFieldSelector('spec.workflowRef.name=profile,status.phase!=Failed,metadata.name==x'),
    ).to.deep.equal([
      { field: 'spec.workflowRef.name', operator: 'eq', value: 'profile' },
      { field: 'status.phase', operator: 'neq', value: 'Failed' },
      { field: 'metadata.name', operator: 'eq', value: 'x' },
    ]);
    expect(parseFieldSelector(' ')).to.deep.equal([]);
    expect(toFieldSelector(undefined)).to.deep.equal([]);
  });

  it('rejects an unknown field, listing the supported ones', () => {
    expect(() => parseFieldSelector('status.user=bob')).to.throw(
      SyncflowError,
      'field "status.user" is not selectable; use one of metadata.name, metadata.namespace, spec.workflowRef.name, status.phase',
    );
  });

  it('rejects a requirement without an operator', () => {
    expect(() => parseFieldSelector('status.phase')).to.throw(SyncflowError, 'not of the form field=value');
  });
});

describe('matchesFields', () => {
  const values = {
    'metadata.name': 'x',
    'metadata.namespace': 'shop',
    'spec.workflowRef.name': 'profile',
    'status.phase': 'Failed',
  };
  it('holds when every requirement holds', () => {
    expect(
      matchesFields(parseFieldSelector('status.phase=Failed,metadata.namespace!=bank'), values),
    ).to.equal(true);
    expect(matchesFields(parseFieldSelector('status.phase!=Failed'), values)).to.equal(false);
  });
});
