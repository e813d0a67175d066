import { expect } from 'chai';
import { applyObjectPatch, mergePatch, patchTypeOf } from './patch.ts';

describe('patches', () => {
  it('picks the patch type from the Content-Type and refuses the others with 415', () => {
    expect(patchTypeOf('application/json-patch+json')).to.equal('json');
    expect(patchTypeOf('application/merge-patch+json; charset=utf-8')).to.equal('merge');
    expect(patchTypeOf('application/strategic-merge-patch+json')).to.equal('merge');
    expect(() => patchTypeOf('application/apply-patch+yaml')).to.throw(/server-side apply is not supported/).with.property('code', 'UnsupportedMediaType');
    expect(() => patchTypeOf(undefined)).to.throw(/\(none\)/);
  });

  it('merges as RFC 7386 says: recursive, null removes, arrays replace', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).to.deep.equal({ a: { c: 2, d: 3 }, l: [3] });
    expect(mergePatch({ a: 1 }, 'x')).to.equal('x');
    expect(mergePatch('x', { a: 1 })).to.deep.equal({ a: 1 });
  });

  it('applies JSON patches to a copy and explains bad ones', () => {
    const original = { metadata: { labels: { a: 'b' } } };
    const patched = applyObjectPatch(original, 'json', [{ op: 'replace', path: '/metadata/labels/a', value: 'c' }]);
    expect(patched).to.deep.equal({ metadata: { labels: { a: 'c' } } });
    expect(original.metadata.labels.a).to.equal('b');
    expect(() => applyObjectPatch(original, 'json', { op: 'add' })).to.throw(/array of operations/);
    expect(() => applyObjectPatch(original, 'json', [{ op: 'explode', path: '/x' }])).to.throw(/invalid JSON patch/);
    expect(() => applyObjectPatch(original, 'json', [{ op: 'test', path: '/metadata/labels/a', value: 'z' }])).to.throw();
    expect(() => applyObjectPatch(original, 'merge', [1])).to.throw(/must be a JSON object/);
  });
});
