import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as udp from '../../src/wire/udp.js';
import * as tcp from '../../src/wire/tcp.js';
import * as vxlan from '../../src/wire/vxlan.js';
import { DecodeError } from '../../src/errors.js';
import { ipBytes } from '../../src/wire/ip.js';
import { bytes, encodeAt, ipv4Addr, ipv6Addr, u16, u32 } from './wire-arb.js';

const NP = { noNullPrototype: true } as const;
const isDecodeError = (reason: string) => (e: unknown) => e instanceof DecodeError && e.reason === reason;

describe('wire/udp', () => {
  it('round-trips with a verifying checksum over IPv4 and IPv6 (property)', () => {
    fc.assert(fc.property(u16, u16, bytes(200), fc.oneof(fc.tuple(ipv4Addr, ipv4Addr), fc.tuple(ipv6Addr, ipv6Addr)), (sourcePort, destinationPort, payload, [s, d]) => {
      const r = { sourcePort, destinationPort, payload };
      const out = encodeAt((o, off) => udp.encode(r, o, off, { source: s, destination: d }), udp.encodingLength(r));
      const v = new udp.UdpView(out);
      assert.notEqual(v.checksum, 0);
      assert.ok(v.checksumValid(ipBytes(s), ipBytes(d)));
      assert.deepEqual(udp.decode(out), r);
    }));
  });

  it('treats checksum 0 as none for IPv4 only; checks the length field', () => {
    const out = udp.encode({ sourcePort: 1, destinationPort: 53, payload: new Uint8Array(4) });
    const v = new udp.UdpView(out);
    assert.equal(v.checksum, 0);
    assert.ok(v.checksumValid(ipBytes('198.18.0.1'), ipBytes('198.18.0.2')));
    assert.equal(v.checksumValid(ipBytes('::1'), ipBytes('::1')), false);
    out[5] = 4;
    assert.throws(() => udp.decode(out), isDecodeError('bad-length'));
    out[5] = 13;
    assert.throws(() => udp.decode(out), isDecodeError('truncated'));
    assert.throws(() => udp.encode({ sourcePort: -1, destinationPort: 0, payload: new Uint8Array() }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });
});

describe('wire/tcp', () => {
  it('round-trips with a verifying checksum (property)', () => {
    const repr = fc.record({
      sourcePort: u16, destinationPort: u16, sequenceNumber: u32, acknowledgmentNumber: u32, flags: fc.integer({ min: 0, max: 0x1ff }),
      window: u16, urgentPointer: u16, options: fc.integer({ min: 0, max: 10 }).chain((n) => bytes(n * 4, n * 4)), payload: bytes(100),
    }, NP);
    fc.assert(fc.property(repr, ipv4Addr, ipv4Addr, (r, s, d) => {
      const pseudo = { source: ipBytes(s), destination: ipBytes(d) };
      const out = encodeAt((o, off) => tcp.encode(r, o, off, pseudo), tcp.encodingLength(r));
      assert.ok(new tcp.TcpView(out).checksumValid(pseudo.source, pseudo.destination));
      assert.deepEqual(tcp.decode(out), r);
    }));
  });

  it('walks options and rejects bad data offsets', () => {
    // MSS 1460, NOP, NOP, SACK-permitted... then end
    const opts = Uint8Array.from([2, 4, 5, 0xb4, 1, 1, 4, 2, 0, 0, 0, 0]);
    assert.deepEqual(tcp.options(opts).map((o) => [o.kind, o.data.length]), [[2, 2], [1, 0], [1, 0], [4, 0]]);
    assert.throws(() => tcp.options(Uint8Array.from([2, 0])), isDecodeError('bad-option'));
    assert.throws(() => tcp.options(Uint8Array.from([2, 9, 0])), isDecodeError('bad-option'));
    const seg = tcp.encode({ sourcePort: 1, destinationPort: 2, sequenceNumber: 0, acknowledgmentNumber: 0, flags: 2, window: 0, urgentPointer: 0, options: new Uint8Array(), payload: new Uint8Array() });
    seg[12] = 0x40;
    assert.throws(() => tcp.decode(seg), isDecodeError('bad-length'));
    seg[12] = 0x60;
    assert.throws(() => tcp.decode(seg), isDecodeError('truncated'));
  });
});

describe('wire/vxlan', () => {
  const inner = new Uint8Array(60).fill(7);

  it('encodes golden header bytes 08 00 00 00 | VNI<<8 (V17)', () => {
    const out = vxlan.encode({ vni: 0x123456, payload: inner });
    assert.deepEqual([...out.subarray(0, 8)], [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
    assert.equal(new vxlan.VxlanView(out).vni, 0x123456);
  });

  it('round-trips (property, V18)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: vxlan.MAX_VNI }), bytes(200, 15), (vni, payload) => {
      const r = { vni, payload };
      const out = encodeAt((o, off) => vxlan.encode(r, o, off), vxlan.encodingLength(r));
      assert.deepEqual(vxlan.decode(out), r);
    }));
  });

  it('applies the strict receive policy (V1, V2, V3, V5)', () => {
    const good = vxlan.encode({ vni: 42, payload: inner });
    const mut = (i: number, v: number) => { const b = Uint8Array.from(good); b[i] = v; return b; };
    assert.equal(vxlan.check(good, 0, good.length), null);
    assert.equal(vxlan.check(good, 0, 7), 'short_header');
    assert.equal(vxlan.check(mut(0, 0), 0, good.length), 'invalid_header');
    assert.equal(vxlan.check(mut(0, 0x0c), 0, good.length), 'invalid_header');
    for (const i of [1, 2, 3, 7]) assert.equal(vxlan.check(mut(i, 1), 0, good.length), 'invalid_header');
    assert.equal(vxlan.check(good, 0, 8 + 14), 'short_inner');
    assert.throws(() => vxlan.decode(mut(7, 1)), isDecodeError('invalid-header'));
    const v = new vxlan.VxlanView(good);
    assert.equal(v.reset(good, 0, 3), 'short_header');
  });

  it('rejects out-of-range VNIs on encode (V16)', () => {
    for (const vni of [-1, 0x1000000, NaN, 1.5]) assert.throws(() => vxlan.encode({ vni, payload: inner }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });

  it('derives a stable source port in 49152-65535 (V17)', () => {
    fc.assert(fc.property(bytes(120), (frame) => {
      const p = vxlan.sourcePort(frame);
      assert.ok(p >= 49152 && p <= 65535);
      assert.equal(vxlan.sourcePort(frame), p);
    }));
  });
});
