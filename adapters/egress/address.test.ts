import { expect } from 'chai';
import { cidrContains, embeddedIPv4, formatIp, parseCidr, parseIp, parseIPv4, parseIPv6 } from './address.ts';

describe('IP address parsing', () => {
  const v4: Array<[string, string | undefined]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0x7F.0.0.1', '127.0.0.1'],
    ['0177.0.0.01', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['169.254.169.254.', '169.254.169.254'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['256.0.0.1', undefined],
    ['1.2.3.4.5', undefined],
    ['1.2.3.256', undefined],
    ['4294967296', undefined],
    ['08.0.0.1', undefined],
    ['example.com', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of v4) {
    it(`reads IPv4 \`${text}\` as ${expected ?? 'not an address'}`, () => {
      const parsed = parseIPv4(text);
      expect(parsed ? formatIp(parsed) : undefined).to.equal(expected);
    });
  }

  const v6: Array<[string, string | undefined]> = [
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::ffff:7f00:1', '::ffff:7f00:1'],
    ['fd00:ec2::254', 'fd00:ec2::254'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::', '::'],
    ['1::2::3', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['12345::', undefined],
    ['::ffff:127.1', undefined],
    ['::ffff:999.0.0.1', undefined],
    ['1.2.3.4', undefined],
  ];
  for (const [text, expected] of v6) {
    it(`reads IPv6 \`${text}\` as ${expected ?? 'not an address'}`, () => {
      const parsed = parseIPv6(text);
      expect(parsed ? formatIp(parsed) : undefined).to.equal(expected);
    });
  }

  it('finds the IPv4 address inside mapped, compatible, NAT64 and 6to4 addresses', () => {
    const cases: Array<[string, string | undefined]> = [
      ['::ffff:169.254.169.254', '169.254.169.254'],
      ['::127.0.0.1', '127.0.0.1'],
      ['64:ff9b::7f00:1', '127.0.0.1'],
      ['2002:7f00:1::', '127.0.0.1'],
      ['::1', undefined],
      ['2001:db8::1', undefined],
    ];
    for (const [text, expected] of cases) {
      const embedded = embeddedIPv4(parseIp(text) as NonNullable<ReturnType<typeof parseIp>>);
      expect(embedded ? formatIp(embedded) : undefined, text).to.equal(expected);
    }
    expect(embeddedIPv4(parseIp('10.0.0.1') as NonNullable<ReturnType<typeof parseIp>>)).to.equal(undefined);
  });

  it('parses CIDR blocks and tests membership within one family', () => {
    const block = parseCidr('10.0.0.0/8');
    expect(block).to.deep.include({ family: 4, prefix: 8 });
    expect(cidrContains(block!, parseIp('10.200.1.1')!)).to.equal(true);
    expect(cidrContains(block!, parseIp('11.0.0.1')!)).to.equal(false);
    expect(cidrContains(block!, parseIp('::ffff:10.0.0.1')!)).to.equal(false);
    expect(cidrContains(parseCidr('fe80::/10')!, parseIp('fe80::abcd')!)).to.equal(true);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('8.8.8.8')!)).to.equal(true);
    expect(parseCidr('1.2.3.4')).to.deep.include({ prefix: 32 });
    expect(parseCidr('::1')).to.deep.include({ prefix: 128 });
    for (const bad of ['10.0.0.0/33', '::/129', '10.1/8', 'x/8', '10.0.0.0/a'])
      expect(parseCidr(bad), bad).to.equal(undefined);
  });
});
