import { expect } from 'chai';
import { incompatibility, jsonTypeOf, schemaAt, typesOf, type JsonSchema } from './schema-types.ts';

const user = {
  type: 'object',
  required: ['id', 'address'],
  properties: {
    id: { type: 'string' },
    age: { type: 'integer' },
    address: {
      type: 'object',
      required: ['street'],
      properties: { street: { type: 'string' }, zip: { type: 'string' } },
    },
    tags: { type: 'array', items: { type: 'string' } },
    extra: { type: 'object', additionalProperties: { type: 'number' } },
    free: { type: 'object' },
  },
};

describe('schemaAt', () => {
  const cases: Array<[string, Array<string | number>, unknown]> = [
    ['a required property', ['id'], { found: true, schema: { type: 'string' }, optional: false }],
    ['an optional property', ['age'], { found: true, schema: { type: 'integer' }, optional: true }],
    [
      'a nested property',
      ['address', 'street'],
      { found: true, schema: { type: 'string' }, optional: false },
    ],
    ['an array item', ['tags', 0], { found: true, schema: { type: 'string' }, optional: true }],
    ['a map value', ['extra', 'k'], { found: true, schema: { type: 'number' }, optional: true }],
    ['anything under a free-form object', ['free', 'a', 'b'], { found: true, schema: {}, optional: true }],
    ['the whole value', [], { found: true, schema: user, optional: false }],
  ];
  for (const [name, path, expected] of cases) {
    it(`finds ${name}`, () => expect(schemaAt(user, path)).to.deep.equal(expected));
  }

  it('names the missing segment and the known fields', () => {
    expect(schemaAt(user, ['address', 'city'])).to.deep.equal({
      found: false,
      missing: 'city',
      at: 1,
      candidates: ['street', 'zip'],
    });
    expect(schemaAt(user, ['id', 'x'])).to.deep.include({ found: false, missing: 'x' });
    expect(schemaAt(user, ['id', 0])).to.deep.include({ found: false, missing: 0 });
    expect(schemaAt({ type: 'object', additionalProperties: false }, ['a'])).to.deep.include({
      found: false,
    });
  });
});

describe('incompatibility', () => {
  const cases: Array<[string, JsonSchema, JsonSchema, string | undefined]> = [
    ['same type', { type: 'string' }, { type: 'string' }, undefined],
    ['integer into number', { type: 'integer' }, { type: 'number' }, undefined],
    ['number into integer', { type: 'number' }, { type: 'integer' }, 'expects integer, got number'],
    ['integer into string', { type: 'integer' }, { type: 'string' }, 'expects string, got integer'],
    ['anything into an untyped target', { type: 'boolean' }, {}, undefined],
    ['an untyped source', {}, { type: 'string' }, undefined],
    ['a type union that fits', { type: ['string', 'null'] }, { type: ['string', 'null'] }, undefined],
    ['enum values typed by their values', { enum: ['a', 'b'] }, { type: 'string' }, undefined],
    ['const typed by its value', { const: 3 }, { type: 'string' }, 'expects string, got integer'],
    [
      'a nested required field missing',
      { type: 'object', properties: { a: { type: 'string' } } },
      { type: 'object', required: ['b'], properties: { b: { type: 'string' } } },
      'b is required but absent from the source',
    ],
    [
      'a nested required field optional in the source',
      { type: 'object', properties: { b: { type: 'string' } } },
      { type: 'object', required: ['b'] },
      'b is required but optional in the source',
    ],
    [
      'a nested type mismatch',
      { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'number' } } } } },
      { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'string' } } } } },
      'b.c: expects string, got number',
    ],
    [
      'array items',
      { type: 'array', items: { type: 'string' } },
      { type: 'array', items: { type: 'number' } },
      '[]: expects number, got string',
    ],
    ['object properties implying the type', { properties: { a: {} } }, { type: 'object' }, undefined],
    ['items implying the type', { items: {} }, { type: 'string' }, 'expects string, got array'],
  ];
  for (const [name, source, target, expected] of cases) {
    it(`judges ${name}`, () => expect(incompatibility(source, target)).to.equal(expected));
  }

  it('types JSON values the way JSON Schema does', () => {
    expect([null, [], 1, 1.5, 'a', true, {}].map(jsonTypeOf)).to.deep.equal([
      'null',
      'array',
      'integer',
      'number',
      'string',
      'boolean',
      'object',
    ]);
    expect(typesOf({})).to.equal(undefined);
  });
});
