/**
 * The filtered read's prefilter: the BPF program judges SNAP-encapsulated
 * IP as dissect decodes it, and the native addon's form (native/bpf-scan.c:
 * the program and the skip loop over pcap/pcapng records) drops exactly
 * what the JavaScript form drops.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nativeBpf } from '../../src/io/bpf-scan.js';
import { bpfToFunction, compileBpf, encodeBpf, runBpf } from '../../src/trace/bpf.js';
import { dissect } from '../../src/trace/dissect.js';
import { newFacts } from '../../src/trace/facts.js';
import { CaptureError, FilterSyntaxError } from '../../src/errors.js';
import { matchFilter, parseFilter } from '../../src/trace/filter.js';
import { prefilter } from '../../src/trace/read.js';
import { CaptureReader } from '../../src/wire/capture-reader.js';
import { PcapWriter } from '../../src/wire/pcap.js';
import { PcapngWriter } from '../../src/wire/pcapng.js';
import { FILTER_EXTRA, GOLDEN } from './trace-packets.js';

const ethernet = [...GOLDEN, ...FILTER_EXTRA].filter((p) => (p.linktype ?? 1) === 1).map((p) => Buffer.from(p.data.slice(0, p.caplen ?? p.data.length)));
const EXPRS = ['host 198.18.0.2', 'udp and port 53', 'icmp or arp', 'not tcp', 'ip6 and udp', 'ether host 02:00:00:00:00:01', 'greater 60',
  'net 198.18.0.0/16 and not port 22', 'ether proto 0x0800', 'ip proto 17', 'tcp[tcpflags] & tcp-syn != 0 or icmp6', 'arp host 198.18.0.1'];

/** The frame's EtherType and payload behind 802.3 + LLC/SNAP with `oui`; optional VLAN tag in front. */
function snap(frame: Buffer, oui = [0, 0, 0], tagged = false): Buffer {
  const payload = frame.subarray(14);
  const llc = Buffer.from([0xaa, 0xaa, 0x03, ...oui, frame[12]!, frame[13]!]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(llc.length + payload.length);
  return Buffer.concat([frame.subarray(0, 12), tagged ? Buffer.from([0x81, 0x00, 0x00, 0x64]) : Buffer.alloc(0), len, llc, payload]);
}

function matches(expr: string, b: Buffer, caplen = b.length): boolean {
  const f = newFacts();
  dissect(f, b, 0, caplen, 1, b.length);
  return matchFilter(parseFilter(expr), f);
}

const native = nativeBpf(new Uint8Array(8));
const skipNative = native ? false : 'the native addon is not built (npm run build)';

describe('trace prefilter', () => {
  it('judges SNAP-encapsulated IPv4, IPv6 and ARP as dissect does, plain and behind a VLAN tag', () => {
    for (const e of EXPRS) {
      const prog = compileBpf(parseFilter(e));
      if (!prog) continue;
      const fn = bpfToFunction(prog);
      for (const [i, frame] of ethernet.entries()) {
        if (frame.length < 14 || frame.readUInt16BE(12) < 0x600) continue;
        for (const [kind, b] of [['snap', snap(frame)], ['snap-f8', snap(frame, [0, 0, 0xf8])], ['snap-vlan', snap(frame, [0, 0, 0], true)],
          ['snap-other-oui', snap(frame, [0, 0, 0x0c])]] as const) {
          const kernel = runBpf(prog, b);
          assert.equal(fn(b, 0, b.length, b.length), kernel, `${e} on ${kind} ${i}`);
          const m = matches(e, b);
          if (m) assert.ok(kernel > 0, `${e} on ${kind} ${i}: rejects a match`);
          // Behind SNAP the program decides as it does on the plain frame (and so does the exact filter).
          const plain = frame.readUInt16BE(12);
          if (kind !== 'snap-other-oui' && !/greater|less/.test(e) && (plain === 0x0800 || plain === 0x86dd || plain === 0x0806)) {
            assert.equal(kernel > 0, runBpf(prog, frame) > 0, `${e} on ${kind} ${i}: not as on the plain frame`);
            assert.equal(m, matches(e, frame), `${e} on ${kind} ${i}: dissect differs`);
          }
          // Cut inside the SNAP header or the IP header: kept for the exact filter, never wrongly dropped
          // (under `not`, a header cut short is the exception src/trace/bpf.ts names).
          if (!e.includes('not')) for (const cut of [16, 21, 24, 30]) {
            if (matches(e, b, cut)) assert.ok(fn(b, 0, Math.min(cut, b.length), b.length) > 0, `${e} on ${kind} ${i} cut at ${cut}`);
          }
        }
      }
    }
  });

  it('runs the program in the addon as bpfToFunction does', { skip: skipNative }, () => {
    const programs = EXPRS.map((e) => compileBpf(parseFilter(e))).filter((p) => p !== undefined)
      .map((p) => ({ js: bpfToFunction(p), c: nativeBpf(encodeBpf(p))!.keep }));
    fc.assert(fc.property(fc.integer({ min: 0, max: programs.length - 1 }), fc.integer({ min: 0, max: ethernet.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat(200), fc.boolean(), (p, f, flips, cut, wrap) => {
        const frame = Buffer.from(wrap ? snap(ethernet[f]!) : ethernet[f]!);
        for (const [at, v] of flips) frame[at % frame.length] = v;
        const n = Math.min(cut, frame.length);
        assert.equal(programs[p]!.c(frame, 0, n, frame.length), programs[p]!.js(frame, 0, n, frame.length));
      }), { numRuns: 3000 });
  });

  it('skips in the addon exactly the records the JavaScript parsers skip: same packets, counts, warnings and errors', { skip: skipNative }, () => {
    const pcapng = (le: boolean) => {
      const parts: Buffer[] = [];
      const w = new PcapngWriter((b) => parts.push(Buffer.from(b)), { littleEndian: le, bufferSize: 1 << 16 });
      w.addInterface({ linktype: 1, name: 'eth0', snaplen: 96 });
      w.addInterface({ linktype: 101 });
      w.addInterface({ linktype: 1, name: 'eth1' });
      for (let i = 0; i < 200; i++) {
        const f = ethernet[i % ethernet.length]!;
        const iface = i % 13 === 12 ? 1 : i % 5 === 4 ? 2 : 0;
        const data = iface === 0 ? f.subarray(0, 96) : f;
        w.packet(iface, 1700000000 + i, i, data, f.length, i % 37 === 36 ? 'note' : undefined);
      }
      w.flush();
      return Buffer.concat(parts);
    };
    const pcap = (le: boolean, nano: boolean) => {
      const parts: Buffer[] = [];
      const w = new PcapWriter((b) => parts.push(Buffer.from(b)), { littleEndian: le, nanosecond: nano, bufferSize: 1 << 16 });
      for (let i = 0; i < 200; i++) w.packet(1700000000 + i, i, ethernet[i % ethernet.length]!);
      w.flush();
      return Buffer.concat(parts);
    };
    const seeds = [pcapng(true), pcapng(false), pcap(true, false), pcap(false, true)];
    const read = (bytes: Uint8Array, chunk: number, expr: string, useNative: boolean) => {
      const out: string[] = [];
      const pre = prefilter(parseFilter(expr), { native: useNative });
      if (pre) assert.equal(pre.scan !== undefined, useNative, 'the native scanner is used exactly when asked for');
      const reader = new CaptureReader({
        prefilter: pre,
        packet: (r) => out.push(`${r.index} ${r.sec}.${r.nsec} ${r.ifindex} ${r.origlen} ${r.comments} ${Buffer.from(r.data.subarray(r.offset, r.offset + r.caplen)).toString('hex')}`),
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
    fc.assert(fc.property(fc.integer({ min: 0, max: seeds.length - 1 }), fc.constantFrom(...EXPRS), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
      fc.integer({ min: 1, max: 1 << 16 }), (seed, expr, flips, chunk) => {
        const f = Buffer.from(seeds[seed]!);
        for (const [at, v] of flips) f[at % f.length] = v;
        assert.deepEqual(read(f, chunk, expr, true), read(f, chunk, expr, false));
      }), { numRuns: 100 });
    // The runs are long enough to reach the skip loop, and some packets are kept.
    const kept = read(seeds[0]!, 1 << 16, 'udp and port 53', true);
    assert.ok(kept.length > 10 && kept.length < 200, `${kept.length} lines`);
  });

  it('rejects malformed arguments with a type error instead of reading out of bounds', { skip: skipNative }, () => {
    const prog = encodeBpf(compileBpf(parseFilter('udp'))!);
    const { keep } = nativeBpf(prog)!;
    const b = new Uint8Array(64);
    assert.throws(() => keep(b, 60, 10, 70), /EINVALARG|bpfRun/);
    assert.throws(() => keep(b, 65, 0, 70), /EINVALARG|bpfRun/);
    assert.equal(typeof keep(b, 64, 0, 70), 'number');
  });

  it('parses random filters and gets the same verdict from the addon', { skip: skipNative }, () => {
    const words = ['host', 'net', 'port', 'src', 'dst', 'and', 'or', 'not', '(', ')', 'vlan', '100', 'ether', 'proto', '198.18.0.1', 'icmp', 'udp',
      'tcp', 'ip6', 'arp', 'less', 'greater', '80', '10.0.0.0/8', 'fd00::2', '02:00:00:00:00:01', 'portrange', '1-1000'];
    fc.assert(fc.property(fc.array(fc.constantFrom(...words), { maxLength: 10 }), fc.integer({ min: 0, max: ethernet.length - 1 }), fc.boolean(), (toks, f, wrap) => {
      let prog;
      try {
        prog = compileBpf(parseFilter(toks.join(' ')));
      } catch (e) {
        if (e instanceof FilterSyntaxError) return;
        throw e;
      }
      if (!prog) return;
      const frame = wrap ? snap(ethernet[f]!) : ethernet[f]!;
      assert.equal(nativeBpf(encodeBpf(prog))!.keep(frame, 0, frame.length, frame.length), bpfToFunction(prog)(frame, 0, frame.length, frame.length), toks.join(' '));
    }), { numRuns: 1000 });
  });
});
