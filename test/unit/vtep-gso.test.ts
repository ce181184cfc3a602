/**
 * The VTEP's offload code, pure: the virtio_net_hdr codec, software
 * segmentation of TSO/USO super-frames (gso.ts) and TCP coalescing for
 * TAP writes (gro.ts). Checksums are checked against the slow reference
 * in wire/bytes (byte-pair sums), never against the code under test.
 * Property: segment then coalesce gives back the original stream.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as vnet from '../../src/wire/virtio-net.js';
import { foldChecksum, internetChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/bytes.js';
import { GSO_BAD, GSO_OK, GsoFrame, completeChecksum, fold, sum16, viewOf } from '../../src/dataplane/gso.js';
import { TcpCoalescer } from '../../src/dataplane/gro.js';

const SRC4 = Uint8Array.from([198, 19, 0, 1]);
const DST4 = Uint8Array.from([198, 19, 0, 2]);
const SRC6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const DST6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const CWR = 0x80;

interface Spec {
  v6?: boolean;
  udp?: boolean;
  vlan?: boolean;
  payload: Uint8Array;
  optLen?: number;
  flags?: number;
  seq?: number;
  id?: number;
  sport?: number;
  /** Write a complete L4 checksum (a wire segment) instead of garbage (a TSO frame's partial field). */
  complete?: boolean;
}

/** Ethernet + IPv4/IPv6 + TCP/UDP + payload, as the kernel hands a super-frame to the TAP. */
function frame(s: Spec): Buffer {
  const l3 = s.vlan ? 18 : 14;
  const ipHdr = s.v6 ? 40 : 20;
  const l4Hdr = s.udp ? 8 : 20 + (s.optLen ?? 0);
  const l4Len = l4Hdr + s.payload.length;
  const f = Buffer.alloc(l3 + ipHdr + l4Len);
  f.set([2, 0x42, 0xc6, 0x13, 0, 2, 2, 0x42, 0xc6, 0x13, 0, 1], 0);
  if (s.vlan) f.writeUInt32BE(0x81000005, 12);
  f.writeUInt16BE(s.v6 ? 0x86dd : 0x0800, l3 - 2);
  const proto = s.udp ? 17 : 6;
  if (s.v6) {
    f.writeUInt32BE(0x60012345, l3);
    f.writeUInt16BE(l4Len, l3 + 4);
    f[l3 + 6] = proto;
    f[l3 + 7] = 64;
    f.set(SRC6, l3 + 8);
    f.set(DST6, l3 + 24);
  } else {
    f[l3] = 0x45;
    f.writeUInt16BE(ipHdr + l4Len, l3 + 2);
    f.writeUInt16BE(s.id ?? 0x1234, l3 + 4);
    f.writeUInt16BE(0x4000, l3 + 6);
    f[l3 + 8] = 64;
    f[l3 + 9] = proto;
    f.set(SRC4, l3 + 12);
    f.set(DST4, l3 + 16);
    f.writeUInt16BE(internetChecksum(f, l3, 20), l3 + 10);
  }
  const l4 = l3 + ipHdr;
  f.writeUInt16BE(s.sport ?? 40000, l4);
  f.writeUInt16BE(5201, l4 + 2);
  if (s.udp) {
    f.writeUInt16BE(l4Len, l4 + 4);
  } else {
    f.writeUInt32BE(s.seq ?? 1000, l4 + 4);
    f.writeUInt32BE(777, l4 + 8);
    f[l4 + 12] = (l4Hdr / 4) << 4;
    f[l4 + 13] = s.flags ?? ACK;
    f.writeUInt16BE(502, l4 + 14);
    for (let i = 20; i < l4Hdr; i++) f[l4 + i] = i === l4Hdr - 1 ? 0 : 1; // NOPs, then EOL
  }
  f.set(s.payload, l4 + l4Hdr);
  const at = l4 + (s.udp ? 6 : 16);
  if (s.complete) f.writeUInt16BE(refL4Checksum(f, l3, l4, !!s.v6, proto), at);
  else f.writeUInt16BE(0xbeef, at); // a partial sum the segmenter must not trust
  return f;
}

/** Reference L4 checksum (the field zeroed): byte-pair sums from wire/bytes. */
function refL4Checksum(f: Uint8Array, l3: number, l4: number, v6: boolean, proto: number): number {
  const c = Buffer.from(f);
  c.writeUInt16BE(0, l4 + (proto === 17 ? 6 : 16));
  const src = v6 ? c.subarray(l3 + 8, l3 + 24) : c.subarray(l3 + 12, l3 + 16);
  const dst = v6 ? c.subarray(l3 + 24, l3 + 40) : c.subarray(l3 + 16, l3 + 20);
  const len = c.length - l4;
  const r = foldChecksum(onesSum(c, l4, len, pseudoHeaderSum(src, dst, proto, len)));
  return r === 0 ? 0xffff : r;
}

/** True when the frame's L4 checksum is right (reference sum over pseudo-header + segment folds to 0). */
function l4Valid(f: Uint8Array, l3: number, l4: number, v6: boolean, proto: number): boolean {
  const src = v6 ? f.subarray(l3 + 8, l3 + 24) : f.subarray(l3 + 12, l3 + 16);
  const dst = v6 ? f.subarray(l3 + 24, l3 + 40) : f.subarray(l3 + 16, l3 + 20);
  const len = f.length - l4;
  return foldChecksum(onesSum(f, l4, len, pseudoHeaderSum(src, dst, proto, len))) === 0;
}

interface Seg {
  frame: Buffer;
}

/** Segments a super-frame with GsoFrame into separate buffers (stride = the largest segment). */
function segment(f: Buffer, gsoType: number, gsoSize: number, csumStart: number): Seg[] {
  const g = new GsoFrame();
  const r = g.parse(viewOf(f), 0, f.length, gsoType, gsoSize, csumStart);
  assert.equal(r, GSO_OK);
  const stride = g.hdrLen + g.gsoSize + 3; // odd stride: alignment must not matter
  const out = Buffer.alloc(7 + stride * g.segments);
  const last = g.write(f, 0, 0, g.segments, out, viewOf(out), 7, stride);
  assert.equal(last, g.segmentLength(g.segments - 1));
  const segs: Seg[] = [];
  for (let j = 0; j < g.segments; j++) segs.push({ frame: out.subarray(7 + j * stride, 7 + j * stride + g.segmentLength(j)) });
  return segs;
}

const payloadArb = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });

describe('virtio_net_hdr codec', () => {
  it('round-trips every field, little-endian', () => {
    fc.assert(fc.property(fc.record({ flags: fc.integer({ min: 0, max: 255 }), gsoType: fc.integer({ min: 0, max: 255 }), hdrLen: fc.integer({ min: 0, max: 0xffff }), gsoSize: fc.integer({ min: 0, max: 0xffff }), csumStart: fc.integer({ min: 0, max: 0xffff }), csumOffset: fc.integer({ min: 0, max: 0xffff }) }), (h) => {
      const b = vnet.encode(h);
      assert.equal(b.length, vnet.VNET_HDR_LEN);
      assert.deepEqual(vnet.decode(b), { ...h });
    }));
    assert.deepEqual([...vnet.encode({ flags: 1, gsoType: 1, hdrLen: 66, gsoSize: 1398, csumStart: 34, csumOffset: 16 })], [1, 1, 66, 0, 0x76, 0x05, 34, 0, 16, 0]);
  });
});

describe('checksum helpers', () => {
  it('sum16 folds to the byte-pair reference for any offset and length', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(7), fc.nat(), (bytes, pad, seed) => {
      const b = Buffer.alloc(bytes.length + pad);
      b.set(bytes, pad);
      const start = seed % (bytes.length + 1);
      const len = bytes.length - start;
      assert.equal(fold(sum16(viewOf(b), pad + start, len, 0)), fold(onesSum(b, pad + start, len)));
    }));
  });

  it('completes a NEEDS_CSUM frame (TCP and UDP) to the reference checksum', () => {
    fc.assert(fc.property(payloadArb(2000), fc.boolean(), fc.boolean(), (payload, udp, v6) => {
      const f = frame({ payload, udp, v6 });
      const l4 = 14 + (v6 ? 40 : 20);
      const proto = udp ? 17 : 6;
      const want = refL4Checksum(f, 14, l4, v6, proto);
      // What the kernel leaves for CHECKSUM_PARTIAL: the folded pseudo-header sum.
      const src = v6 ? f.subarray(22, 38) : f.subarray(26, 30);
      const dst = v6 ? f.subarray(38, 54) : f.subarray(30, 34);
      const at = l4 + (udp ? 6 : 16);
      f.writeUInt16BE(fold(pseudoHeaderSum(src, dst, proto, f.length - l4)), at);
      assert.ok(completeChecksum(viewOf(f), 0, f.length, l4, udp ? 6 : 16));
      assert.equal(f.readUInt16BE(at), want);
      assert.ok(l4Valid(f, 14, l4, v6, proto));
    }));
  });

  it('refuses offsets outside the frame', () => {
    const f = frame({ payload: new Uint8Array(10) });
    const dv = viewOf(f);
    assert.equal(completeChecksum(dv, 0, f.length, f.length - 1, 16), false);
    assert.equal(completeChecksum(dv, 0, f.length, 4, 0), false);
    assert.equal(completeChecksum(dv, 0, f.length, 34, 3), false);
  });
});

describe('software GSO (TSO/USO super-frames)', () => {
  it('TCP: every segment is valid, and the segments carry the stream in order', () => {
    fc.assert(fc.property(
      payloadArb(20000), fc.integer({ min: 1, max: 1460 }), fc.boolean(), fc.boolean(), fc.constantFrom(0, 12, 40), fc.constantFrom(ACK, ACK | PSH, ACK | PSH | FIN, ACK | CWR), fc.nat(0xffffffff), fc.nat(0xffff),
      (payload, gso, v6, vlan, optLen, flags, seq, id) => {
        const f = frame({ payload, v6, vlan, optLen, flags, seq, id });
        const l3 = vlan ? 18 : 14;
        const l4 = l3 + (v6 ? 40 : 20);
        const segs = segment(f, v6 ? vnet.GSO_TCPV6 : vnet.GSO_TCPV4, gso, l4);
        assert.equal(segs.length, Math.max(1, Math.ceil(payload.length / gso)));
        const hdr = l4 + 20 + optLen;
        const stream: number[] = [];
        segs.forEach(({ frame: s }, j) => {
          const last = j === segs.length - 1;
          assert.deepEqual(s.subarray(0, l3), f.subarray(0, l3), 'Ethernet header copied');
          if (v6) {
            assert.equal(s.readUInt16BE(l3 + 4), s.length - l3 - 40);
          } else {
            assert.equal(s.readUInt16BE(l3 + 2), s.length - l3);
            assert.equal(s.readUInt16BE(l3 + 4), (id + j) & 0xffff, 'IP id increments');
            assert.equal(internetChecksum(s, l3, 20), 0, 'IPv4 header checksum');
          }
          assert.equal(s.readUInt32BE(l4 + 4), (seq + j * gso) >>> 0, 'sequence number');
          const fl = s[l4 + 13]!;
          assert.equal(fl & (FIN | PSH), last ? flags & (FIN | PSH) : 0, 'FIN/PSH on the last segment only');
          assert.equal(fl & CWR, j === 0 ? flags & CWR : 0, 'CWR on the first segment only');
          assert.deepEqual(s.subarray(l4 + 20, hdr), f.subarray(l4 + 20, hdr), 'options copied');
          assert.ok(l4Valid(s, l3, l4, v6, 6), `TCP checksum of segment ${j}`);
          assert.ok(s.length - hdr <= gso);
          stream.push(...s.subarray(hdr));
        });
        assert.deepEqual(Uint8Array.from(stream), payload);
      }), { numRuns: 150 });
  });

  it('UDP (USO): lengths and checksums per datagram, payload in order', () => {
    fc.assert(fc.property(payloadArb(9000), fc.integer({ min: 1, max: 1472 }), fc.boolean(), (payload, gso, v6) => {
      const f = frame({ payload, v6, udp: true });
      const l4 = 14 + (v6 ? 40 : 20);
      const segs = segment(f, vnet.GSO_UDP_L4, gso, l4);
      const stream: number[] = [];
      for (const { frame: s } of segs) {
        assert.equal(s.readUInt16BE(l4 + 4), s.length - l4, 'UDP length');
        assert.notEqual(s.readUInt16BE(l4 + 6), 0, 'a computed UDP checksum is never 0');
        assert.ok(l4Valid(s, 14, l4, v6, 17));
        if (!v6) assert.equal(internetChecksum(s, 14, 20), 0);
        stream.push(...s.subarray(l4 + 8));
      }
      assert.deepEqual(Uint8Array.from(stream), payload);
    }), { numRuns: 100 });
  });

  it('refuses super-frames that do not match their header', () => {
    const g = new GsoFrame();
    const f = frame({ payload: new Uint8Array(3000) });
    const dv = viewOf(f);
    assert.equal(g.parse(dv, 0, f.length, vnet.GSO_TCPV4, 1000, 34), GSO_OK);
    assert.equal(g.parse(dv, 0, f.length, vnet.GSO_TCPV4, 0, 34), GSO_BAD, 'gso_size 0');
    assert.equal(g.parse(dv, 0, f.length, vnet.GSO_TCPV4, 1000, 30), GSO_BAD, 'csum_start not at L4');
    assert.equal(g.parse(dv, 0, f.length, vnet.GSO_TCPV6, 1000, 34), GSO_BAD, 'family mismatch');
    assert.equal(g.parse(dv, 0, f.length, vnet.GSO_UDP, 1000, 34), GSO_BAD, 'UFO is not offered');
    assert.equal(g.parse(dv, 0, f.length - 1, vnet.GSO_TCPV4, 1000, 34), GSO_BAD, 'IP length disagrees');
    assert.equal(g.parse(dv, 0, 40, vnet.GSO_TCPV4, 1000, 34), GSO_BAD, 'truncated');
    const frag = Buffer.from(f);
    frag.writeUInt16BE(0x2000, 20);
    assert.equal(g.parse(viewOf(frag), 0, frag.length, vnet.GSO_TCPV4, 1000, 34), GSO_BAD, 'a fragment');
    const u = frame({ payload: new Uint8Array(100), udp: true });
    assert.equal(g.parse(viewOf(u), 0, u.length, vnet.GSO_TCPV4, 50, 34), GSO_BAD, 'UDP under a TCP gso_type');
  });
});

/** Feeds frames to a coalescer; returns the written frames as [vnet header, frame]. */
function coalesce(frames: Buffer[], capacity = 16): { hdr: vnet.VnetHeader; frame: Buffer }[] {
  const slot = 65536 + 128;
  const buf = Buffer.alloc(slot * capacity);
  const lengths = new Int32Array(capacity);
  const co = new TcpCoalescer(buf, lengths, slot, capacity);
  const out: { hdr: vnet.VnetHeader; frame: Buffer }[] = [];
  const drain = () => {
    co.finish();
    for (let s = 0; s < co.count; s++) out.push({ hdr: vnet.decode(buf, s * slot), frame: Buffer.from(buf.subarray(s * slot + 10, s * slot + lengths[s]!)) });
    co.reset();
  };
  // Each frame at an odd offset of a bigger buffer, like a slot of the receive batch.
  const src = Buffer.alloc(70000);
  const sdv = viewOf(src);
  for (const f of frames) {
    if (co.full) drain();
    f.copy(src, 9);
    co.add(src, sdv, 9, f.length);
  }
  drain();
  return out;
}

/** A GSO frame from the coalescer, completed as the kernel would, equals the reference super-frame. */
function assertSuperFrame(got: { hdr: vnet.VnetHeader; frame: Buffer }, want: Buffer, gso: number, v6: boolean): void {
  const l4 = 14 + (v6 ? 40 : 20);
  assert.equal(got.hdr.flags, vnet.F_NEEDS_CSUM);
  assert.equal(got.hdr.gsoType, v6 ? vnet.GSO_TCPV6 : vnet.GSO_TCPV4);
  assert.equal(got.hdr.gsoSize, gso);
  assert.equal(got.hdr.csumStart, l4);
  assert.equal(got.hdr.csumOffset, 16);
  assert.equal(got.hdr.hdrLen, l4 + (want[l4 + 12]! >> 4) * 4);
  const f = Buffer.from(got.frame);
  assert.ok(completeChecksum(viewOf(f), 0, f.length, got.hdr.csumStart, got.hdr.csumOffset));
  assert.ok(l4Valid(f, 14, l4, v6, 6), 'completed checksum valid');
  if (!v6) assert.equal(internetChecksum(f, 14, 20), 0, 'IPv4 header checksum');
  const w = Buffer.from(want);
  w.writeUInt16BE(f.readUInt16BE(l4 + 16), l4 + 16);
  assert.deepEqual(f, w);
}

describe('TCP coalescing for TAP writes', () => {
  it('segment then coalesce gives back the super-frame (property)', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 30000 }), fc.integer({ min: 200, max: 1460 }), fc.boolean(), fc.constantFrom(0, 12), fc.constantFrom(ACK, ACK | PSH), fc.nat(0xffffffff),
      (payload, gso, v6, optLen, flags, seq) => {
        const sup = frame({ payload, v6, optLen, flags, seq, complete: true });
        const l4 = 14 + (v6 ? 40 : 20);
        const segs = segment(sup, v6 ? vnet.GSO_TCPV6 : vnet.GSO_TCPV4, gso, l4).map((s) => Buffer.from(s.frame));
        const out = coalesce(segs);
        assert.equal(out.length, 1, 'one frame');
        if (segs.length === 1) {
          assert.equal(out[0]!.hdr.flags, vnet.F_DATA_VALID);
          assert.equal(out[0]!.hdr.gsoType, vnet.GSO_NONE);
          assert.deepEqual(out[0]!.frame, segs[0]);
        } else {
          assertSuperFrame(out[0]!, sup, gso, v6);
        }
      }), { numRuns: 120 });
  });

  const seg = (seq: number, n: number, o: Partial<Spec> = {}) => frame({ payload: new Uint8Array(n).fill(seq & 0xff), seq, complete: true, optLen: 12, ...o });

  it('keeps flows apart and in order when they interleave', () => {
    const a = (k: number) => seg(1000 + k * 100, 100, { sport: 1 });
    const b = (k: number) => seg(5000 + k * 100, 100, { sport: 2 });
    const out = coalesce([a(0), b(0), a(1), b(1), a(2)]);
    assert.equal(out.length, 2);
    assert.equal(out[0]!.frame.readUInt16BE(34), 1);
    assert.equal(out[0]!.frame.length, 66 + 300);
    assert.equal(out[1]!.frame.readUInt16BE(34), 2);
    assert.equal(out[1]!.frame.length, 66 + 200);
  });

  it('does not merge out of order, and never writes a later segment ahead of an earlier one', () => {
    // 1300 would continue 1200, but 1100 arrived between them: merging would write 1300 ahead of 1100.
    const out = coalesce([seg(1000, 100), seg(1200, 100), seg(1100, 100), seg(1300, 100)]);
    assert.deepEqual(out.map((o) => o.frame.readUInt32BE(38)), [1000, 1200, 1100, 1300]);
    assert.ok(out.every((o) => o.frame.length === 66 + 100));
  });

  it('passes a segment with a bad checksum through alone and closes its flow', () => {
    const bad = seg(1100, 100);
    bad[60] ^= 0xff;
    const out = coalesce([seg(1000, 100), bad, seg(1200, 100)]);
    assert.equal(out.length, 3);
    assert.deepEqual(out[1]!.hdr, vnet.decode(new Uint8Array(10)), 'zero header: the kernel verifies it');
    assert.deepEqual(out[1]!.frame, bad);
  });

  it('ends a super-frame at PSH or a short segment, and lets pure ACKs and other traffic through untouched', () => {
    const ackOnly = frame({ payload: new Uint8Array(0), seq: 1, complete: true, sport: 9 });
    const udp = frame({ payload: new Uint8Array(30), udp: true, complete: true });
    const out = coalesce([seg(1000, 100), seg(1100, 100, { flags: ACK | PSH }), seg(1200, 100), seg(1300, 50), seg(1350, 100), ackOnly, udp]);
    assert.deepEqual(out.map((o) => o.frame.length), [66 + 200, 66 + 150, 66 + 100, 54, 72]);
    assert.equal(out[0]!.frame[47]! & PSH, PSH, 'PSH carried to the merged frame');
    assert.deepEqual(out[3]!.frame, ackOnly);
    assert.deepEqual(out[3]!.hdr, vnet.decode(new Uint8Array(10)));
    assert.deepEqual(out[4]!.frame, udp);
  });

  it('does not merge segments whose headers differ (window, ack, TOS)', () => {
    const w = seg(1100, 100);
    w.writeUInt16BE(999, 48);
    w.writeUInt16BE(0, 50);
    w.writeUInt16BE(refL4Checksum(w, 14, 34, false, 6), 50);
    const out = coalesce([seg(1000, 100), w]);
    assert.equal(out.length, 2);
  });

  it('stops at 64 kB of IP packet and starts the next frame', () => {
    const segs: Buffer[] = [];
    for (let k = 0; k < 60; k++) segs.push(seg(1000 + k * 1400, 1400));
    const out = coalesce(segs);
    assert.equal(out.length, 2);
    assert.ok(out[0]!.frame.length - 14 <= 65535);
    assert.equal((out[0]!.frame.length - 66) / 1400 + (out[1]!.frame.length - 66) / 1400, 60);
  });
});
