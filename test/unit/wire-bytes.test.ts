import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isIPv6 } from 'node:net';
/** Reference formatting: WHATWG URL parsing normalises IPv6 to RFC 5952 text. */
const formatIPv6 = (raw: Uint8Array) => {
  const groups = Array.from({ length: 8 }, (_, i) => ((raw[2 * i]! << 8) | raw[2 * i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
};
const refIpv6Bytes = (text: string) => {
  const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
};
import * as b from '../../src/wire/bytes.js';

describe('wire/bytes', () => {
  it('reads and writes big-endian integers', () => {
    const x = new Uint8Array(6);
    b.setU32(x, 1, 0xdeadbeef);
    b.setU16(x, 4, 0x1234);
    assert.equal(b.u32(x, 1), 0xdead_be12);
    assert.equal(b.u16(x, 4), 0x1234);
  });

  it('formats and parses MACs', () => {
    assert.equal(b.macToString(b.macBytes('02:42:AC:11:00:02')), '02:42:ac:11:00:02');
    assert.throws(() => b.macBytes('02:42:ac:11:00'), { code: 'EINVALARG' });
    assert.ok(b.isMulticastMac(b.macBytes('ff:ff:ff:ff:ff:ff')));
    assert.ok(b.isZeroMac(new Uint8Array(6)));
  });

  it('parses IPv4 strictly', () => {
    assert.deepEqual([...b.ipv4Bytes('198.18.0.1')], [198, 18, 0, 1]);
    for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', 'a.b.c.d', '1.2.3.4.5']) assert.throws(() => b.ipv4Bytes(bad), { code: 'EINVALARG' });
  });

  it('IPv6 text round-trips and agrees with node:net and the io formatter', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
      const text = b.ipv6ToString(raw);
      assert.ok(isIPv6(text));
      assert.equal(text, formatIPv6(raw));
      assert.deepEqual([...b.ipv6Bytes(text)], [...raw]);
      assert.deepEqual([...b.ipv6Bytes(text)], [...refIpv6Bytes(text)]);
    }));
    assert.equal(b.ipv6ToString(b.ipv6Bytes('::ffff:198.18.0.1')), '::ffff:c612:1');
    assert.equal(b.ipv6ToString(b.ipv6Bytes('fe80::1')), 'fe80::1');
    assert.equal(b.ipv6ToString(b.ipv6Bytes('1:0:0:1:0:0:0:1')), '1:0:0:1::1');
    for (const bad of [':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7']) assert.throws(() => b.ipv6Bytes(bad), { code: 'EINVALARG' });
  });

  it('computes the RFC 1071 example checksum', () => {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (checksum 220d).
    assert.equal(b.internetChecksum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])), 0x220d);
  });

  it('a buffer containing its own checksum sums to zero (property, odd lengths too)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 2, maxLength: 3000 }), (data) => {
      const buf = new Uint8Array(data.length + 2);
      buf.set(data, 2);
      // checksum field first, so the odd trailing byte stays last
      b.setU16(buf, 0, b.internetChecksum(buf));
      assert.equal(b.internetChecksum(buf), 0);
    }));
  });

  it('onesSum is additive over even-sized chunks', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 201 }), (a0, c) => {
      const a = a0.length % 2 ? a0.subarray(1) : a0;
      const joined = new Uint8Array(a.length + c.length);
      joined.set(a);
      joined.set(c, a.length);
      assert.equal(b.foldChecksum(b.onesSum(c, 0, c.length, b.onesSum(a, 0, a.length))), b.internetChecksum(joined));
    }));
  });
});
