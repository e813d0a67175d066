import { expect } from 'chai';
import fc from 'fast-check';
import { SyncflowError } from '../core/errors.ts';
import { decodeContinue, encodeContinue } from './continue-token.ts';

describe('continue tokens', () => {
  it('round-trip any position', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (snapshot, after) => {
        expect(decodeContinue(encodeContinue({ snapshot, after }))).to.deep.equal({ snapshot, after });
      }),
    );
  });

  it('are opaque URL-safe text', () => {
    expect(encodeContinue({ snapshot: 12, after: 7 })).to.match(/^[A-Za-z0-9_-]+$/);
  });

  const foreign = [
    'not base64 json',
    Buffer.from('{"v":2,"s":1,"a":1}').toString('base64url'),
    Buffer.from('{"v":1,"s":"1","a":1}').toString('base64url'),
    Buffer.from('null').toString('base64url'),
  ];
  for (const token of foreign) {
    it(`rejects ${JSON.stringify(token)} naming the continue parameter`, () => {
      try {
        decodeContinue(token);
        expect.fail('expected an error');
      } catch (error) {
        expect(error).to.be.instanceOf(SyncflowError);
        expect((error as SyncflowError).code).to.equal('BadRequest');
        expect((error as SyncflowError).causes[0]?.field).to.equal('continue');
        expect((error as SyncflowError).message).to.contain('restart the list without continue');
      }
    });
  }
});
