import { expect } from 'chai';
import { REDACTED, SecretRedactor, spellingsOf } from './redact.ts';

describe('SecretRedactor', () => {
  const secret = 'p@ss w/rd+é"x';
  const redactor = new SecretRedactor([secret]);

  describe('redacts every spelling an upstream may echo', () => {
    // [spelling, echoed text, characters of the echo allowed to remain (base64 edges shared with neighbours)]
    const cases: Array<[string, string, number]> = [
      ['raw', secret, 0],
      ['URI component', encodeURIComponent(secret), 0],
      [
        'URI component, lower-case hex',
        encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
        0,
      ],
      ['form (+ for space)', new URLSearchParams({ k: secret }).toString().slice(2), 0],
      ['URI (path as written)', encodeURI(secret), 0],
      ['JSON-escaped', JSON.stringify(secret).slice(1, -1), 0],
      ['JSON-escaped, ASCII only', 'p@ss w\\/rd+\\u00e9\\"x', 0],
      ['HTML-escaped', 'p@ss w/rd+é&quot;x', 0],
      ['base64', Buffer.from(secret).toString('base64'), 0],
      ['base64url', Buffer.from(secret).toString('base64url'), 2],
      // `user:` is 5 bytes: 7 characters of its own, 1 shared with the secret.
      ['base64 inside Basic credentials', Buffer.from(`user:${secret}`).toString('base64'), 8 + 4],
      ['base64 at every alignment', Buffer.from(`ab${secret}cd`).toString('base64'), 4 + 4],
      ['whitespace collapsed', 'p@ss w/rd+é"x', 0],
      ['whitespace removed', 'p@ssw/rd+é"x', 0],
    ];
    for (const [name, echoed, leftover] of cases) {
      it(name, () => {
        const out = redactor.text(`before ${echoed} after`);
        expect(out).to.contain(REDACTED);
        expect(out.split(REDACTED).join('').length).to.be.at.most('before  after'.length + leftover);
      });
    }
  });

  it('redacts a whitespace-normalised echo of a secret that contains line breaks', () => {
    const pem = 'line-one\n  line-two\tend';
    const out = new SecretRedactor([pem]).text('got: line-one line-two end.');
    expect(out).to.equal(`got: ${REDACTED}.`);
    expect(spellingsOf(pem)).to.include('line-oneline-twoend');
  });

  it('redacts a secret echoed from a header, which lost its outer whitespace', () => {
    expect(new SecretRedactor([' \tkey-with-space ']).text('Bearer key-with-space')).to.equal(
      `Bearer ${REDACTED}`,
    );
  });

  it('replaces a secret that contains another one whole', () => {
    expect(new SecretRedactor(['abcdef', 'abcdefgh']).text('x abcdefgh y')).to.equal(`x ${REDACTED} y`);
  });

  it('ignores empty values and is empty without secrets', () => {
    expect(new SecretRedactor(['']).empty).to.equal(true);
    const value = { a: 1 };
    expect(new SecretRedactor([]).value(value)).to.equal(value);
  });

  describe('shortened', () => {
    it('redacts before cutting, so a secret across the cut disappears whole', () => {
      const text = `${'x'.repeat(195)}${secret} tail`;
      const out = redactor.shortened(text, 200);
      expect(out).to.equal(`${'x'.repeat(195)}${REDACTED} t…`);
    });

    it('never leaves the beginning of a secret at the cut', () => {
      // The upstream itself echoed only the first characters of the secret.
      const out = redactor.shortened(`${'x'.repeat(190)}p@ss w/rd`, 200, true);
      expect(out).to.equal(`${'x'.repeat(190)}${REDACTED}…`);
      expect(redactor.shortened(`${'x'.repeat(250)}`, 200)).to.equal(`${'x'.repeat(200)}…`);
    });

    it('leaves short text as it is', () => {
      expect(redactor.shortened('fine', 200)).to.equal('fine');
    });
  });

  describe('value', () => {
    it('copies JSON with secrets redacted in strings and keys, keeping order and types', () => {
      const value = { [secret]: [secret, 1, true, null, { deep: `a ${secret} b` }], n: 2 };
      const out = redactor.value(value);
      expect(out).to.deep.equal({ [REDACTED]: [REDACTED, 1, true, null, { deep: `a ${REDACTED} b` }], n: 2 });
      expect(Object.keys(out)).to.deep.equal([REDACTED, 'n']);
      expect(value[secret]?.[0]).to.equal(secret);
      expect(redactor.value(secret)).to.equal(REDACTED);
      expect(redactor.value(5)).to.equal(5);
    });

    it('keeps an own __proto__ key as data', () => {
      const out = redactor.value(
        JSON.parse(`{"__proto__": {"x": "${encodeURIComponent(secret)}"}}`) as object,
      );
      expect(Object.getPrototypeOf(out)).to.equal(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).to.deep.equal({ x: REDACTED });
    });

    it('walks any depth without recursion', () => {
      let deep: unknown = secret;
      for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { k: deep };
      let out = redactor.value(deep) as unknown;
      for (let i = 100_000 - 1; i >= 0; i--) out = i % 2 ? (out as unknown[])[0] : (out as { k: unknown }).k;
      expect(out).to.equal(REDACTED);
    });
  });
});
