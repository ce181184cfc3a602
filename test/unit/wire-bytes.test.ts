import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
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
    assert.throws(() => b.macBytes('02:42:ac:11:00'), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.ok(b.isMulticastMac(b.macBytes('ff:ff:ff:ff:ff:ff')));
    assert.ok(b.isZeroMac(new Uint8Array(6)));
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
