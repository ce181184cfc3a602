/**
 * The VTEP's pure decisions and its forwarding table: egress (unicast via
 * the table, L2 miss dropped, BUM dropped or replicated at a bounded rate
 * with an explicit clock, ARP/NS handed to the proxy), ingress checks with
 * one counter per drop reason, and table operations the control plane uses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VtepFdb, macKeyOf } from '../../src/dataplane/fdb-table.js';
import { EGRESS_DROP, EGRESS_FLOOD, EGRESS_PROXY, EGRESS_UNICAST, VtepEngine, type VtepCounterName } from '../../src/dataplane/vtep.js';
import { macBytes } from '../../src/wire/bytes.js';
import * as vxlan from '../../src/wire/vxlan.js';

const LOCAL = '02:42:c6:13:00:01';
const REMOTE_MAC = '02:42:c6:13:00:02';
const PEER = '198.18.0.2';
const PEER_IP = (198 << 24 | 18 << 16 | 2) >>> 0;

function frame(dst: string, src = LOCAL, type = 0x0800, len = 98): Buffer {
  const f = Buffer.alloc(len);
  f.set(macBytes(dst), 0);
  f.set(macBytes(src), 6);
  f.writeUInt16BE(type, 12);
  return f;
}

function datagram(inner: Buffer, vni = 42): Buffer {
  const d = Buffer.alloc(8 + inner.length);
  vxlan.encodeHeader(vni, d, 0);
  inner.copy(d, 8);
  return d;
}

function engine(opts: Partial<ConstructorParameters<typeof VtepEngine>[0]> = {}): VtepEngine {
  const fdb = new VtepFdb();
  fdb.addEntry(REMOTE_MAC, PEER);
  const e = new VtepEngine({ vni: 42, mtu: 1450, ...opts }, fdb);
  e.addLocalMac(macBytes(LOCAL));
  return e;
}

describe('VTEP egress', () => {
  it('sends unicast to the remote the table names', () => {
    const e = engine();
    const f = frame(REMOTE_MAC);
    assert.equal(e.classifyEgress(f, 0, f.length, 0), EGRESS_UNICAST);
    assert.equal(e.remote?.address, PEER);
    assert.deepEqual([...e.remote!.sockaddr.subarray(0, 8)], [2, 0, 0x12, 0xb5, 198, 18, 0, 2]);
  });

  it('drops an L2 miss and BUM by default (as Docker), and counts them', () => {
    const e = engine();
    const miss = frame('02:42:c6:13:00:09');
    const bcast = frame('ff:ff:ff:ff:ff:ff');
    assert.equal(e.classifyEgress(miss, 0, miss.length, 0), EGRESS_DROP);
    assert.equal(e.classifyEgress(bcast, 0, bcast.length, 0), EGRESS_DROP);
    assert.equal(e.counters.no_remote, 1);
    assert.equal(e.counters.bum_dropped, 1);
  });

  it('replicates BUM to the flood list, rate-limited by the clock it is given', () => {
    const e = engine({ bum: 'replicate', bumRatePerSecond: 10, bumBurst: 3 });
    const bcast = frame('ff:ff:ff:ff:ff:ff');
    assert.equal(e.classifyEgress(bcast, 0, bcast.length, 0), EGRESS_DROP, 'no flood list yet');
    e.fdb.setFloodList([PEER, '198.18.0.3']);
    const results = Array.from({ length: 10 }, () => e.classifyEgress(bcast, 0, bcast.length, 5000));
    assert.equal(results.filter((r) => r === EGRESS_FLOOD).length, 3);
    assert.equal(e.counters.bum_rate_limited, 7);
    assert.equal(e.classifyEgress(bcast, 0, bcast.length, 5200), EGRESS_FLOOD, 'refilled 0.2 s later');
    assert.deepEqual(e.fdb.floodList.map((r) => r.address), [PEER, '198.18.0.3']);
    assert.ok(e.fdb.isKnownPeer(((198 << 24) | (18 << 16) | 3) >>> 0), 'flood targets are peers');
  });

  it('hands ARP and NS to the proxy when it is on, never into the tunnel', () => {
    const e = engine();
    e.proxy = true;
    const arp = frame('ff:ff:ff:ff:ff:ff', LOCAL, 0x0806, 42);
    const ns = frame('33:33:ff:00:00:05', LOCAL, 0x86dd, 86);
    ns[20] = 58;
    ns[54] = 135;
    assert.equal(e.classifyEgress(arp, 0, arp.length, 0), EGRESS_PROXY);
    assert.equal(e.classifyEgress(ns, 0, ns.length, 0), EGRESS_PROXY);
  });

  it('drops runt and oversized frames', () => {
    const e = engine();
    const f = frame(REMOTE_MAC, LOCAL, 0x0800, 2000);
    assert.equal(e.classifyEgress(f, 0, 10, 0), EGRESS_DROP);
    assert.equal(e.classifyEgress(f, 0, 1450 + 14 + 4 + 1, 0), EGRESS_DROP);
    assert.equal(e.counters.tx_short, 1);
    assert.equal(e.counters.tx_too_big, 1);
  });
});

describe('VTEP ingress', () => {
  const cases: [string, Buffer, number, VtepCounterName][] = [
    ['short header', Buffer.from([8, 0, 0, 0]), PEER_IP, 'short_header'],
    ['I flag clear', (() => { const d = datagram(frame(LOCAL, REMOTE_MAC)); d[0] = 0; return d; })(), PEER_IP, 'invalid_header'],
    ['reserved bits', (() => { const d = datagram(frame(LOCAL, REMOTE_MAC)); d[7] = 1; return d; })(), PEER_IP, 'invalid_header'],
    ['unknown VNI', datagram(frame(LOCAL, REMOTE_MAC), 43), PEER_IP, 'vni_not_found'],
    ['unknown peer', datagram(frame(LOCAL, REMOTE_MAC)), 0x0a000001, 'unknown_peer'],
    ['short inner', datagram(frame(LOCAL, REMOTE_MAC, 0x0800, 14)), PEER_IP, 'short_inner'],
    ['jumbo', datagram(frame(LOCAL, REMOTE_MAC, 0x0800, 1600)), PEER_IP, 'jumbo'],
    ['multicast source', datagram(frame(LOCAL, '01:00:5e:00:00:01')), PEER_IP, 'invalid_src_mac'],
    ['zero source', datagram(frame(LOCAL, '00:00:00:00:00:00')), PEER_IP, 'invalid_src_mac'],
    ['local source', datagram(frame(LOCAL, LOCAL)), PEER_IP, 'local_mac'],
  ];
  for (const [name, d, src, reason] of cases) {
    it(`drops and counts: ${name}`, () => {
      const e = engine();
      assert.equal(e.acceptIngress(d, 0, d.length, src, false), false);
      assert.equal(e.counters[reason], 1);
      assert.equal(e.counters.rx_packets, 0);
    });
  }

  it('drops a source MAC pinned to another VTEP without moving the entry (V9)', () => {
    const e = engine();
    const other = ((198 << 24) | (18 << 16) | 7) >>> 0;
    e.fdb.addPeer('198.18.0.7');
    const d = datagram(frame(LOCAL, REMOTE_MAC));
    assert.equal(e.acceptIngress(d, 0, d.length, other, false), false);
    assert.equal(e.counters.entry_exists, 1);
    assert.deepEqual(e.fdb.snapshot().entries, [{ mac: REMOTE_MAC, remote: PEER }]);
  });

  it('accepts a sane frame from a known peer; unknown peers only when configured', () => {
    const d = datagram(frame(LOCAL, '02:42:c6:13:00:33'));
    const e = engine();
    assert.equal(e.acceptIngress(d, 0, d.length, PEER_IP, false), true);
    assert.equal(e.counters.rx_packets, 1);
    assert.equal(e.counters.rx_bytes, d.length - 8);
    assert.equal(e.acceptIngress(d, 0, d.length, 0x0a000001, true), false);
    assert.equal(e.counters.truncated, 1);
    const open = engine({ acceptUnknownPeers: true });
    assert.equal(open.acceptIngress(d, 0, d.length, 0x0a000001, false), true);
  });

  it('never throws and counts exactly one outcome for random datagrams (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.boolean(), (bytes, peer) => {
      const e = engine();
      const d = Buffer.from(bytes);
      if (d.length >= 8 && peer) vxlan.encodeHeader(42, d, 0);
      const ok = e.acceptIngress(d, 0, d.length, peer ? PEER_IP : 0x0a000001, false);
      const drops = Object.entries(e.counters).filter(([k, v]) => v > 0 && !k.startsWith('rx_')).length;
      return ok ? drops === 0 && e.counters.rx_packets === 1 : drops === 1 && e.counters.rx_packets === 0;
    }));
  });
});

describe('VTEP forwarding table', () => {
  it('adds idempotently, refuses a conflicting add, replaces, removes', () => {
    const fdb = new VtepFdb();
    fdb.addEntry(REMOTE_MAC, PEER);
    fdb.addEntry(REMOTE_MAC, PEER);
    assert.throws(() => fdb.addEntry(REMOTE_MAC, '198.18.0.3'), { code: 'ERR_WEFT_FDB_ENTRY' });
    assert.equal(fdb.replaceEntry(REMOTE_MAC, '198.18.0.3'), PEER);
    assert.equal(fdb.isKnownPeer(PEER_IP), false, 'an unreferenced remote is no longer a peer');
    assert.equal(fdb.lookup(macBytes(REMOTE_MAC), 0)?.address, '198.18.0.3');
    assert.equal(fdb.removeEntry(REMOTE_MAC), true);
    assert.equal(fdb.removeEntry(REMOTE_MAC), false);
    assert.equal(fdb.size, 0);
    fdb.addPeer(PEER);
    assert.equal(fdb.isKnownPeer(PEER_IP), true);
    assert.equal(fdb.removePeer(PEER), true);
    assert.equal(fdb.isKnownPeer(PEER_IP), false);
  });

  it('rejects bad input at configuration time (V16)', () => {
    const fdb = new VtepFdb();
    assert.throws(() => fdb.addEntry('nope', PEER), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => fdb.addEntry(REMOTE_MAC, '224.0.0.1'), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => fdb.addEntry(REMOTE_MAC, '0.0.0.0'), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => new VtepEngine({ vni: 1 << 24, mtu: 1450 }, fdb), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => new VtepEngine({ vni: Number.NaN, mtu: 1450 }, fdb), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => new VtepEngine({ vni: 1, mtu: 1450, bum: 'flood' as 'drop' }, fdb), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });

  it('keys MACs as 48-bit numbers without collisions (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ minLength: 6, maxLength: 6 }), (a, b) => {
      const ta = [...a].map((x) => x.toString(16).padStart(2, '0')).join(':');
      const tb = [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
      return (macKeyOf(ta) === macKeyOf(tb)) === (ta === tb);
    }));
  });
});
