/**
 * Fills a Facts (facts.ts) from one captured packet with the wire codecs'
 * views (re-pointed with reset(), so nothing is allocated per packet) and
 * without throwing: a layer that does not check out sets `problem` on its
 * level and stops there. VXLAN (UDP 4789/8472) opens the next level.
 *
 * This is the hot path of `weft trace`; wire/frame.ts decodeFrame is the
 * full, allocating decode used for --json and -v.
 */
import * as arp from '../wire/arp.js';
import { u16 } from '../wire/bytes.js';
import { EthernetView, EtherType, isVlanTpid } from '../wire/ethernet.js';
import { Icmpv4View } from '../wire/icmpv4.js';
import { Icmpv6View } from '../wire/icmpv6.js';
import { Ipv4View } from '../wire/ipv4.js';
import { Ipv6View, isExtensionHeader, walkExtensions } from '../wire/ipv6.js';
import { TcpView } from '../wire/tcp.js';
import { UdpView } from '../wire/udp.js';
import { VlanView, MAX_TAGS } from '../wire/vlan.js';
import { VxlanView, PORT as VXLAN_PORT, LINUX_LEGACY_PORT } from '../wire/vxlan.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW,
} from '../wire/capture-common.js';
import { DecodeError } from '../wire/errors.js';
import { type Facts, type Level, MAX_LEVELS, clearLevel } from './facts.js';

const EMPTY = new Uint8Array(64);
// One view per layer and level, created once (they check lengths on reset).
const views = Array.from({ length: MAX_LEVELS }, () => ({
  eth: new EthernetView(EMPTY),
  vlan: new VlanView(EMPTY),
  ip4: new Ipv4View(ipv4Seed()),
  ip6: new Ipv6View(ipv6Seed()),
  udp: new UdpView(Uint8Array.of(0, 0, 0, 0, 0, 8, 0, 0)),
  tcp: new TcpView(tcpSeed()),
  icmp4: new Icmpv4View(EMPTY),
  icmp6: new Icmpv6View(EMPTY),
  arp: new arp.ArpView(arpSeed()),
  vxlan: new VxlanView(vxlanSeed()),
}));

function ipv4Seed(): Uint8Array {
  const b = new Uint8Array(20);
  b[0] = 0x45;
  b[3] = 20;
  return b;
}
function ipv6Seed(): Uint8Array {
  const b = new Uint8Array(40);
  b[0] = 0x60;
  return b;
}
function tcpSeed(): Uint8Array {
  const b = new Uint8Array(20);
  b[12] = 0x50;
  return b;
}
function arpSeed(): Uint8Array {
  return Uint8Array.of(0, 1, 8, 0, 6, 4, 0, 1, ...new Array<number>(20).fill(0));
}
function vxlanSeed(): Uint8Array {
  const b = new Uint8Array(64);
  b[0] = 0x08;
  return b;
}

/** Dissects data[start, end) captured with `linktype` into `facts`. */
export function dissect(facts: Facts, data: Uint8Array, start: number, end: number, linktype: number, origlen: number): void {
  facts.data = data;
  facts.start = start;
  facts.end = end;
  facts.origlen = origlen;
  facts.linktype = linktype;
  facts.sllPacketType = -1;
  facts.depth = 1;
  const l = facts.levels[0]!;
  clearLevel(l);
  switch (linktype) {
    case LINKTYPE_ETHERNET:
      ethernet(facts, 0, start, end);
      return;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6: {
      const version = end > start ? data[start]! >> 4 : 0;
      network(facts, 0, version === 6 ? EtherType.IPv6 : EtherType.IPv4, start, end);
      return;
    }
    case LINKTYPE_LINUX_SLL:
      if (end - start < 16) {
        l.problem = 'sll: truncated';
        return;
      }
      facts.sllPacketType = u16(data, start);
      network(facts, 0, u16(data, start + 14), start + 16, end);
      return;
    case LINKTYPE_LINUX_SLL2:
      if (end - start < 20) {
        l.problem = 'sll2: truncated';
        return;
      }
      facts.sllPacketType = data[start + 10]!;
      network(facts, 0, u16(data, start), start + 20, end);
      return;
    default:
      l.problem = `link type ${linktype}: unsupported`;
  }
}

function ethernet(facts: Facts, level: number, o: number, end: number): void {
  const l = facts.levels[level]!;
  const v = views[level]!;
  const b = facts.data;
  if (v.eth.reset(b, o, end - o)) {
    l.problem = 'ethernet: truncated';
    return;
  }
  l.ethOffset = o;
  let type = v.eth.etherType;
  let p = o + 14;
  for (let tags = 0; isVlanTpid(type); tags++) {
    if (tags === MAX_TAGS || v.vlan.reset(b, p, end - p)) {
      l.problem = tags === MAX_TAGS ? 'vlan: too-many-headers' : 'vlan: truncated';
      return;
    }
    if (l.vlan < 0) l.vlan = v.vlan.vid;
    type = v.vlan.etherType;
    p += 4;
  }
  network(facts, level, type, p, end);
}

function network(facts: Facts, level: number, type: number, o: number, end: number): void {
  const l = facts.levels[level]!;
  const v = views[level]!;
  const b = facts.data;
  l.etherType = type;
  if (type === EtherType.IPv4) {
    const r = v.ip4.reset(b, o, end - o);
    if (r) {
      l.problem = `ipv4: ${r}`;
      return;
    }
    l.ipVersion = 4;
    l.ipOffset = o;
    l.ipId = v.ip4.identification;
    l.ttl = v.ip4.ttl;
    l.ipLength = v.ip4.totalLength;
    l.protocol = v.ip4.protocol;
    l.fragment = v.ip4.fragmentOffset !== 0;
    if (!l.fragment) transport(facts, level, v.ip4.payloadOffset, o + v.ip4.totalLength);
    return;
  }
  if (type === EtherType.IPv6) {
    const r = v.ip6.reset(b, o, end - o);
    if (r) {
      l.problem = `ipv6: ${r}`;
      return;
    }
    l.ipVersion = 6;
    l.ipOffset = o;
    l.ttl = v.ip6.hopLimit;
    l.ipLength = 40 + v.ip6.payloadLength;
    const ipEnd = Math.min(end, o + l.ipLength);
    let proto = v.ip6.nextHeader;
    let p = o + 40;
    if (isExtensionHeader(proto)) {
      try {
        const walk = walkExtensions(b, proto, p, ipEnd);
        proto = walk.protocol;
        p = walk.offset;
        if (walk.fragment) {
          l.ipId = walk.fragment.identification;
          l.fragment = walk.fragment.offset !== 0;
        }
      } catch (err) {
        l.problem = err instanceof DecodeError ? `ipv6: ${err.reason}` : 'ipv6: bad extension headers';
        return;
      }
    }
    l.protocol = proto;
    if (!l.fragment) transport(facts, level, p, ipEnd);
    return;
  }
  if (type === EtherType.ARP) {
    if (v.arp.reset(b, o, end - o) || !v.arp.isEthernetIPv4) {
      l.problem = 'arp: truncated or not Ethernet/IPv4';
      return;
    }
    l.arpOffset = o;
    l.arpOp = v.arp.operation;
  }
}

function transport(facts: Facts, level: number, o: number, end: number): void {
  const l = facts.levels[level]!;
  const v = views[level]!;
  const b = facts.data;
  l.l4Offset = o;
  l.l4Length = Math.max(0, end - o);
  switch (l.protocol) {
    case 17: {
      const r = v.udp.reset(b, o, end - o);
      if (r) {
        l.problem = `udp: ${r}`;
        return;
      }
      l.sourcePort = v.udp.sourcePort;
      l.destinationPort = v.udp.destinationPort;
      const dp = l.destinationPort;
      if ((dp === VXLAN_PORT || dp === LINUX_LEGACY_PORT) && level + 1 < MAX_LEVELS) {
        const p = o + 8;
        const pEnd = Math.min(end, o + v.udp.datagramLength);
        const vr = v.vxlan.reset(b, p, pEnd - p);
        if (vr) {
          if (vr !== 'invalid_header') l.problem = `vxlan: ${vr}`;
          return;
        }
        l.vni = v.vxlan.vni;
        const inner = facts.levels[level + 1]!;
        clearLevel(inner);
        facts.depth = level + 2;
        ethernet(facts, level + 1, p + 8, pEnd);
      }
      return;
    }
    case 6: {
      const r = v.tcp.reset(b, o, end - o);
      if (r) {
        l.problem = `tcp: ${r}`;
        return;
      }
      l.sourcePort = v.tcp.sourcePort;
      l.destinationPort = v.tcp.destinationPort;
      l.tcpFlags = v.tcp.flags;
      l.tcpSeq = v.tcp.sequenceNumber;
      l.tcpAck = v.tcp.acknowledgmentNumber;
      l.tcpWindow = v.tcp.window;
      return;
    }
    case 132:
      if (end - o >= 4) {
        l.sourcePort = u16(b, o);
        l.destinationPort = u16(b, o + 2);
      }
      return;
    case 1: {
      if (v.icmp4.reset(b, o, end - o)) {
        l.problem = 'icmp: truncated';
        return;
      }
      l.icmpType = v.icmp4.type;
      l.icmpCode = v.icmp4.code;
      if (v.icmp4.isEcho) {
        l.icmpId = v.icmp4.identifier;
        l.icmpSeq = v.icmp4.sequence;
      }
      return;
    }
    case 58: {
      if (v.icmp6.reset(b, o, end - o)) {
        l.problem = 'icmp6: truncated';
        return;
      }
      l.icmpType = v.icmp6.type;
      l.icmpCode = v.icmp6.code;
      if ((l.icmpType === 128 || l.icmpType === 129) && end - o >= 8) {
        l.icmpId = u16(b, o + 4);
        l.icmpSeq = u16(b, o + 6);
      }
      return;
    }
    default:
      return;
  }
}

/** The innermost level that has an IP header, or -1. */
export function innermostIp(facts: Facts): number {
  for (let i = facts.depth - 1; i >= 0; i--) if (facts.levels[i]!.ipVersion !== 0) return i;
  return -1;
}

export type { Level };
