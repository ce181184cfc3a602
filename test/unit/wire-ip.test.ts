import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as ipv4 from '../../src/wire/ipv4.js';
import * as ipv6 from '../../src/wire/ipv6.js';
import * as icmpv4 from '../../src/wire/icmpv4.js';
import * as icmpv6 from '../../src/wire/icmpv6.js';
import { DecodeError } from '../../src/errors.js';
import { ipv6Bytes } from '../../src/wire/ip.js';
import { bytes, encodeAt, ipv4Addr, ipv6Addr, mac, u16, u32, u8 } from './wire-arb.js';

const NP = { noNullPrototype: true } as const;
const hexBytes = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const isDecodeError = (reason: string) => (e: unknown) => e instanceof DecodeError && e.reason === reason;

// ping 198.18.0.2 from 198.18.0.1 (IPv4 + ICMP echo request, id 0x1c46 seq 1, 4 data bytes).
const PING = hexBytes('45000020 abcd4000 4001 0000 c6120001 c6120002  0800 0000 1c46 0001 61626364');

describe('wire/ipv4', () => {
  const pkt = Uint8Array.from(PING);
  new ipv4.Ipv4View(pkt).fillChecksum();
  const icmp = pkt.subarray(20);
  icmp.set(icmpv4.encode(icmpv4.decode(icmp)));

  it('deconstructs a header', () => {
    const v = new ipv4.Ipv4View(pkt);
    assert.equal(v.version, 4);
    assert.equal(v.headerLength, 20);
    assert.equal(v.totalLength, 32);
    assert.ok(v.dontFragment);
    assert.equal(v.isFragment, false);
    assert.equal(v.protocol, 1);
    assert.ok(v.checksumValid);
    assert.equal(v.sourceU32, 0xc6120001);
    const r = ipv4.decode(pkt, 0, pkt.length, { verifyChecksum: true });
    assert.equal(r.source, '198.18.0.1');
    assert.equal(r.payload.length, 12);
  });

  it('re-encodes to identical bytes (checksum included)', () => {
    const r = ipv4.decode(pkt);
    assert.deepEqual(encodeAt((o, off) => ipv4.encode(r, o, off), ipv4.encodingLength(r)), pkt);
  });

  it('skips options, ignores padding, recognises fragments', () => {
    const withOpts = ipv4.encode({ ...ipv4.decode(pkt), options: Uint8Array.from([1, 1, 1, 0]), moreFragments: true, fragmentOffset: 1480 });
    const padded = new Uint8Array(withOpts.length + 6);
    padded.set(withOpts);
    const v = new ipv4.Ipv4View(padded);
    assert.equal(v.headerLength, 24);
    assert.equal(v.payload.length, 12);
    assert.ok(v.isFragment);
    assert.equal(v.fragmentOffset, 1480);
  });

  it('rejects bad headers with a reason', () => {
    const bad = (mut: (b: Uint8Array) => void) => { const b = Uint8Array.from(pkt); mut(b); return b; };
    assert.throws(() => ipv4.decode(pkt.subarray(0, 19)), isDecodeError('truncated'));
    assert.throws(() => ipv4.decode(bad((b) => (b[0] = 0x65))), isDecodeError('bad-version'));
    assert.throws(() => ipv4.decode(bad((b) => (b[0] = 0x44))), isDecodeError('bad-length'));
    assert.throws(() => ipv4.decode(bad((b) => (b[0] = 0x4f))), isDecodeError('bad-length'));
    assert.throws(() => ipv4.decode(bad((b) => (b[3] = 0xff))), isDecodeError('truncated'));
    assert.throws(() => ipv4.decode(bad((b) => (b[8] = 1)), 0, undefined, { verifyChecksum: true }), isDecodeError('bad-checksum'));
    assert.throws(() => ipv4.encode({ ...ipv4.decode(pkt), ttl: 256 }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => ipv4.encode({ ...ipv4.decode(pkt), options: new Uint8Array(3) }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });

  it('round-trips (property) with a valid checksum', () => {
    const repr = fc.record({
      dscp: fc.integer({ min: 0, max: 63 }), ecn: fc.integer({ min: 0, max: 3 }), identification: u16, dontFragment: fc.boolean(),
      moreFragments: fc.boolean(), fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8), ttl: u8, protocol: u8,
      source: ipv4Addr, destination: ipv4Addr, options: fc.integer({ min: 0, max: 10 }).chain((n) => bytes(n * 4, n * 4)), payload: bytes(80),
    }, NP);
    fc.assert(fc.property(repr, (r) => {
      const out = encodeAt((o, off) => ipv4.encode(r, o, off), ipv4.encodingLength(r));
      assert.deepEqual(ipv4.decode(out, 0, out.length, { verifyChecksum: true }), r);
    }));
  });
});

describe('wire/ipv6 and its extension walk', () => {
  const base = { trafficClass: 0xb8, flowLabel: 0x12345, hopLimit: 64, source: 'fe80::1', destination: 'ff02::1:ff00:2' };

  it('round-trips (property)', () => {
    const repr = fc.record({ trafficClass: u8, flowLabel: fc.integer({ min: 0, max: 0xfffff }), nextHeader: u8, hopLimit: u8, source: ipv6Addr, destination: ipv6Addr, payload: bytes(100) }, NP);
    fc.assert(fc.property(repr, (r) => {
      const out = encodeAt((o, off) => ipv6.encode(r, o, off), ipv6.encodingLength(r));
      assert.deepEqual(ipv6.decode(out), r);
    }));
  });

  it('walks hop-by-hop, destination options and fragment headers to the upper layer', () => {
    const ext = hexBytes(`
      3c00 0000 0000 0000
      2c01 0000 0000 0000 0000 0000 0000 0000
      1100 0001 0000 abcd
      1111 0035 0008 0000`);
    const pkt = ipv6.encode({ ...base, nextHeader: 0, payload: ext });
    const v = new ipv6.Ipv6View(pkt);
    const w = ipv6.walkExtensions(pkt, v.nextHeader, v.payloadOffset, v.payloadOffset + v.payloadLength);
    assert.deepEqual(w.headers.map((h) => [h.name, h.length]), [['hop-by-hop', 8], ['destination-options', 16], ['fragment', 8]]);
    assert.equal(w.protocol, 17);
    assert.equal(w.offset, 40 + 32);
    assert.deepEqual(w.fragment, { offset: 0, moreFragments: true, identification: 0xabcd });
  });

  it('bounds the walk and rejects overruns', () => {
    const chain = new Uint8Array(8 * 20);
    for (let i = 0; i < 20; i++) chain[i * 8] = 60; // each header points to another Destination Options
    assert.throws(() => ipv6.walkExtensions(chain, 60, 0, chain.length), isDecodeError('too-many-headers'));
    const long = Uint8Array.from([17, 5, 0, 0, 0, 0, 0, 0]); // claims 48 bytes
    assert.throws(() => ipv6.walkExtensions(long, 0, 0, long.length), isDecodeError('truncated'));
    const pkt = ipv6.encode({ ...base, nextHeader: 59, payload: new Uint8Array(8) });
    assert.throws(() => ipv6.decode(pkt.subarray(0, 45)), isDecodeError('truncated'));
    pkt[0] = 0x40;
    assert.throws(() => ipv6.decode(pkt), isDecodeError('bad-version'));
  });
});

describe('wire/icmpv4', () => {
  it('decodes echo fields and round-trips with a valid checksum (property)', () => {
    fc.assert(fc.property(u8, u8, u32, bytes(64), (type, code, rest, payload) => {
      const r = { type, code, rest, payload };
      const out = encodeAt((o, off) => icmpv4.encode(r, o, off), icmpv4.encodingLength(r));
      const v = new icmpv4.Icmpv4View(out);
      assert.ok(v.checksumValid);
      assert.equal(v.identifier, rest >>> 16);
      assert.deepEqual(icmpv4.decode(out), r);
    }));
    assert.throws(() => icmpv4.decode(new Uint8Array(7)), isDecodeError('truncated'));
  });
});

describe('wire/icmpv6 + NDP', () => {
  const src = 'fe80::42:c6ff:fe12:1';
  const dst = 'ff02::1:ff12:2';

  it('encodes an NS with a source link-layer option that verifies and decodes', () => {
    const repr = icmpv6.encodeNdp({ kind: 'neighbor-solicitation', target: 'fe80::42:c6ff:fe12:2', options: [{ type: 1, linkLayerAddress: '02:42:c6:12:00:01' }] });
    const out = icmpv6.encode(repr, { source: src, destination: dst });
    assert.equal(out.length, 32);
    const v = new icmpv6.Icmpv6View(out);
    assert.ok(v.checksumValid(ipv6Bytes(src), ipv6Bytes(dst)));
    assert.equal(v.checksumValid(ipv6Bytes(dst), ipv6Bytes(src)), true); // sum is symmetric in the addresses
    assert.deepEqual(icmpv6.decodeNdp(v.type, v.body), { kind: 'neighbor-solicitation', target: 'fe80::42:c6ff:fe12:2', options: [{ type: 1, linkLayerAddress: '02:42:c6:12:00:01' }] });
  });

  it('rejects zero-length and overrunning options', () => {
    const body = new Uint8Array(20 + 8);
    body[20] = 1;
    body[21] = 0;
    assert.throws(() => icmpv6.decodeNdp(135, body), isDecodeError('bad-option'));
    body[21] = 2;
    assert.throws(() => icmpv6.decodeNdp(135, body), isDecodeError('truncated'));
    assert.throws(() => icmpv6.decodeNdp(136, new Uint8Array(19)), isDecodeError('truncated'));
    assert.equal(icmpv6.decodeNdp(128, new Uint8Array(4)), undefined);
  });

  it('round-trips every NDP kind (property)', () => {
    const option = fc.oneof(
      fc.record({ type: fc.constantFrom(1 as const, 2 as const), linkLayerAddress: mac }, NP),
      fc.record({ type: fc.constant(3 as const), prefixLength: fc.integer({ min: 0, max: 128 }), onLink: fc.boolean(), autonomous: fc.boolean(), validLifetime: u32, preferredLifetime: u32, prefix: ipv6Addr }, NP),
      fc.record({ type: fc.constant(5 as const), mtu: u32 }, NP),
      fc.record({ type: fc.constantFrom(14, 25, 31), data: fc.integer({ min: 0, max: 3 }).chain((n) => bytes(n * 8 + 6, n * 8 + 6)) }, NP),
    );
    const options = fc.array(option, { maxLength: 4 });
    const msg = fc.oneof(
      fc.record({ kind: fc.constant('router-solicitation' as const), options }, NP),
      fc.record({ kind: fc.constant('router-advertisement' as const), curHopLimit: u8, managed: fc.boolean(), other: fc.boolean(), routerLifetime: u16, reachableTime: u32, retransTimer: u32, options }, NP),
      fc.record({ kind: fc.constant('neighbor-solicitation' as const), target: ipv6Addr, options }, NP),
      fc.record({ kind: fc.constant('neighbor-advertisement' as const), router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: ipv6Addr, options }, NP),
    );
    fc.assert(fc.property(msg, ipv6Addr, ipv6Addr, (m, s, d) => {
      const repr = icmpv6.encodeNdp(m);
      assert.equal(repr.body.length, icmpv6.ndpEncodingLength(m));
      const out = encodeAt((o, off) => icmpv6.encode(repr, { source: s, destination: d }, o, off), icmpv6.encodingLength(repr));
      const back = icmpv6.decode(out);
      assert.ok(new icmpv6.Icmpv6View(out).checksumValid(ipv6Bytes(s), ipv6Bytes(d)));
      assert.deepEqual(icmpv6.decodeNdp(back.type, back.body), m);
    }));
  });
});
