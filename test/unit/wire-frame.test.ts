import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame, type Layer } from '../../src/wire/frame.js';
import { arpFrame, dnsFrame, ipv6ExtFrame, nsFrame, pingFrame, qinqFrame, synFrame, vxlanFrame } from '../../fuzz/seeds.js';

const names = (ls: Layer[]) => ls.map((l) => l.layer);

describe('decodeFrame', () => {
  it('walks ethernet/ipv4/icmp', () => {
    const f = decodeFrame(pingFrame);
    assert.equal(f.error, undefined);
    assert.deepEqual(names(f.layers), ['ethernet', 'ipv4', 'icmpv4', 'payload']);
    const icmp = f.layers[2] as Extract<Layer, { layer: 'icmpv4' }>;
    assert.equal(icmp.identifier, 0x1c46);
    assert.equal(icmp.checksumValid, true);
  });

  it('walks ARP, UDP/DNS, TCP, NDP, QinQ and IPv6 extension headers', () => {
    assert.deepEqual(names(decodeFrame(arpFrame).layers), ['ethernet', 'arp']);
    const dns = decodeFrame(dnsFrame).layers;
    assert.deepEqual(names(dns), ['ethernet', 'ipv4', 'udp', 'payload']);
    assert.equal((dns[3] as Extract<Layer, { layer: 'payload' }>).hint, 'dns');
    assert.equal((dns[2] as Extract<Layer, { layer: 'udp' }>).checksumValid, true);
    assert.deepEqual((decodeFrame(synFrame).layers[2] as Extract<Layer, { layer: 'tcp' }>).flagNames, ['SYN']);
    const ns = decodeFrame(nsFrame).layers[2] as Extract<Layer, { layer: 'icmpv6' }>;
    assert.equal(ns.ndp?.kind, 'neighbor-solicitation');
    assert.equal(ns.checksumValid, true);
    assert.deepEqual(names(decodeFrame(qinqFrame).layers), ['ethernet', 'vlan', 'vlan', 'ipv4', 'udp', 'payload']);
    const ext = decodeFrame(ipv6ExtFrame);
    const ip6 = ext.layers[1] as Extract<Layer, { layer: 'ipv6' }>;
    assert.deepEqual(ip6.extensions.map((e) => e.name), ['hop-by-hop', 'destination-options', 'fragment']);
    assert.equal(ip6.protocol, 17);
    assert.deepEqual(names(ext.layers), ['ethernet', 'ipv6', 'udp', 'payload']);
  });

  it('descends into VXLAN to the inner frame', () => {
    const f = decodeFrame(vxlanFrame);
    assert.deepEqual(names(f.layers), ['ethernet', 'ipv4', 'udp', 'vxlan', 'ethernet', 'ipv4', 'icmpv4', 'payload']);
    assert.equal((f.layers[3] as Extract<Layer, { layer: 'vxlan' }>).vni, 4096);
    assert.equal(f.layers[4]!.offset, 14 + 20 + 8 + 8);
  });

  it('returns the layers it could decode plus an error, never throwing', () => {
    const cut = decodeFrame(vxlanFrame.subarray(0, 14 + 20 + 8 + 8 + 10));
    assert.ok(cut.error);
    assert.deepEqual(names(cut.layers), ['ethernet']);
    assert.equal(cut.error.layer, 'ipv4');
    assert.equal(cut.error.reason, 'truncated');
    assert.deepEqual(decodeFrame(new Uint8Array(3)), { layers: [], error: { layer: 'ethernet', offset: 0, reason: 'truncated' } });
    const badVx = Uint8Array.from(vxlanFrame);
    badVx[14 + 20 + 8] = 0x0c;
    const r = decodeFrame(badVx);
    assert.deepEqual(r.error, { layer: 'vxlan', offset: 42, reason: 'invalid-header' });
  });

  it('decodes raw IP (link: ip)', () => {
    assert.deepEqual(names(decodeFrame(pingFrame.subarray(14), { link: 'ip' }).layers), ['ipv4', 'icmpv4', 'payload']);
    assert.deepEqual(names(decodeFrame(nsFrame.subarray(14), { link: 'ip' }).layers), ['ipv6', 'icmpv6']);
  });
});
