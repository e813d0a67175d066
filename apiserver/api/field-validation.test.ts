import { expect } from 'chai';
import {
  fieldValidationOutcome,
  parseFieldValidation,
  unknownFieldMessage,
  unknownFields,
  warningHeaderValue,
} from './field-validation.ts';

describe('unknownFields', () => {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const schemas = {
    Thing: {
      type: 'object',
      properties: {
        meta: { allOf: [ref('Meta')], default: {} },
        direct: ref('Meta'),
        items: { type: 'array', items: ref('Meta') },
        byKey: { type: 'object', additionalProperties: ref('Meta') },
        anyKey: { type: 'object', additionalProperties: true },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        raw: { type: 'object' },
        missing: ref('Nowhere'),
      },
    },
    Meta: { type: 'object', properties: { name: { type: 'string' } } },
  };
  const thing = schemas.Thing;

  const cases: Array<[string, unknown, string[]]> = [
    ['known fields through allOf and plain refs', { meta: { name: 'a' }, direct: { name: 'b' } }, []],
    ['unknown fields behind refs', { meta: { nmae: 'a' }, direct: { x: 1 } }, ['meta.nmae', 'direct.x']],
    ['list items, by index', { items: [{ name: 'a' }, { name: 'b', y: 1 }] }, ['items[1].y']],
    ['values of a map', { byKey: { k: { name: 'a', z: 1 } } }, ['byKey.k.z']],
    [
      'anything under additionalProperties: true, preserve-unknown or a property-less object',
      { anyKey: { a: 1 }, free: { b: { c: 1 } }, raw: { d: 1 } },
      [],
    ],
    ['a ref to nothing accepts anything', { missing: { e: 1 } }, []],
    ['an unknown top-level field', { top: 1 }, ['top']],
    ['wrong types are not unknown fields', { meta: 'x', items: {} }, []],
    ['non-object bodies have no fields', 'text', []],
  ];
  for (const [name, body, expected] of cases) {
    it(`${name} → ${expected.length ? expected.join(', ') : 'none'}`, () => {
      expect(unknownFields(body, thing, schemas).unknown).to.deep.equal(expected);
    });
  }

  it('stops following a reference cycle', () => {
    const loop = { A: ref('B'), B: ref('A') };
    expect(unknownFields({ a: 1 }, loop.A, loop).unknown).to.deep.equal([]);
  });
});

describe('field validation wording (as kube-apiserver)', () => {
  const declared = { kind: 'WorkflowExecution', version: 'v1alpha1' };
  const unknown = { unknown: ['spec.foo', 'spec.bar'] };

  it('Strict: 400 BadRequest naming every unknown field', () => {
    expect(fieldValidationOutcome('Strict', unknown, declared)).to.deep.equal({
      badRequest: {
        code: 400,
        reason: 'BadRequest',
        message:
          'WorkflowExecution in version "v1alpha1" cannot be handled as a WorkflowExecution: strict decoding error: unknown field "spec.foo", unknown field "spec.bar"',
      },
      warnings: [],
    });
  });

  it('Warn: one 299 Warning header per unknown field', () => {
    expect(fieldValidationOutcome('Warn', unknown, declared)).to.deep.equal({
      warnings: ['299 - "unknown field \\"spec.foo\\""', '299 - "unknown field \\"spec.bar\\""'],
    });
  });

  it('Ignore, or nothing unknown: no effect', () => {
    expect(fieldValidationOutcome('Ignore', unknown, declared)).to.deep.equal({ warnings: [] });
    expect(fieldValidationOutcome('Strict', { unknown: [] }, declared)).to.deep.equal({ warnings: [] });
  });

  it('names the declared kind and the kind decoded into when they differ', () => {
    const outcome = fieldValidationOutcome(
      'Strict',
      { unknown: ['x'] },
      { kind: 'Other', version: 'v9', into: 'WorkflowExecution' },
    );
    expect(outcome.badRequest?.message).to.equal(
      'Other in version "v9" cannot be handled as a WorkflowExecution: strict decoding error: unknown field "x"',
    );
  });

  it('escapes quotes and backslashes in Warning headers and drops what cannot be sent', () => {
    expect(unknownFieldMessage('spec.a"b')).to.equal('unknown field "spec.a\\"b"');
    expect(warningHeaderValue('a\\b "c"')).to.equal('299 - "a\\\\b \\"c\\""');
    expect(warningHeaderValue('line\nbreak')).to.equal(undefined);
    expect(warningHeaderValue('snow ☃')).to.equal(undefined);
    expect(warningHeaderValue('café')).to.equal('299 - "café"');
  });

  it('parses ?fieldValidation= with Warn as the default', () => {
    expect(parseFieldValidation(undefined)).to.equal('Warn');
    expect(parseFieldValidation('')).to.equal('Warn');
    for (const d of ['Strict', 'Warn', 'Ignore'] as const) expect(parseFieldValidation(d)).to.equal(d);
    expect(parseFieldValidation('strict')).to.equal(undefined);
  });
});
