import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bpfToFunction, compileBpf, runBpf } from '../../src/trace/bpf.js';
import { dissect } from '../../src/trace/dissect.js';
import { newFacts } from '../../src/trace/facts.js';
import { FilterSyntaxError } from '../../src/errors.js';
import { matchFilter, parseFilter } from '../../src/trace/filter.js';
import { FollowMatcher } from '../../src/trace/follow.js';
import { summarize } from '../../src/trace/print.js';
import { LLC_OTHER, LLC_STP, llcPayload } from '../../src/wire/llc.js';
import { ieee80211Payload, radiotapHasFcs, radiotapLength } from '../../src/wire/ieee80211.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ipv4 = (proto: number, len: number, src = 'c6120001', dst = 'c6120002', id = '1234') =>
  `4500${len.toString(16).padStart(4, '0')}${id}400040${proto.toString(16).padStart(2, '0')}0000${src}${dst}`;
const ETH = '0200000000020200000000010800';
const FRAMES = {
  icmp: hex(ETH + ipv4(1, 28) + '0800000000070001'),
  dns: hex(ETH + ipv4(17, 57) + 'c350003500250000123401000001000000000000076578616d706c6503636f6d0000010001'),
  tcp: hex(ETH + ipv4(6, 40) + '9c400050000000010000000050027210000000000'.slice(0, 40)),
  arp: hex('ffffffffffff020000000001' + '0806' + '0001080006040001' + '020000000001c6120001' + '000000000000c6120002'),
  vxlan: hex(ETH + ipv4(17, 78) + '9c4012b5003a0000' + '0800000000002a00' + '0a00000000020a0000000001' + '0800' + ipv4(1, 28, 'c6130001', 'c6130002') + '0800000000070001'),
  ip6udp: hex('020000000002020000000001' + '86dd' + '6000000000081140' + 'fd00' + '00'.repeat(13) + '01' + 'fd00' + '00'.repeat(13) + '02' + '3039003500080000'),
};

function facts(name: keyof typeof FRAMES) {
  const f = newFacts();
  const b = FRAMES[name];
  dissect(f, b, 0, b.length, 1, b.length);
  return f;
}

describe('trace filter expressions', () => {
  const cases: [string, (keyof typeof FRAMES)[]][] = [
    ['icmp', ['icmp']],
    ['udp and port 53', ['dns']],
    ['tcp or arp', ['tcp', 'arp']],
    ['host 198.18.0.2 and not udp', ['icmp', 'tcp', 'arp']],
    ['src host 198.18.0.1 && dst port 80', ['tcp']],
    ['net 198.18.0.0/16 and (icmp or vxlan)', ['icmp', 'vxlan']],
    ['vni 42', ['vxlan']],
    ['inner icmp', ['vxlan']],
    ['inner host 198.19.0.2 and vni 42', ['vxlan']],
    ['inner (icmp and src 198.19.0.1)', ['vxlan']],
    ['! ip', ['arp']],
    ['proto 17', ['dns', 'vxlan']],
  ];
  for (const [expr, want] of cases) {
    it(`'${expr}' matches ${want.join(', ')}`, () => {
      const f = parseFilter(expr);
      const got = (['icmp', 'dns', 'tcp', 'arp', 'vxlan'] as const).filter((n) => matchFilter(f, facts(n)));
      assert.deepEqual(got, want);
    });
  }

  it('points at the column of a bad expression', () => {
    const bad: [string, number, RegExp][] = [
      ['host 1.2.3.4 and (port', 23, /port number/],
      ['tcp foo', 5, /expected 'and' or 'or'/],
      ['tcp[13', 7, /expected '\]'/],
      ['tcp[13] & 2', 12, /expected a comparison/],
      ['ip[8:3] < 5', 6, /load size/],
      ['net 10.0.0.0 mask 255.0.255.0', 19, /contiguous netmask/],
      ['vlan 5000', 6, /VLAN ID/],
      ['host nothere', 6, /not an IPv4/],
      ['(icmp', 6, /missing '\)'/],
      ['icmp )', 6, /unexpected '\)'/],
      ['vni 99999999', 5, /VNI/],
      ['net 10.0.0.0/33', 5, /prefix/],
      ['icmp $', 6, /unexpected character/],
      ['bogus', 1, /unknown filter term/],
    ];
    for (const [expr, column, re] of bad) {
      assert.throws(() => parseFilter(expr), (e: FilterSyntaxError) => e.code === 'ERR_WEFT_FILTER_SYNTAX' && e.column === column && re.test(e.message), expr);
    }
    assert.throws(() => parseFilter('('.repeat(500) + 'icmp' + ')'.repeat(500)), /nested too deeply/);
  });

  it('the kernel program never rejects what the userspace filter accepts', () => {
    const exprs = ['icmp', 'udp and port 53', 'tcp or arp', 'host 198.18.0.2 and not udp', 'src host 198.18.0.1 && dst port 80',
      'net 198.18.0.0/16 and (icmp or vxlan)', 'vni 42', 'inner icmp', 'not inner icmp', 'not (vni 42 or tcp)', '! ip', 'proto 17', 'ip6 or port 12345', 'host fd00::1'];
    for (const e of exprs) {
      const f = parseFilter(e);
      const prog = compileBpf(f);
      for (const name of Object.keys(FRAMES) as (keyof typeof FRAMES)[]) {
        const pass = prog ? runBpf(prog, FRAMES[name]) > 0 : true;
        if (matchFilter(f, facts(name))) assert.ok(pass, `${e} on ${name}: kernel rejects a match`);
      }
    }
    // Exact where fully compilable.
    const p = compileBpf(parseFilter('udp and port 53'))!;
    assert.equal(runBpf(p, FRAMES.tcp), 0);
    assert.ok(runBpf(p, FRAMES.dns) > 0);
    assert.equal(compileBpf(parseFilter('inner icmp')), undefined);
  });

  it('looks through VLAN tags like dissect, and bpfToFunction runs the program as the kernel would', () => {
    const tag = (frame: Buffer, tpids: string[]) => Buffer.concat([frame.subarray(0, 12), ...tpids.map((t, i) => hex(`${t}00${(100 + i).toString(16)}`)), frame.subarray(12)]);
    const variants: [string, Buffer][] = [];
    for (const [name, frame] of Object.entries(FRAMES)) {
      variants.push([name, frame], [`${name}/vlan`, tag(frame, ['8100'])], [`${name}/qinq`, tag(frame, ['88a8', '8100'])], [`${name}/9tags`, tag(frame, Array(9).fill('8100'))]);
    }
    const exprs = ['host 198.18.0.2', 'udp and port 53', 'icmp or arp', 'not tcp', 'ip6 and udp', 'ether host 02:00:00:00:00:01', 'greater 60', 'vlan 100 and icmp'];
    for (const e of exprs) {
      const f = parseFilter(e);
      const prog = compileBpf(f)!;
      const fn = bpfToFunction(prog);
      for (const [name, b] of variants) {
        const x = newFacts();
        dissect(x, b, 0, b.length, 1, b.length);
        const kernel = runBpf(prog, b);
        assert.equal(fn(b, 0, b.length, b.length), kernel, `${e} on ${name}`);
        if (matchFilter(f, x)) assert.ok(kernel > 0, `${e} on ${name}: rejects a match`);
        // Behind up to 8 tags the program is exact for what it fully expresses.
        if (e !== 'vlan 100 and icmp' && !name.endsWith('9tags')) assert.equal(kernel > 0, matchFilter(f, x), `${e} on ${name}`);
      }
    }
  });

  it('parses and evaluates random token soup without throwing anything but FilterSyntaxError', () => {
    const words = ['host', 'net', 'port', 'src', 'dst', 'and', 'or', 'not', '(', ')', 'inner', 'vni', '42', '198.18.0.1', 'icmp', 'udp', '!', '&&', '||', '10.0.0.0/8', 'proto', 'tcp', '::1'];
    fc.assert(fc.property(fc.array(fc.constantFrom(...words), { maxLength: 12 }), (toks) => {
      try {
        const f = parseFilter(toks.join(' '));
        for (const n of Object.keys(FRAMES) as (keyof typeof FRAMES)[]) matchFilter(f, facts(n));
        const prog = compileBpf(f);
        if (prog) for (const n of Object.keys(FRAMES) as (keyof typeof FRAMES)[]) {
          if (matchFilter(f, facts(n))) assert.ok(runBpf(prog, FRAMES[n]) > 0, toks.join(' '));
        }
      } catch (e) {
        if (!(e instanceof FilterSyntaxError)) throw e;
      }
    }), { numRuns: 2000 });
  });
});

describe('trace printing', () => {
  it('summarises every layer, VXLAN recursively, DNS by question', () => {
    assert.equal(summarize(facts('vxlan')),
      '02:00:00:00:00:01 > 02:00:00:00:00:02, IP 198.18.0.1.40000 > 198.18.0.2.4789: VXLAN, flags [I] (0x08), vni 42: 0a:00:00:00:00:01 > 0a:00:00:00:00:02, IP 198.19.0.1 > 198.19.0.2: ICMP echo request, id 7, seq 1, length 8');
    assert.match(summarize(facts('dns')), /IP 198\.18\.0\.1\.50000 > 198\.18\.0\.2\.53: 4660\+ A\? example\.com\. \(29\)$/);
    assert.match(summarize(facts('arp')), /ARP, Request who-has 198\.18\.0\.2 tell 198\.18\.0\.1/);
    assert.match(summarize(facts('tcp')), /Flags \[S\], seq 1, win 29200, length 0$/);
  });

  it('never throws on truncated or random frames', () => {
    const f = newFacts();
    fc.assert(fc.property(fc.constantFrom(...Object.values(FRAMES)), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.constantFrom(0, 1, 9, 101, 105, 108, 113, 127, 147, 276),
      (frame, cut, flips, lt) => {
        const b = Buffer.from(frame);
        for (const [at, v] of flips) b[at % b.length] = v;
        const end = cut % (b.length + 1);
        dissect(f, b, 0, end, lt, end);
        summarize(f);
      }), { numRuns: 3000 });
  });
});

describe('trace follow matcher', () => {
  const at = (hop: number, m: FollowMatcher, name: keyof typeof FRAMES, usec: number) => m.observe(hop, facts(name), 100, usec * 1000);

  it('matches the inner packet across plain and VXLAN hops and reports a drop', () => {
    const m = new FollowMatcher(['ep1', 'vtep1', 'vtep2', 'ep2']);
    // The inner ICMP of the VXLAN frame is 198.19.0.1 > .2; a plain copy of it:
    const plain = hex(ETH + ipv4(1, 28, 'c6130001', 'c6130002') + '0800000000070001');
    const fp = newFacts();
    dissect(fp, plain, 0, plain.length, 1, plain.length);
    m.observe(0, fp, 100, 0);
    at(1, m, 'vxlan', 5);
    at(2, m, 'vxlan', 9);
    m.observe(3, fp, 100, 12000);
    // The plain ICMP 198.18.0.1 > .2 only reaches the first VTEP.
    at(0, m, 'icmp', 20);
    at(1, m, 'icmp', 21);
    const [delivered, dropped] = m.report();
    assert.equal(delivered!.delivered, true);
    assert.deepEqual(delivered!.seen.map((s) => [s.hop, s.deltaUs, s.vni]), [['ep1', 0, undefined], ['vtep1', 5, 42], ['vtep2', 9, 42], ['ep2', 12, undefined]]);
    assert.equal(dropped!.delivered, false);
    assert.equal(dropped!.droppedAfter, 'vtep1');
    assert.deepEqual(dropped!.missing, ['vtep2', 'ep2']);
  });

  it('follows replies backwards', () => {
    const m = new FollowMatcher(['a', 'b', 'c']);
    at(2, m, 'tcp', 1);
    at(1, m, 'tcp', 2);
    const [r] = m.report();
    assert.equal(r!.direction, 'reverse');
    assert.equal(r!.droppedAfter, 'b');
    assert.deepEqual(r!.missing, ['a']);
  });

  it('with a limit (-c N) takes only the first N packets and is done once each crossed every hop', () => {
    const m = new FollowMatcher(['a', 'b'], { limit: 1 });
    assert.equal(at(0, m, 'icmp', 1), true);
    assert.equal(m.done, false);
    assert.equal(at(0, m, 'tcp', 2), false, 'a second distinct packet is ignored');
    at(1, m, 'icmp', 3);
    assert.equal(m.done, true);
    assert.deepEqual(m.report().map((r) => r.delivered), [true]);
    assert.equal(new FollowMatcher(['a', 'b']).done, false);
  });
});

describe('link-layer decoders (LLC, 802.11, radiotap)', () => {
  it('stay inside the bytes they are given, whatever the bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(40), (bytes, start) => {
      const o = Math.min(start, bytes.length);
      const end = bytes.length;
      const l = llcPayload(bytes, o, end);
      assert.ok(l === LLC_OTHER || l === LLC_STP || (l >= o + 8 && l <= end));
      const w = ieee80211Payload(bytes, o, end);
      assert.ok(w === -1 || (w > o && w <= end));
      const r = radiotapLength(bytes, o, end);
      assert.ok(r === -1 || (r >= 8 && o + r <= end));
      radiotapHasFcs(bytes, o, end);
    }), { numRuns: 5000 });
  });

  it('find the EtherType behind SNAP and 802.11 data headers', () => {
    const snap = Uint8Array.from([0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00, 0x45]);
    assert.equal(llcPayload(snap, 0, snap.length), 8);
    assert.equal(llcPayload(Uint8Array.from([0x42, 0x42, 3]), 0, 3), LLC_STP);
    const qos4addr = Uint8Array.from([0x88, 0x03, ...new Array<number>(30).fill(0), ...snap]);
    assert.equal(ieee80211Payload(qos4addr, 0, qos4addr.length), 32 + 8);
    const rt = Uint8Array.from([0, 0, 9, 0, 0x02, 0, 0, 0, 0x10]);
    assert.equal(radiotapLength(rt, 0, rt.length), 9);
    assert.equal(radiotapHasFcs(rt, 0, rt.length), true);
  });
});
