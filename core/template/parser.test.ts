import { expect } from 'chai';
import fc from 'fast-check';
import { formatPath, formatRef, parseTemplate, TemplateSyntaxError } from './parser.ts';

describe('parseTemplate', () => {
  const valid: Array<[string, unknown]> = [
    ['plain text', { kind: 'literal', text: 'plain text' }],
    ['{{input.userId}}', { kind: 'exact', ref: { source: 'input', path: ['userId'] } }],
    ['{{ input.a.b }}', { kind: 'exact', ref: { source: 'input', path: ['a', 'b'] } }],
    ['{{input.items[0].id}}', { kind: 'exact', ref: { source: 'input', path: ['items', 0, 'id'] } }],
    ['{{input["odd key"]}}', { kind: 'exact', ref: { source: 'input', path: ['odd key'] } }],
    ['{{input}}', { kind: 'exact', ref: { source: 'input', path: [] } }],
    ['{{tasks.user.output}}', { kind: 'exact', ref: { source: 'task', taskId: 'user', path: [] } }],
    [
      '{{tasks.get-user.output.email}}',
      { kind: 'exact', ref: { source: 'task', taskId: 'get-user', path: ['email'] } },
    ],
    ['{{secrets.token}}', { kind: 'exact', ref: { source: 'secret', name: 'token' } }],
    [
      'Bearer {{secrets.token}}!',
      { kind: 'interpolated', parts: ['Bearer ', { source: 'secret', name: 'token' }, '!'] },
    ],
    [
      '{{input.a}}{{input.b}}',
      {
        kind: 'interpolated',
        parts: [
          { source: 'input', path: ['a'] },
          { source: 'input', path: ['b'] },
        ],
      },
    ],
  ];
  for (const [text, expected] of valid) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parseTemplate(text)).to.deep.equal(expected);
    });
  }

  const invalid: Array<[string, number, RegExp]> = [
    ['x {{input.a', 3, /unclosed/],
    ['{{}}', 3, /empty template/],
    ['{{ inptu.a }}', 4, /unknown reference `inptu`/],
    ['{{input.items[x]}}', 15, /array index/],
    ['{{input.}}', 9, /field name/],
    ['{{tasks.user.email}}', 14, /expected `output`/],
    ['{{tasks}}', 8, /task id/],
    ['{{secrets.a.b}}', 12, /expected `}}`/],
    ['{{ {{input.a}} }}', 4, /nested/],
    ['{{input.a b}}', 11, /expected `}}`/],
    ['{{input["a}}', 9, /unterminated/],
    ['{{input[0}}', 10, /`]`/],
  ];
  for (const [text, column, message] of invalid) {
    it(`rejects ${JSON.stringify(text)} at column ${column}`, () => {
      let caught: unknown;
      try {
        parseTemplate(text);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(TemplateSyntaxError);
      expect((caught as TemplateSyntaxError).column).to.equal(column);
      expect((caught as Error).message).to.match(message);
    });
  }

  it('suggests the closest root for a misspelled reference', () => {
    expect(() => parseTemplate('{{inptu.a}}'))
      .to.throw(TemplateSyntaxError)
      .with.property('suggestion', 'did you mean `input`?');
  });

  it('never throws anything but TemplateSyntaxError, on any string', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            '{',
            '}',
            '.',
            '[',
            ']',
            '"',
            'a',
            'input',
            'tasks',
            'secrets',
            'output',
            ' ',
            '0',
          ),
          maxLength: 40,
        }),
        (text) => {
          try {
            parseTemplate(text);
          } catch (error) {
            if (!(error instanceof TemplateSyntaxError)) throw error;
          }
        },
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseTemplate(`{{${text}}}`);
        } catch (error) {
          if (!(error instanceof TemplateSyntaxError)) throw error;
        }
      }),
    );
  });

  it('round-trips formatted references', () => {
    const refs = ['input', 'input.a[0].b', 'tasks.user.output', 'tasks.user.output.list[2]', 'secrets.token'];
    for (const text of refs) {
      const parsed = parseTemplate(`{{${text}}}`);
      expect(parsed.kind).to.equal('exact');
      if (parsed.kind === 'exact') expect(formatRef(parsed.ref)).to.equal(text);
    }
    expect(formatPath(['a', 'odd key', 1])).to.equal('a["odd key"][1]');
  });
});
