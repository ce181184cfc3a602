/**
 * The proxy ARP / NDP engine (pure): golden reply bytes (A8), answers only
 * for owned addresses (A2), malformed input dropped and counted (A1),
 * spoofed senders, gratuitous and self queries (A3-A5), DAD probes (A6),
 * the rate limit driven by an explicit clock (A7), deletions (A9), and
 * announcements when an endpoint moves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CONSUMED, NOT_NEIGHBOUR, ProxyNeighbourTable, ProxyResponder, TokenBucket } from '../../src/dataplane/proxy-arp.js';
import { foldChecksum, macBytes, onesSum } from '../../src/wire/bytes.js';
import { ipv6Bytes } from '../../src/wire/ip.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const OWNER = '02:42:c6:13:00:05';
const ASKER = '02:42:c6:13:00:01';

// who-has 198.19.0.5 tell 198.19.0.1, from 02:42:c6:13:00:01
function arpRequest(opts: { tip?: string; sip?: string; sha?: string; op?: number; htype?: number } = {}): Buffer {
  const f = hex(`ffffffffffff 0242c6130001 0806 0001 0800 06 04 0001 0242c6130001 c6130001 000000000000 c6130005`);
  if (opts.sha) {
    f.set(macBytes(opts.sha), 6);
    f.set(macBytes(opts.sha), 22);
  }
  if (opts.sip) f.set(opts.sip.split('.').map(Number), 28);
  if (opts.tip) f.set(opts.tip.split('.').map(Number), 38);
  if (opts.op !== undefined) f.writeUInt16BE(opts.op, 20);
  if (opts.htype !== undefined) f.writeUInt16BE(opts.htype, 14);
  return f;
}

/** An NS for `target` from `src` (with a source link-layer option), correct checksum. */
function neighborSolicitation(target: string, src = 'fe80::1', opts: { sllao?: boolean; hopLimit?: number; badChecksum?: boolean } = {}): Buffer {
  const withOpt = opts.sllao ?? true;
  const icmpLen = 24 + (withOpt ? 8 : 0);
  const f = Buffer.alloc(14 + 40 + icmpLen);
  f.set(hex('3333ff000005 0242c6130001 86dd'), 0);
  f[14] = 0x60;
  f.writeUInt16BE(icmpLen, 18);
  f[20] = 58;
  f[21] = opts.hopLimit ?? 255;
  f.set(ipv6Bytes(src), 22);
  f.set(ipv6Bytes('ff02::1:ff00:5'), 38);
  f[54] = 135;
  f.set(ipv6Bytes(target), 62);
  if (withOpt) {
    f[78] = 1;
    f[79] = 1;
    f.set(macBytes(ASKER), 80);
  }
  const sum = onesSum(f, 54, icmpLen, onesSum(f, 38, 16, onesSum(f, 22, 16)) + 58 + icmpLen);
  f.writeUInt16BE(foldChecksum(sum) ^ (opts.badChecksum ? 1 : 0), 56);
  return f;
}

function responder(rate = 1000, burst = 100): ProxyResponder {
  const t = new ProxyNeighbourTable();
  t.set('198.19.0.5', OWNER);
  t.set('198.19.0.1', ASKER);
  t.set('fd00::5', OWNER);
  return new ProxyResponder(t, { ratePerSecond: rate, burst });
}

describe('proxy ARP', () => {
  it('answers an owned address with the golden reply (A8)', () => {
    const r = responder();
    const out = Buffer.alloc(128, 0xa5);
    const f = arpRequest();
    const n = r.handle(f, 0, f.length, 0, out, 0);
    assert.equal(n, 42);
    assert.deepEqual(out.subarray(0, n), hex(`0242c6130001 0242c6130005 0806 0001 0800 06 04 0002 0242c6130005 c6130005 0242c6130001 c6130001`));
    assert.equal(out[42], 0xa5, 'nothing written past the reply');
    assert.equal(r.counters.arp_replies, 1);
  });

  it('never answers for an address it does not own (A2), and forgets deleted ones (A9)', () => {
    const r = responder();
    const out = Buffer.alloc(128);
    const f = arpRequest({ tip: '198.19.0.9' });
    assert.equal(r.handle(f, 0, f.length, 0, out, 0), CONSUMED);
    assert.equal(r.counters.not_owned, 1);
    r.table.delete('198.19.0.5');
    const g = arpRequest();
    assert.equal(r.handle(g, 0, g.length, 0, out, 0), CONSUMED);
    assert.equal(r.counters.not_owned, 2);
  });

  it('drops and counts malformed ARP (A1) and replies (A4)', () => {
    const r = responder();
    const out = Buffer.alloc(128);
    const cases: [Buffer, string][] = [
      [arpRequest().subarray(0, 30), 'malformed'],
      [arpRequest({ htype: 6 }), 'malformed'],
      [arpRequest({ op: 7 }), 'malformed'],
      [arpRequest({ op: 2 }), 'not_request'],
      [arpRequest({ tip: '224.0.0.1' }), 'bad_target'],
      [arpRequest({ tip: '127.0.0.1' }), 'bad_target'],
      [arpRequest({ sha: '01:00:5e:00:00:01' }), 'invalid_src_mac'],
    ];
    for (const [f, reason] of cases) {
      const before = (r.counters as Record<string, number>)[reason]!;
      assert.equal(r.handle(f, 0, f.length, 0, out, 0), CONSUMED, reason);
      assert.equal((r.counters as Record<string, number>)[reason], before + 1, reason);
    }
    assert.equal(r.counters.arp_replies, 0);
  });

  it('ignores gratuitous requests and the owner asking for itself (A4, A5)', () => {
    const r = responder();
    const out = Buffer.alloc(128);
    const garp = arpRequest({ sip: '198.19.0.5', sha: '02:00:00:00:00:66' });
    assert.equal(r.handle(garp, 0, garp.length, 0, out, 0), CONSUMED);
    assert.equal(r.counters.gratuitous_ignored, 1);
    const self = arpRequest({ sha: OWNER, sip: '0.0.0.0' });
    assert.equal(r.handle(self, 0, self.length, 0, out, 0), CONSUMED);
    assert.equal(r.counters.self_query, 1);
  });

  it('counts a spoofed sender, answers only for its own target, changes no state (A3)', () => {
    const r = responder();
    const before = r.table.entries();
    const out = Buffer.alloc(128);
    // Claims 198.19.0.1 (owned by ASKER) from another MAC.
    const f = arpRequest({ sha: '02:00:00:00:00:66' });
    assert.equal(r.handle(f, 0, f.length, 0, out, 0), 42);
    assert.equal(r.counters.spoofed_sender, 1);
    assert.deepEqual(out.subarray(0, 6), Buffer.from(macBytes('02:00:00:00:00:66')));
    assert.deepEqual(r.table.entries(), before);
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) to signal the conflict, without state change (A6)', () => {
    const r = responder();
    const out = Buffer.alloc(128);
    const f = arpRequest({ sip: '0.0.0.0', sha: '02:00:00:00:00:77' });
    assert.equal(r.handle(f, 0, f.length, 0, out, 0), 42);
    assert.deepEqual(out.subarray(38, 42), Buffer.from([0, 0, 0, 0]));
  });

  it('rate-limits with the clock it is given (A7)', () => {
    const r = responder(10, 5);
    const out = Buffer.alloc(128);
    const f = arpRequest();
    let replies = 0;
    for (let i = 0; i < 100; i++) if (r.handle(f, 0, f.length, 1000, out, 0) > 0) replies++;
    assert.equal(replies, 5);
    assert.equal(r.counters.rate_limited, 95);
    // One second later, ten more tokens (capped at the burst of 5).
    for (let i = 0; i < 100; i++) if (r.handle(f, 0, f.length, 2000, out, 0) > 0) replies++;
    assert.equal(replies, 10);
  });

  it('passes anything else through', () => {
    const r = responder();
    const ip = hex('0242c6130005 0242c6130001 0800 4500001c');
    assert.equal(r.handle(ip, 0, ip.length, 0, Buffer.alloc(128), 0), NOT_NEIGHBOUR);
    assert.equal(r.handle(ip, 0, 10, 0, Buffer.alloc(128), 0), NOT_NEIGHBOUR);
  });

  it('never answers for an address missing from a random table (property)', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 250 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 250 }), (owned, asked) => {
      const t = new ProxyNeighbourTable();
      for (const o of owned) t.set(`198.19.2.${o}`, `02:00:00:00:02:${o.toString(16).padStart(2, '0')}`);
      const r = new ProxyResponder(t);
      const f = arpRequest({ tip: `198.19.2.${asked}` });
      const out = Buffer.alloc(128);
      const n = r.handle(f, 0, f.length, 0, out, 0);
      if (!owned.includes(asked)) return n === CONSUMED;
      return n === 42 && out.subarray(6, 12).equals(macBytes(`02:00:00:00:02:${asked.toString(16).padStart(2, '0')}`));
    }));
  });
});

describe('NDP proxy', () => {
  it('answers an NS for an owned address with a solicited NA carrying the owner MAC', () => {
    const r = responder();
    const out = Buffer.alloc(128, 0xa5);
    const f = neighborSolicitation('fd00::5');
    const n = r.handle(f, 0, f.length, 0, out, 0);
    assert.equal(n, 86);
    assert.deepEqual(out.subarray(0, 14), hex('0242c6130001 0242c6130005 86dd'));
    assert.deepEqual(out.subarray(22, 38), Buffer.from(ipv6Bytes('fd00::5')), 'source = target');
    assert.deepEqual(out.subarray(38, 54), Buffer.from(ipv6Bytes('fe80::1')), 'destination = soliciting node');
    assert.equal(out[21], 255);
    assert.equal(out[54], 136);
    assert.equal(out[58], 0x60, 'S and O set, R clear');
    assert.deepEqual(out.subarray(78, 86), hex('02 01 0242c6130005'));
    const sum = onesSum(out, 54, 32, onesSum(out, 38, 16, onesSum(out, 22, 16)) + 58 + 32);
    assert.equal(foldChecksum(sum), 0, 'valid ICMPv6 checksum');
  });

  it('drops unknown targets, bad checksums, bad hop limits, and answers DAD to all-nodes', () => {
    const r = responder();
    const out = Buffer.alloc(128);
    const unknown = neighborSolicitation('fd00::9');
    assert.equal(r.handle(unknown, 0, unknown.length, 0, out, 0), CONSUMED);
    assert.equal(r.counters.not_owned, 1);
    const bad = neighborSolicitation('fd00::5', 'fe80::1', { badChecksum: true });
    assert.equal(r.handle(bad, 0, bad.length, 0, out, 0), CONSUMED);
    assert.equal(r.counters.bad_checksum, 1);
    const hop = neighborSolicitation('fd00::5', 'fe80::1', { hopLimit: 64 });
    assert.equal(r.handle(hop, 0, hop.length, 0, out, 0), CONSUMED);
    assert.equal(r.counters.malformed, 1);
    const dad = neighborSolicitation('fd00::5', '::', { sllao: false });
    assert.equal(r.handle(dad, 0, dad.length, 0, out, 0), 86);
    assert.deepEqual(out.subarray(0, 6), hex('333300000001'));
    assert.deepEqual(out.subarray(38, 54), Buffer.from(ipv6Bytes('ff02::1')));
    assert.equal(out[58], 0x20, 'S clear for DAD');
  });
});

describe('announcements', () => {
  it('reports moves and builds a gratuitous ARP and an unsolicited NA', () => {
    const t = new ProxyNeighbourTable();
    assert.equal(t.set('198.19.0.5', OWNER), 'added');
    assert.equal(t.set('198.19.0.5', OWNER), 'unchanged');
    assert.equal(t.set('198.19.0.5', '02:42:c6:13:00:06'), 'moved');
    assert.equal(t.set('fd00::5', OWNER), 'added');
    assert.equal(t.set('fd00::5', '02:42:c6:13:00:06'), 'moved');
    const r = new ProxyResponder(t);
    const out = Buffer.alloc(128);
    assert.equal(r.announce('198.19.0.5', out), 42);
    assert.deepEqual(out.subarray(0, 42), hex('ffffffffffff 0242c6130006 0806 0001 0800 06 04 0001 0242c6130006 c6130005 000000000000 c6130005'));
    assert.equal(r.announce('fd00::5', out), 86);
    assert.deepEqual(out.subarray(0, 6), hex('333300000001'));
    assert.equal(out[58], 0x20);
    assert.throws(() => r.announce('198.19.0.77', out), { code: 'ERR_WEFT_NOT_FOUND' });
    assert.throws(() => t.set('198.19.0.8', 'ff:ff:ff:ff:ff:ff'), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => t.set('224.0.0.1', OWNER), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });

  it('token bucket refills with the given clock', () => {
    const b = new TokenBucket(2, 1);
    assert.equal(b.take(0), true);
    assert.equal(b.take(100), false);
    assert.equal(b.take(600), true);
  });
});
