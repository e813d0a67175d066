import { expect } from 'chai';
import { SyncflowError } from '../../../core/errors.ts';
import { applyObjectPatch, mergePatch, patchTypeOf } from './patch.ts';

describe('patches', () => {
  it('picks the patch type from the Content-Type and refuses the others with 415', () => {
    expect(patchTypeOf('application/json-patch+json')).to.equal('json');
    expect(patchTypeOf('application/merge-patch+json; charset=utf-8')).to.equal('merge');
    expect(patchTypeOf('application/strategic-merge-patch+json')).to.equal('merge');
    expect(() => patchTypeOf('application/apply-patch+yaml'))
      .to.throw(/server-side apply is not supported/)
      .with.property('code', 'UnsupportedMediaType');
    expect(() => patchTypeOf(undefined)).to.throw(/\(none\)/);
  });

  it('merges as RFC 7386 says: recursive, null removes, arrays replace', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).to.deep.equal({
      a: { c: 2, d: 3 },
      l: [3],
    });
    expect(mergePatch({ a: 1 }, 'x')).to.equal('x');
    expect(mergePatch('x', { a: 1 })).to.deep.equal({ a: 1 });
  });

  it('applies JSON patches to a copy and explains bad ones', () => {
    const original = { metadata: { labels: { a: 'b' } } };
    const patched = applyObjectPatch(original, 'json', [
      { op: 'replace', path: '/metadata/labels/a', value: 'c' },
    ]);
    expect(patched).to.deep.equal({ metadata: { labels: { a: 'c' } } });
    expect(original.metadata.labels.a).to.equal('b');
    expect(() => applyObjectPatch(original, 'json', { op: 'add' })).to.throw(/array of operations/);
    expect(() => applyObjectPatch(original, 'json', [{ op: 'explode', path: '/x' }])).to.throw(
      /invalid JSON patch/,
    );
    expect(() =>
      applyObjectPatch(original, 'json', [{ op: 'test', path: '/metadata/labels/a', value: 'z' }]),
    ).to.throw();
    expect(() => applyObjectPatch(original, 'merge', [1])).to.throw(/must be a JSON object/);
  });

  describe('prototype keys', () => {
    const stored = { metadata: { name: 'x', labels: { a: 'b' } }, spec: {} };
    // Scenario table: every way a patch can name a prototype member, in each patch format.
    const refused: [string, 'json' | 'merge', unknown, string][] = [
      [
        'add to /__proto__',
        'json',
        [{ op: 'add', path: '/__proto__', value: { polluted: true } }],
        'patch[0].path',
      ],
      [
        'add below /__proto__',
        'json',
        [{ op: 'add', path: '/__proto__/polluted', value: true }],
        'patch[0].path',
      ],
      [
        'replace through constructor/prototype',
        'json',
        [{ op: 'replace', path: '/constructor/prototype/polluted', value: 1 }],
        'patch[0].path',
      ],
      [
        'a label called __proto__',
        'json',
        [{ op: 'add', path: '/metadata/labels/__proto__', value: 'x' }],
        'patch[0].path',
      ],
      [
        'copy from /__proto__',
        'json',
        [
          { op: 'test', path: '/spec', value: {} },
          { op: 'copy', from: '/__proto__', path: '/metadata/labels/x' },
        ],
        'patch[1].from',
      ],
      [
        'move from /constructor',
        'json',
        [{ op: 'move', from: '/constructor', path: '/metadata/labels/x' }],
        'patch[0].from',
      ],
      ['test of /__proto__', 'json', [{ op: 'test', path: '/__proto__', value: 1 }], 'patch[0].path'],
      [
        'a segment named prototype',
        'json',
        [{ op: 'add', path: '/metadata/labels/prototype', value: 'x' }],
        'patch[0].path',
      ],
      ['merge: top-level __proto__', 'merge', JSON.parse('{"__proto__": {"polluted": true}}'), '__proto__'],
      [
        'merge: nested __proto__',
        'merge',
        JSON.parse('{"metadata": {"labels": {"__proto__": "x"}}}'),
        'metadata.labels.__proto__',
      ],
      [
        'merge: constructor.prototype',
        'merge',
        { constructor: { prototype: { polluted: true } } },
        'constructor',
      ],
    ];
    for (const [what, type, patch, field] of refused) {
      it(`refuses ${what} with 422 Invalid naming ${field}`, () => {
        let error: unknown;
        try {
          applyObjectPatch(stored, type, patch);
        } catch (e) {
          error = e;
        }
        expect(error, 'the patch must be refused').to.be.instanceOf(SyncflowError);
        const refusal = error as SyncflowError;
        expect(refusal.code).to.equal('InvalidInput');
        expect(refusal.status).to.equal(422);
        expect(refusal.causes.map((c) => c.field)).to.include(field);
        expect(refusal.message).to.match(/prototype/);
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      });
    }

    it('still applies ordinary label patches beside the refusal rule', () => {
      expect(
        applyObjectPatch(stored, 'json', [{ op: 'add', path: '/metadata/labels/proto', value: 'y' }]),
      ).to.have.nested.property('metadata.labels.proto', 'y');
      expect(
        applyObjectPatch(stored, 'merge', { metadata: { labels: { __proto: 'y' } } }),
      ).to.have.nested.property('metadata.labels.__proto', 'y');
    });
  });
});
