/**
 * Fills a Facts (facts.ts) from one captured packet by reading header
 * fields in place: nothing is allocated per packet and nothing throws.
 *
 * Unlike the wire codecs (which the data plane uses and which reject any
 * inconsistent packet), this dissector is lenient the way tcpdump is: every
 * header that was captured whole is decoded even when the snap length cut
 * the payload, and an IP length field of 0 (TSO/GSO sends) or beyond the
 * frame (GRO super-frames) is noted, not fatal. A header that was itself
 * cut sets `problem` on its level ("udp" prints as tcpdump's `[|udp]`).
 * VXLAN (UDP 4789/8472) opens the next level.
 *
 * This is the hot path of `weft trace`; wire/frame.ts decodeFrame is the
 * full, allocating decode used for --json and -v.
 */
import { u16 } from '../wire/bytes.js';
import { EtherType, isVlanTpid } from '../wire/ethernet.js';
import { isExtensionHeader } from '../wire/ipv6.js';
import { MAX_TAGS } from '../wire/vlan.js';
import { PORT as VXLAN_PORT, LINUX_LEGACY_PORT } from '../wire/vxlan.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_PPP, LINKTYPE_PPP_HDLC, LINKTYPE_RAW,
} from '../wire/capture-common.js';
import { llcPayload, LLC_STP } from '../wire/llc.js';
import { ieee80211Payload, radiotapHasFcs, radiotapLength } from '../wire/ieee80211.js';
import {
  type Facts, type Level, IP_LENGTH_BEYOND, IP_LENGTH_ZERO, LINK_LLC, LINK_LLDP, LINK_STP, LINK_UNKNOWN, MAX_LEVELS, clearLevel,
} from './facts.js';

const ETHERTYPE_LLDP = 0x88cc;
/** RFC 8200 §4 allows each extension header once (Destination Options twice): 8 covers a legal chain. */
const MAX_EXTENSIONS = 8;

/** Dissects data[start, end) captured with `linktype` (origlen bytes on the wire) into `facts`. */
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
  const len = end - start;
  switch (linktype) {
    case LINKTYPE_ETHERNET:
      ethernet(facts, 0, start, end);
      return;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      network(facts, 0, len > 0 && data[start]! >> 4 === 6 ? EtherType.IPv6 : EtherType.IPv4, start, end);
      return;
    case LINKTYPE_LINUX_SLL:
      if (len < 16) return void (l.problem = 'sll');
      facts.sllPacketType = u16(data, start);
      network(facts, 0, u16(data, start + 14), start + 16, end);
      return;
    case LINKTYPE_LINUX_SLL2:
      if (len < 20) return void (l.problem = 'sll2');
      facts.sllPacketType = data[start + 10]!;
      network(facts, 0, u16(data, start), start + 20, end);
      return;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (len < 4) return void (l.problem = 'null');
      // The family is in the writer's byte order (NULL) or network order (LOOP): accept either.
      const be = ((data[start]! << 24) | (data[start + 1]! << 16) | (data[start + 2]! << 8) | data[start + 3]!) >>> 0;
      const family = be > 0xffff ? (data[start]! | (data[start + 1]! << 8)) : be;
      network(facts, 0, family === 2 ? EtherType.IPv4 : family === 10 || family === 24 || family === 28 || family === 30 ? EtherType.IPv6 : -1, start + 4, end);
      return;
    }
    case LINKTYPE_PPP:
    case LINKTYPE_PPP_HDLC: {
      let p = start;
      if (len >= 2 && data[p] === 0xff && data[p + 1] === 0x03) p += 2;
      if (end - p < 2) return void (l.problem = 'ppp');
      const proto = u16(data, p);
      network(facts, 0, proto === 0x0021 ? EtherType.IPv4 : proto === 0x0057 ? EtherType.IPv6 : -1, p + 2, end);
      return;
    }
    case LINKTYPE_IEEE802_11_RADIOTAP:
    case LINKTYPE_IEEE802_11: {
      let p = start;
      let stop = end;
      if (linktype === LINKTYPE_IEEE802_11_RADIOTAP) {
        const r = radiotapLength(data, start, end);
        if (r < 0) return void (l.problem = 'radiotap');
        if (radiotapHasFcs(data, start, end)) stop = Math.max(start + r, stop - 4);
        p += r;
      }
      const payload = ieee80211Payload(data, p, stop);
      if (payload < 0) return void (l.problem = '802.11');
      network(facts, 0, u16(data, payload - 2), payload, stop);
      return;
    }
    default:
      l.link = LINK_UNKNOWN;
  }
}

function ethernet(facts: Facts, level: number, o: number, end: number): void {
  const l = facts.levels[level]!;
  const b = facts.data;
  if (end - o < 14) return void (l.problem = 'ether');
  l.ethOffset = o;
  let type = u16(b, o + 12);
  let p = o + 14;
  for (let tags = 0; isVlanTpid(type); tags++) {
    if (tags === MAX_TAGS || end - p < 4) return void (l.problem = 'vlan');
    if (tags === 0) l.vlan = u16(b, p) & 0xfff;
    else if (tags === 1) l.vlan2 = u16(b, p) & 0xfff;
    l.vlanCount = tags + 1;
    type = u16(b, p + 2);
    p += 4;
  }
  if (type <= 1500) {
    // IEEE 802.3: a length, then an LLC header (which may carry SNAP and an EtherType).
    const llc = llcPayload(b, p, end);
    l.linkOffset = p;
    if (llc >= 0) {
      const inner = u16(b, llc - 2);
      if (inner === EtherType.IPv4 || inner === EtherType.IPv6 || inner === EtherType.ARP) return network(facts, level, inner, llc, end);
    }
    l.link = llc === LLC_STP ? LINK_STP : LINK_LLC;
    l.etherType = type;
    return;
  }
  if (type === ETHERTYPE_LLDP) {
    l.link = LINK_LLDP;
    l.linkOffset = p;
  }
  network(facts, level, type, p, end);
}

function network(facts: Facts, level: number, type: number, o: number, end: number): void {
  const l = facts.levels[level]!;
  l.etherType = type;
  if (type === EtherType.IPv4) return ipv4(facts, l, level, o, end);
  if (type === EtherType.IPv6) return ipv6(facts, l, level, o, end);
  if (type === EtherType.ARP) {
    const b = facts.data;
    l.arpOffset = o;
    if (end - o < 8) return void (l.problem = 'arp');
    l.arpOp = u16(b, o + 6);
    // Addresses are printed only for Ethernet/IPv4 ARP with all 28 bytes captured.
    if (u16(b, o) !== 1 || u16(b, o + 2) !== 0x0800 || b[o + 4] !== 6 || b[o + 5] !== 4 || end - o < 28) l.problem = 'arp';
  }
}

/** End of the packet on the wire, as far as level 0 knows (inner levels end within it). */
function wireEnd(facts: Facts, end: number): number {
  return Math.max(end, facts.start + facts.origlen);
}

function ipv4(facts: Facts, l: Level, level: number, o: number, end: number): void {
  const b = facts.data;
  if (end - o < 20) return void (l.problem = 'ip');
  if (b[o]! >> 4 !== 4) return void (l.problem = 'ip-version');
  const ihl = (b[o]! & 0xf) * 4;
  if (ihl < 20) return void (l.problem = 'ip-header-length');
  if (end - o < ihl) return void (l.problem = 'ip');
  l.ipVersion = 4;
  l.ipOffset = o;
  l.ipId = u16(b, o + 4);
  l.ttl = b[o + 8]!;
  l.protocol = b[o + 9]!;
  const frag = u16(b, o + 6);
  l.fragment = (frag & 0x1fff) !== 0;
  let total = u16(b, o + 2);
  const onWire = wireEnd(facts, end) - o;
  if (total === 0) {
    total = onWire;
    l.ipLengthNote = IP_LENGTH_ZERO;
  } else if (total < ihl) {
    l.ipLength = total;
    l.problem = 'ip-length';
    return;
  } else if (total > onWire) {
    l.ipLengthNote = IP_LENGTH_BEYOND;
    l.ipMissing = total - onWire;
  }
  l.ipLength = total;
  if (!l.fragment) transport(facts, level, o + ihl, o + total, end);
}

function ipv6(facts: Facts, l: Level, level: number, o: number, end: number): void {
  const b = facts.data;
  if (end - o < 40) return void (l.problem = 'ip6');
  if (b[o]! >> 4 !== 6) return void (l.problem = 'ip6-version');
  l.ipVersion = 6;
  l.ipOffset = o;
  l.ttl = b[o + 7]!;
  let payload = u16(b, o + 4);
  const onWire = wireEnd(facts, end) - o;
  if (payload === 0) {
    payload = onWire - 40;
    l.ipLengthNote = IP_LENGTH_ZERO;
  } else if (40 + payload > onWire) {
    l.ipLengthNote = IP_LENGTH_BEYOND;
    l.ipMissing = 40 + payload - onWire;
  }
  l.ipLength = 40 + payload;
  const ipEnd = o + l.ipLength;
  let proto = b[o + 6]!;
  l.ipNextHeader = proto;
  let p = o + 40;
  // Walk extension headers that were captured; a non-first fragment has no upper layer.
  for (let n = 0; isExtensionHeader(proto); n++) {
    if (n === MAX_EXTENSIONS || end - p < 8) {
      l.protocol = proto;
      l.problem = 'ip6-extension';
      return;
    }
    const next = b[p]!;
    if (proto === 44) {
      l.ipId = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
      l.fragment = (u16(b, p + 2) & 0xfff8) !== 0;
      p += 8;
    } else p += proto === 51 ? (b[p + 1]! + 2) * 4 : (b[p + 1]! + 1) * 8;
    proto = next;
    if (l.fragment) break;
  }
  l.protocol = proto;
  if (!l.fragment) transport(facts, level, p, ipEnd, end);
}

/**
 * The transport header at o: `declaredEnd` is where the IP header says the
 * datagram ends, `capEnd` where the capture does (the snap length may cut).
 */
function transport(facts: Facts, level: number, o: number, declaredEnd: number, capEnd: number): void {
  const l = facts.levels[level]!;
  const b = facts.data;
  const end = Math.min(declaredEnd, capEnd);
  const have = Math.max(0, end - o);
  l.l4Offset = o;
  l.l4Length = Math.max(0, declaredEnd - o);
  l.l4Captured = have;
  switch (l.protocol) {
    case 17:
    case 6:
    case 132: {
      // Ports are read whenever captured, even when the rest of the header is cut (as BPF does).
      if (have >= 4) {
        l.sourcePort = u16(b, o);
        l.destinationPort = u16(b, o + 2);
      }
      if (l.protocol === 17) return udp(facts, l, level, o, have);
      if (l.protocol === 6) return tcp(l, b, o, have);
      if (have < 12) l.problem = 'sctp';
      return;
    }
    case 1:
    case 58:
      if (have < 4) return void (l.problem = l.protocol === 1 ? 'icmp' : 'icmp6');
      l.icmpType = b[o]!;
      l.icmpCode = b[o + 1]!;
      if (have >= 8 && (l.protocol === 1 ? l.icmpType === 0 || l.icmpType === 8 : l.icmpType === 128 || l.icmpType === 129)) {
        l.icmpId = u16(b, o + 4);
        l.icmpSeq = u16(b, o + 6);
      }
      return;
    default:
      return;
  }
}

function udp(facts: Facts, l: Level, level: number, o: number, have: number): void {
  if (have < 8) return void (l.problem = 'udp');
  const b = facts.data;
  const dp = l.destinationPort;
  if ((dp === VXLAN_PORT || dp === LINUX_LEGACY_PORT) && level + 1 < MAX_LEVELS && have >= 16) {
    const p = o + 8;
    // VXLAN (RFC 7348): only the I flag, reserved bytes zero; anything else is plain UDP to that port.
    if (b[p] !== 0x08 || (b[p + 1]! | b[p + 2]! | b[p + 3]! | b[p + 7]!) !== 0) return;
    l.vni = ((b[p + 4]! << 16) | (b[p + 5]! << 8) | b[p + 6]!) >>> 0;
    const inner = facts.levels[level + 1]!;
    clearLevel(inner);
    facts.depth = level + 2;
    const udpEnd = Math.min(o + have, o + Math.max(8, u16(b, o + 4)));
    ethernet(facts, level + 1, p + 8, udpEnd);
  }
}

function tcp(l: Level, b: Uint8Array, o: number, have: number): void {
  if (have < 20) return void (l.problem = 'tcp');
  const hl = (b[o + 12]! >> 4) * 4;
  if (hl < 20) return void (l.problem = 'tcp-header-length');
  if (have < hl) return void (l.problem = 'tcp');
  l.tcpFlags = b[o + 13]!;
  l.tcpSeq = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  l.tcpAck = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
  l.tcpWindow = u16(b, o + 14);
}

/** The innermost level that has an IP header, or -1. */
export function innermostIp(facts: Facts): number {
  for (let i = facts.depth - 1; i >= 0; i--) if (facts.levels[i]!.ipVersion !== 0) return i;
  return -1;
}

export type { Level };
