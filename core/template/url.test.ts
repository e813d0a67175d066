import { expect } from 'chai';
import { compileValue } from './compiled-value.ts';
import { compileUrlTemplate, resolveUrlTemplate } from './url.ts';

const scope = (input: unknown) => ({ input, taskOutput: () => undefined, secret: () => undefined });

describe('compileUrlTemplate', () => {
  it('keeps a literal URL as it is written', () => {
    const template = compileUrlTemplate(compileValue('http://users.svc/a b').value);
    expect(Array.isArray(template)).to.equal(false);
    if (Array.isArray(template)) return;
    expect(resolveUrlTemplate(template, scope({}))).to.equal('http://users.svc/a b');
  });

  it('refuses a URL that is not a string', () => {
    const problems = compileUrlTemplate(compileValue({ u: '{{input.u}}' }).value);
    expect(problems).to.deep.equal([
      {
        message: 'the URL must be a string',
        suggestion: (problems as Array<{ suggestion: string }>)[0]?.suggestion,
      },
    ]);
  });

  it('lists every template a URL may not hold', () => {
    const problems = compileUrlTemplate(compileValue('{{input.s}}://{{input.u}}@h.svc:{{input.p}}/').value);
    expect((problems as Array<{ message: string }>).map((p) => p.message.split(':')[0])).to.deep.equal([
      '`{{input.s}}` is in the scheme',
      '`{{input.u}}` is in the userinfo',
      '`{{input.p}}` is in the port',
    ]);
  });

  it('checks the whole label a host template fills, including its literal part and length', () => {
    const template = compileUrlTemplate(compileValue('http://api-{{input.t}}.users.svc/').value);
    if (Array.isArray(template)) throw new Error('refused');
    expect(resolveUrlTemplate(template, scope({ t: 'eu1' }))).to.equal('http://api-eu1.users.svc/');
    expect(() => resolveUrlTemplate(template, scope({ t: 'x'.repeat(60) }))).to.throw(/one DNS label/);
    expect(() => resolveUrlTemplate(template, scope({ t: 'eu-' }))).to.throw(/one DNS label/);
  });
});

describe('resolveUrlTemplate', () => {
  it('refuses a path segment that a value completes into `.` or `..`, with literal dots around it or empty', () => {
    const template = compileUrlTemplate(compileValue('http://users.svc/a/.{{input.id}}/b').value);
    if (Array.isArray(template)) throw new Error('refused');
    for (const id of ['.', '', null]) {
      expect(() => resolveUrlTemplate(template, scope({ id })), String(id)).to.throw(/path segment/);
    }
    expect(resolveUrlTemplate(template, scope({ id: '..' }))).to.equal('http://users.svc/a/.../b');
    expect(resolveUrlTemplate(template, scope({ id: 'x' }))).to.equal('http://users.svc/a/.x/b');
  });

  it('refuses a value that has no UTF-8 encoding (a lone surrogate) instead of throwing URIError', () => {
    const template = compileUrlTemplate(compileValue('http://users.svc/u/{{input.id}}').value);
    if (Array.isArray(template)) throw new Error('refused');
    expect(() => resolveUrlTemplate(template, scope({ id: 'a\ud800' }))).to.throw(/not valid Unicode/);
  });
});
