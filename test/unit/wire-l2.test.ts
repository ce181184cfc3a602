import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as ethernet from '../../src/wire/ethernet.js';
import * as vlan from '../../src/wire/vlan.js';
import * as arp from '../../src/wire/arp.js';
import { ARP_OP_REQUEST } from '../../src/wire/numbers.js';
import { DecodeError } from '../../src/errors.js';
import { bytes, encodeAt, ipv4Addr, mac, u16 } from './wire-arb.js';

const hexBytes = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const isDecodeError = (reason: string) => (e: unknown) => e instanceof DecodeError && e.code === 'ERR_WEFT_DECODE' && e.reason === reason;

// An ARP request from the lab: who-has 198.18.0.2 tell 198.18.0.1.
const ARP_FRAME = hexBytes(`
  ffffffffffff 0242c6120001 0806
  0001 0800 06 04 0001 0242c6120001 c6120001 000000000000 c6120002`);

describe('wire/ethernet', () => {
  it('deconstructs a frame', () => {
    const v = new ethernet.EthernetView(ARP_FRAME);
    assert.equal(v.etherType, 0x0806);
    assert.equal(v.payloadOffset, 14);
    assert.deepEqual(ethernet.decode(ARP_FRAME).destination, 'ff:ff:ff:ff:ff:ff');
    assert.equal(ethernet.etherTypeName(0x86dd), 'ipv6');
    assert.equal(ethernet.etherTypeName(0x1234), 'unknown(0x1234)');
  });

  it('constructs the same bytes', () => {
    const repr = ethernet.decode(ARP_FRAME);
    assert.deepEqual(encodeAt((o, off) => ethernet.encode(repr, o, off), ethernet.encodingLength(repr)), ARP_FRAME);
  });

  it('rejects short frames; reset reports without throwing', () => {
    assert.throws(() => new ethernet.EthernetView(new Uint8Array(13)), isDecodeError('truncated'));
    const v = new ethernet.EthernetView(ARP_FRAME);
    assert.equal(v.reset(new Uint8Array(5), 0, 5), 'truncated');
    assert.equal(v.bytes, ARP_FRAME);
    assert.equal(v.reset(ARP_FRAME, 0, 14), null);
    assert.equal(v.payload.length, 0);
  });

  it('round-trips (property)', () => {
    fc.assert(fc.property(mac, mac, u16, bytes(100), (destination, source, etherType, payload) => {
      const repr = { destination, source, etherType, payload };
      const out = encodeAt((o, off) => ethernet.encode(repr, o, off), ethernet.encodingLength(repr));
      assert.deepEqual(ethernet.decode(out), repr);
    }));
  });
});

describe('wire/vlan', () => {
  const tagged = hexBytes('0242c6120002 0242c6120001 88a8 a064 8100 0005 0800 4500');

  it('decodes a QinQ stack', () => {
    const s = vlan.decodeStack(tagged, 0x88a8, 14);
    assert.deepEqual(s.tags, [
      { tpid: 0x88a8, pcp: 5, dei: false, vid: 100 },
      { tpid: 0x8100, pcp: 0, dei: false, vid: 5 },
    ]);
    assert.equal(s.etherType, 0x0800);
    assert.equal(s.payloadOffset, 22);
  });

  it('bounds the stack and length', () => {
    const many = new Uint8Array(4 * 20);
    for (let i = 0; i < 20; i++) many.set([0x00, 0x01, 0x81, 0x00], i * 4);
    assert.throws(() => vlan.decodeStack(many, 0x8100, 0), isDecodeError('too-many-headers'));
    assert.throws(() => vlan.decodeStack(tagged, 0x8100, tagged.length - 2), isDecodeError('truncated'));
  });

  it('round-trips one tag (property) and rejects bad fields on encode', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.integer({ min: 0, max: 4095 }), u16, bytes(40), (pcp, dei, vid, etherType, payload) => {
      const repr = { pcp, dei, vid, etherType, payload };
      const out = encodeAt((o, off) => vlan.encode(repr, o, off), vlan.encodingLength(repr));
      assert.deepEqual(vlan.decode(out), repr);
    }));
    assert.throws(() => vlan.encode({ pcp: 0, dei: false, vid: 4096, etherType: 0, payload: new Uint8Array() }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });
});

describe('wire/arp', () => {
  const pkt = ARP_FRAME.subarray(14);

  it('deconstructs a request', () => {
    const v = new arp.ArpView(pkt);
    assert.ok(v.isEthernetIPv4);
    assert.equal(v.operation, ARP_OP_REQUEST);
    assert.equal(v.targetIPv4, 0xc6120002);
    assert.deepEqual(arp.decode(pkt), {
      hardwareType: 1, protocolType: 0x0800, operation: 1,
      senderHardwareAddress: '02:42:c6:12:00:01', senderProtocolAddress: '198.18.0.1',
      targetHardwareAddress: '00:00:00:00:00:00', targetProtocolAddress: '198.18.0.2',
    });
  });

  it('constructs golden bytes', () => {
    const repr = arp.decode(pkt);
    assert.deepEqual(encodeAt((o, off) => arp.encode(repr, o, off), arp.encodingLength(repr)), pkt);
  });

  it('rejects packets shorter than their address lengths say', () => {
    assert.throws(() => new arp.ArpView(pkt.subarray(0, 27)), isDecodeError('truncated'));
    const odd = Uint8Array.from(pkt);
    odd[4] = 200; // hlen 200
    assert.throws(() => arp.decode(odd), isDecodeError('truncated'));
    odd[4] = 2;
    odd[5] = 2;
    assert.equal(arp.decode(odd).senderHardwareAddress, '02:42');
    assert.equal(new arp.ArpView(odd).isEthernetIPv4, false);
  });

  it('round-trips (property)', () => {
    fc.assert(fc.property(u16, fc.integer({ min: 1, max: 2 }), mac, ipv4Addr, mac, ipv4Addr, (hardwareType, operation, sha, spa, tha, tpa) => {
      const repr = { hardwareType, protocolType: 0x0800, operation, senderHardwareAddress: sha, senderProtocolAddress: spa, targetHardwareAddress: tha, targetProtocolAddress: tpa };
      assert.deepEqual(arp.decode(arp.encode(repr)), repr);
    }));
  });
});
