/** Seed frames for the fuzz targets, built with the codecs themselves. */
import * as ethernet from '../src/wire/ethernet.js';
import * as arp from '../src/wire/arp.js';
import * as ipv4 from '../src/wire/ipv4.js';
import * as ipv6 from '../src/wire/ipv6.js';
import * as icmpv4 from '../src/wire/icmpv4.js';
import * as icmpv6 from '../src/wire/icmpv6.js';
import * as udp from '../src/wire/udp.js';
import * as tcp from '../src/wire/tcp.js';
import * as vxlan from '../src/wire/vxlan.js';
import * as vlan from '../src/wire/vlan.js';

const A = '02:42:c6:12:00:01';
const B = '02:42:c6:12:00:02';
const empty = new Uint8Array();

const v4 = (protocol: number, payload: Uint8Array) =>
  ipv4.encode({ dscp: 0, ecn: 0, identification: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol, source: '198.18.0.1', destination: '198.18.0.2', options: empty, payload });
const v6 = (nextHeader: number, payload: Uint8Array) =>
  ipv6.encode({ trafficClass: 0, flowLabel: 0, nextHeader, hopLimit: 255, source: 'fe80::1', destination: 'ff02::1:ff00:2', payload });
const eth = (etherType: number, payload: Uint8Array) => ethernet.encode({ destination: B, source: A, etherType, payload });

export const icmpEcho = icmpv4.encode({ type: 8, code: 0, rest: 0x1c460001, payload: new Uint8Array(16).fill(0x61) });
export const udpDns = udp.encode({ sourcePort: 40000, destinationPort: 53, payload: Uint8Array.from(Buffer.from('1234010000010000000000000377777703636f6d0000010001', 'hex')) }, undefined, 0, { source: '198.18.0.1', destination: '198.18.0.2' });
export const tcpSyn = tcp.encode({ sourcePort: 40000, destinationPort: 80, sequenceNumber: 1, acknowledgmentNumber: 0, flags: 2, window: 64240, urgentPointer: 0, options: Uint8Array.from([2, 4, 5, 0xb4, 1, 1, 4, 2]), payload: empty });
export const arpRequest = arp.encode({ hardwareType: 1, protocolType: 0x0800, operation: 1, senderHardwareAddress: A, senderProtocolAddress: '198.18.0.1', targetHardwareAddress: '00:00:00:00:00:00', targetProtocolAddress: '198.18.0.2' });
export const ndpNs = icmpv6.encode(icmpv6.encodeNdp({ kind: 'neighbor-solicitation', target: 'fe80::2', options: [{ type: 1, linkLayerAddress: A }] }), { source: 'fe80::1', destination: 'ff02::1:ff00:2' });
export const ndpRa = icmpv6.encode(icmpv6.encodeNdp({ kind: 'router-advertisement', curHopLimit: 64, managed: false, other: true, routerLifetime: 1800, reachableTime: 0, retransTimer: 0, options: [{ type: 3, prefixLength: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400, prefix: '2001:db8::' }, { type: 5, mtu: 1450 }] }), { source: 'fe80::1', destination: 'ff02::1' });

export const pingFrame = eth(0x0800, v4(1, icmpEcho));
export const dnsFrame = eth(0x0800, v4(17, udpDns));
export const synFrame = eth(0x0800, v4(6, tcpSyn));
export const arpFrame = eth(0x0806, arpRequest);
export const nsFrame = eth(0x86dd, v6(58, ndpNs));
export const vxlanPayload = vxlan.encode({ vni: 4096, payload: pingFrame });
export const vxlanFrame = eth(0x0800, v4(17, udp.encode({ sourcePort: vxlan.sourcePort(pingFrame), destinationPort: 4789, payload: vxlanPayload })));
export const qinqFrame = eth(0x88a8, vlan.encode({ pcp: 0, dei: false, vid: 100, etherType: 0x8100, payload: vlan.encode({ pcp: 3, dei: false, vid: 5, etherType: 0x0800, payload: v4(17, udpDns) }) }));
export const ipv6ExtFrame = eth(0x86dd, v6(0, Uint8Array.from([...[60, 0, 0, 0, 0, 0, 0, 0], ...[44, 0, 0, 0, 0, 0, 0, 0], ...[17, 0, 0, 1, 0, 0, 0, 9], ...udpDns])));

export const frames = [pingFrame, dnsFrame, synFrame, arpFrame, nsFrame, vxlanFrame, qinqFrame, ipv6ExtFrame];
export const ipv4Packets = frames.filter((f) => f[12] === 8 && f[13] === 0).map((f) => f.subarray(14));
export const ipv6Packets = [nsFrame.subarray(14), ipv6ExtFrame.subarray(14)];
