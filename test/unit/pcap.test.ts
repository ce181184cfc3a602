import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CaptureError } from '../../src/errors.js';
import { type CaptureRecord, splitTimestamp } from '../../src/wire/capture-common.js';
import { CaptureReader, readCapture } from '../../src/wire/capture-reader.js';
import { PcapWriter } from '../../src/wire/pcap.js';
import { PcapngWriter } from '../../src/wire/pcapng.js';

interface Pkt { sec: number; nsec: number; bytes: number[]; ifindex: number; ifname: string; linktype: number; comments: string[] | null; origlen: number }

function collect(bytes: Uint8Array, chunk = bytes.length): { pkts: Pkt[]; warnings: string[]; comments: string[] } {
  const pkts: Pkt[] = [];
  const warnings: string[] = [];
  const comments: string[] = [];
  const reader = new CaptureReader({
    packet: (r: CaptureRecord) => pkts.push({
      sec: r.sec, nsec: r.nsec, bytes: [...r.data.subarray(r.offset, r.offset + r.caplen)], ifindex: r.ifindex,
      ifname: r.ifname, linktype: r.linktype, comments: r.comments, origlen: r.origlen,
    }),
    warning: (w) => warnings.push(w.message),
    comment: (c) => comments.push(c),
  });
  for (let i = 0; i < bytes.length; i += Math.max(1, chunk)) reader.feed(bytes.subarray(i, i + Math.max(1, chunk)));
  reader.end();
  return { pkts, warnings, comments };
}

function gather(write: (sink: (b: Uint8Array) => void) => void): Uint8Array {
  const parts: Buffer[] = [];
  write((b) => parts.push(Buffer.from(b)));
  return Buffer.concat(parts);
}

function pcapFile(le: boolean, nano: boolean, packets: [number, number, number[]][]): Uint8Array {
  return gather((sink) => {
    const w = new PcapWriter(sink, { littleEndian: le, nanosecond: nano, bufferSize: 64 });
    for (const [s, ns, d] of packets) w.packet(s, ns, Uint8Array.from(d));
    w.flush();
  });
}

const sample: [number, number, number[]][] = [
  [1700000000, 123456000, [1, 2, 3, 4, 5]],
  [1700000001, 999999000, Array.from({ length: 100 }, (_, i) => i)],
  [4000000000, 1000, [0xff]],
];

describe('pcap reader', () => {
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      it(`round-trips ${le ? 'little' : 'big'}-endian ${nano ? 'ns' : 'µs'} files, in any chunking`, () => {
        const file = pcapFile(le, nano, sample);
        for (const chunk of [file.length, 1, 3, 17]) {
          const { pkts } = collect(file, chunk);
          assert.equal(pkts.length, 3);
          assert.deepEqual(pkts.map((p) => [p.sec, p.nsec, p.bytes]), sample);
        }
      });
    }
  }

  it('rejects short files and unknown magic (C1)', () => {
    assert.throws(() => collect(Uint8Array.of(0xd4, 0xc3)), { code: 'ERR_WEFT_NOT_A_CAPTURE' });
    assert.throws(() => collect(new Uint8Array(40)), { code: 'ERR_WEFT_NOT_A_CAPTURE' });
    assert.throws(() => collect(pcapFile(true, false, []).subarray(0, 20)), { code: 'ERR_WEFT_NOT_A_CAPTURE' });
  });

  it('rejects versions other than 2.0-2.4 (C3) and reserved link type bits (C4); reads any link type', () => {
    const f = Buffer.from(pcapFile(true, false, []));
    f.writeUInt16LE(3, 4);
    assert.throws(() => collect(f), { code: 'ERR_WEFT_CAPTURE_VERSION' });
    const g = Buffer.from(pcapFile(true, false, []));
    g.writeUInt32LE(0x00010001, 20);
    assert.throws(() => collect(g), (e: CaptureError) => e.code === 'ERR_WEFT_CAPTURE_CORRUPT' && e.offset === 20);
    const h = Buffer.from(pcapFile(true, false, []));
    h.writeUInt32LE(147, 20);
    assert.doesNotThrow(() => collect(h));
  });

  it('treats snaplen 0 or > INT_MAX as the maximum, with a warning (C5)', () => {
    for (const snap of [0, 0x80000000, 0xffffffff]) {
      const f = Buffer.from(pcapFile(true, false, sample));
      f.writeUInt32LE(snap, 16);
      const { pkts, warnings } = collect(f);
      assert.equal(pkts.length, 3);
      assert.match(warnings[0]!, /snaplen/);
    }
  });

  it('errors on a huge caplen with its offset and record, without allocating it (C6)', () => {
    const f = Buffer.from(pcapFile(true, false, sample));
    f.writeUInt32LE(0xffffffff, 24 + 16 + 5 + 8);
    assert.throws(() => collect(f, 7), (e: CaptureError) => e.code === 'ERR_WEFT_CAPTURE_CORRUPT' && e.offset === 24 + 16 + 5 && e.record === 1);
  });

  it('clips caplen > snaplen (C7) and flags caplen > len (C8)', () => {
    const f = Buffer.from(pcapFile(true, false, sample));
    f.writeUInt32LE(50, 16);
    f.writeUInt32LE(1, 24 + 12);
    const { pkts, warnings } = collect(f);
    assert.equal(pkts[1]!.bytes.length, 50);
    assert.equal(pkts[2]!.bytes.length, 1);
    assert.ok(warnings.some((w) => /exceeds snaplen/.test(w)));
    assert.ok(warnings.some((w) => /exceeds original length/.test(w)));
  });

  it('reports a truncated last record after delivering the others (C9)', () => {
    const f = pcapFile(false, true, sample);
    for (const cut of [1, 10, 16]) {
      const seen: number[] = [];
      const r = new CaptureReader({ packet: (p) => seen.push(p.index) });
      r.feed(f.subarray(0, f.length - cut));
      assert.throws(() => r.end(), (e: CaptureError) => e.code === 'ERR_WEFT_CAPTURE_TRUNCATED' && e.record === 2 && e.offset === f.length - 17);
      assert.deepEqual(seen, [0, 1]);
    }
  });
});

function pcapngFile(le: boolean): Uint8Array {
  return gather((sink) => {
    const w = new PcapngWriter(sink, { littleEndian: le, comment: 'made by a test', bufferSize: 1 });
    w.addInterface({ linktype: 1, name: 'eth0' });
    w.addInterface({ linktype: 101, name: 'vx0', tsExponent: 6, snaplen: 64 });
    w.packet(0, 1700000000, 123456789, Uint8Array.of(1, 2, 3), 3, 'first');
    w.packet(1, 1700000001, 5000, new Uint8Array(100).fill(7), 100);
    w.packet(0, 0, 0, new Uint8Array(0));
    w.flush();
  });
}

describe('pcapng reader and writer', () => {
  for (const le of [true, false]) {
    it(`round-trips ${le ? 'little' : 'big'}-endian sections with several interfaces, options and comments`, () => {
      const file = pcapngFile(le);
      for (const chunk of [file.length, 1, 5, 64]) {
        const { pkts, comments } = collect(file, chunk);
        assert.deepEqual(comments, ['made by a test']);
        assert.equal(pkts.length, 3);
        assert.deepEqual(pkts[0], { sec: 1700000000, nsec: 123456789, bytes: [1, 2, 3], ifindex: 0, ifname: 'eth0', linktype: 1, comments: ['first'], origlen: 3 });
        assert.equal(pkts[1]!.ifname, 'vx0');
        assert.equal(pkts[1]!.nsec, 5000);
        assert.equal(pkts[1]!.bytes.length, 64);
        assert.equal(pkts[1]!.origlen, 100);
        assert.equal(pkts[2]!.bytes.length, 0);
      }
    });
  }

  it('skips unknown blocks and resets interfaces on a second section (C12, C16)', () => {
    const a = pcapngFile(true);
    const unknown = Buffer.alloc(16);
    unknown.writeUInt32LE(0x40000bad, 0);
    unknown.writeUInt32LE(16, 4);
    unknown.writeUInt32LE(16, 12);
    const b = gather((sink) => {
      const w = new PcapngWriter(sink, { littleEndian: false });
      w.addInterface({ linktype: 113, name: 'any' });
      w.packet(0, 5, 6, Uint8Array.of(9));
      w.flush();
    });
    const { pkts } = collect(Buffer.concat([a, unknown, b]), 13);
    assert.equal(pkts.length, 4);
    assert.deepEqual([pkts[3]!.linktype, pkts[3]!.ifname, pkts[3]!.sec, pkts[3]!.nsec], [113, 'any', 5, 6]);
  });

  it('rejects bad block lengths with their offsets (C10)', () => {
    const file = Buffer.from(pcapngFile(true));
    const shbLen = file.readUInt32LE(4);
    const idbAt = shbLen;
    for (const [len, re] of [[8, /smaller than 12/], [30, /multiple of 4/], [0x7ffffffc, /exceeds the maximum/], [28, /trailer/]] as const) {
      const f = Buffer.from(file);
      f.writeUInt32LE(len, idbAt + 4);
      assert.throws(() => collect(f), (e: CaptureError) => e.code === 'ERR_WEFT_CAPTURE_CORRUPT' && re.test(e.message) && e.offset >= idbAt);
    }
    const f = Buffer.from(file);
    f.writeUInt32LE(1 << 20, idbAt + 4);
    assert.throws(() => collect(f), { code: 'ERR_WEFT_CAPTURE_TRUNCATED' });
    const g = Buffer.from(file);
    g.writeUInt32LE(2 << 20, 4);
    assert.throws(() => collect(g), /exceeds the maximum of 1048576/);
  });

  it('rejects a packet on a missing interface (C13) and a caplen past its block (C14)', () => {
    const file = Buffer.from(pcapngFile(true));
    const shbLen = file.readUInt32LE(4);
    const idb1 = file.readUInt32LE(shbLen + 4);
    const idb2 = file.readUInt32LE(shbLen + idb1 + 4);
    const epb = shbLen + idb1 + idb2;
    const f = Buffer.from(file);
    f.writeUInt32LE(2, epb + 8);
    assert.throws(() => collect(f), (e: CaptureError) => e.code === 'ERR_WEFT_CAPTURE_CORRUPT' && /interface 2/.test(e.message) && e.offset === epb + 8);
    const g = Buffer.from(file);
    g.writeUInt32LE(1000, epb + 20);
    assert.throws(() => collect(g), (e: CaptureError) => /past the end/.test(e.message) && e.offset === epb + 20);
    const noIdb = Buffer.concat([file.subarray(0, shbLen), file.subarray(epb)]);
    assert.throws(() => collect(noIdb), /interface 0, but the section has 0/);
  });

  it('rejects options past their block and huge if_tsresol (C15)', () => {
    const file = Buffer.from(pcapngFile(true));
    const shbLen = file.readUInt32LE(4);
    // IDB 0 options start at +16: if_name 'eth0' (code 2, len 4).
    const f = Buffer.from(file);
    f.writeUInt16LE(200, shbLen + 16 + 2);
    assert.throws(() => collect(f), /option 2 length 200 runs past/);
    const g = Buffer.from(file);
    // if_tsresol follows if_name (4 + 4 bytes).
    assert.equal(g.readUInt16LE(shbLen + 24), 9);
    g[shbLen + 28] = 0x80 | 70;
    assert.throws(() => collect(g), /if_tsresol exponent 70/);
  });

  it('rejects a first block that is not a section header, and a bad byte-order magic', () => {
    const f = Buffer.from(pcapngFile(true));
    f.writeUInt32LE(0x11223344, 8);
    assert.throws(() => collect(f), { code: 'ERR_WEFT_NOT_A_CAPTURE' });
  });

  it('splits 64-bit timestamps exactly', () => {
    const out = { sec: 0, nsec: 0 };
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 34 }), fc.integer({ min: 0, max: 999_999_999 }), (sec, nsec) => {
      const units = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
      splitTimestamp(Number(units >> 32n), Number(units & 0xffffffffn), 10, 9, out);
      assert.deepEqual(out, { sec, nsec });
      const us = BigInt(sec) * 1_000_000n + BigInt(Math.floor(nsec / 1000));
      splitTimestamp(Number(us >> 32n), Number(us & 0xffffffffn), 10, 6, out);
      assert.deepEqual(out, { sec, nsec: Math.floor(nsec / 1000) * 1000 });
      splitTimestamp(Number(units >> 32n), Number(units & 0xffffffffn), 10, 12, out);
      assert.equal(out.sec, Math.floor(sec / 1000));
    }));
  });

  it('reads EPB timestamps exactly at every decimal resolution, sharing or changing the high word', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 9 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 33 }), fc.integer({ min: 0, max: 999_999_999 })), { minLength: 1, maxLength: 20 }),
      (exponent, times) => {
        // Sorted and clustered like a real capture, so consecutive packets often share the high word.
        const ts = times.map(([s, ns], i) => [i % 3 ? times[0]![0] + i : s, ns] as [number, number]);
        const f = gather((sink) => {
          const w = new PcapngWriter(sink, { bufferSize: 1 << 20 });
          w.addInterface({ linktype: 1, tsExponent: exponent });
          for (const [s, ns] of ts) w.packet(0, s, ns, Uint8Array.of(1));
          w.flush();
        });
        const unit = 10 ** (9 - exponent);
        assert.deepEqual(collect(f).pkts.map((p) => [p.sec, p.nsec]), ts.map(([s, ns]) => [s, Math.floor(ns / unit) * unit]));
      }));
  });

  it('never throws anything but CaptureError and always terminates on mutated files', () => {
    const seeds = [pcapngFile(true), pcapngFile(false), pcapFile(true, true, sample), pcapFile(false, false, sample)];
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }), fc.nat(), fc.integer({ min: 1, max: 64 }),
      (seed, flips, cut, chunk) => {
        const f = Buffer.from(seeds[seed]!);
        for (const [at, v] of flips) f[at % f.length] = v;
        const bytes = f.subarray(0, f.length - (cut % 8 === 0 ? cut % f.length : 0));
        try {
          collect(bytes, chunk);
        } catch (e) {
          assert.ok(e instanceof CaptureError, String(e));
          assert.ok(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset}`);
        }
      }), { numRuns: 500 });
  });

  it('a prefilter only drops records: the same packets, counts, warnings and errors as filtering afterwards', () => {
    // Many small packets, so that runs of rejected records reach the fast path.
    const many = (le: boolean) => gather((sink) => {
      const w = new PcapngWriter(sink, { littleEndian: le, bufferSize: 1 << 16 });
      w.addInterface({ linktype: 1, name: 'eth0', snaplen: 48 });
      w.addInterface({ linktype: 101 });
      for (let i = 0; i < 40; i++) w.packet(i % 7 === 6 ? 1 : 0, 1700000000 + i, i, Uint8Array.from({ length: i % 9 === 0 ? 0 : 20 + i }, (_, j) => (i + j) & 0xff), 60 + i, i % 11 === 10 ? 'kept?' : undefined);
      w.flush();
    });
    const seeds = [many(true), many(false), pcapngFile(true), pcapFile(true, true, sample), pcapFile(false, false, sample.concat(sample, sample))];
    const keep = (b: Uint8Array, o: number, n: number) => (n > 0 && b[o]! % 3 === 0 ? 1 : 0);
    const run = (bytes: Uint8Array, chunk: number, pre: boolean) => {
      const out: string[] = [];
      const reader = new CaptureReader({
        prefilter: pre ? { linktype: 1, keep } : null,
        packet: (r) => {
          if (!pre && r.linktype === 1 && !keep(r.data, r.offset, r.caplen)) return;
          out.push(`${r.index} ${r.sec}.${r.nsec} ${r.ifindex} ${r.origlen} ${r.comments} ${Buffer.from(r.data.subarray(r.offset, r.offset + r.caplen)).toString('hex')}`);
        },
        warning: (w) => out.push(`warning ${w.message} ${w.offset}`),
      });
      try {
        for (let i = 0; i < bytes.length; i += chunk) reader.feed(bytes.subarray(i, i + chunk));
        reader.end();
      } catch (e) {
        assert.ok(e instanceof CaptureError, String(e));
        out.push(`error ${e.code} ${e.message}`);
      }
      out.push(`count ${reader.count}`);
      return out;
    };
    fc.assert(fc.property(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.integer({ min: 1, max: 4096 }),
      (seed, flips, chunk) => {
        const f = Buffer.from(seeds[seed]!);
        for (const [at, v] of flips) f[at % f.length] = v;
        assert.deepEqual(run(f, chunk, true), run(f, chunk, false));
      }), { numRuns: 400 });
    assert.ok(run(seeds[0]!, 4096, true).length > 5);
  });

  it('readCapture reads a whole buffer', () => {
    let n = 0;
    const r = readCapture(pcapngFile(false), { packet: () => n++ });
    assert.equal(n, 3);
    assert.equal(r.format, 'pcapng');
    assert.equal(r.littleEndian, false);
  });
});
