import { expect } from 'chai';
import { NameReservations } from './names.ts';

describe('NameReservations', () => {
  it('holds a name once per namespace until it is released', () => {
    const names = new NameReservations();
    const first = names.tryReserve('ns', 'a');
    expect(first?.name).to.equal('a');
    expect(names.tryReserve('ns', 'a'), 'the same name is refused while held').to.equal(undefined);
    expect(names.tryReserve('other', 'a'), 'another namespace is independent').to.not.equal(undefined);
    expect(names.isReserved('ns', 'a')).to.equal(true);
    first?.release();
    expect(names.isReserved('ns', 'a')).to.equal(false);
    expect(names.tryReserve('ns', 'a')).to.not.equal(undefined);
  });

  it('ignores a second release, which must not free a name someone else holds now', () => {
    const names = new NameReservations();
    const first = names.tryReserve('ns', 'a');
    first?.release();
    const second = names.tryReserve('ns', 'a');
    first?.release();
    expect(names.isReserved('ns', 'a')).to.equal(true);
    second?.release();
    expect(names.size).to.equal(0);
  });
});
