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
import { u16, u32 } from '../wire/bytes.js';
import { isVlanTpid } from '../wire/ethernet.js';
import {
  ARP_FIXED_LENGTH, ARP_HLEN, ARP_OP, ARP_PLEN, ARP_PTYPE, ARP_ETHERNET_IPV4_LENGTH, ETH_HEADER_LENGTH, ETH_TYPE, ICMP_CODE, ICMP_HEADER_LENGTH,
  ICMP_ID, ICMP_SEQUENCE, ICMP_TYPE, ICMP_COMMON_LENGTH, IPV4_FRAGMENT, IPV4_ID, IPV4_MIN_HEADER_LENGTH, IPV4_PROTOCOL, IPV4_TOTAL_LENGTH,
  IPV4_TTL, IPV6_HEADER_LENGTH, IPV6_HOP_LIMIT, IPV6_NEXT_HEADER, IPV6_PAYLOAD_LENGTH, MAC_LENGTH, TCP_ACKNOWLEDGMENT, TCP_DATA_OFFSET,
  TCP_FLAGS, TCP_MIN_HEADER_LENGTH, TCP_SEQUENCE, TCP_WINDOW, UDP_DESTINATION_PORT, UDP_HEADER_LENGTH, UDP_LENGTH, UDP_SOURCE_PORT,
  VLAN_TAG_LENGTH, VLAN_TYPE, VXLAN_HEADER_LENGTH,
} from '../wire/fields.js';
import {
  ARP_HTYPE_ETHERNET, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_LLDP, ETHERTYPE_MAX_LENGTH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, IPPROTO_AH, IPPROTO_FRAGMENT, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
} from '../wire/numbers.js';
import { isExtensionHeader } from '../wire/ipv6.js';
import { MAX_TAGS } from '../wire/vlan.js';
import { PORT as VXLAN_PORT, LINUX_LEGACY_PORT, validHeader as validVxlanHeader, vniAt } from '../wire/vxlan.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_PPP, LINKTYPE_PPP_HDLC, LINKTYPE_RAW,
} from '../wire/capture-common.js';
import { llcPayload, LLC_STP } from '../wire/llc.js';
import { ieee80211Payload, radiotapHasFcs, radiotapLength } from '../wire/ieee80211.js';
import {
  type Facts, type Level, IP_LENGTH_BEYOND, IP_LENGTH_ZERO, LINK_LLC, LINK_LLDP, LINK_STP, LINK_UNKNOWN, MAX_LEVELS, clearLevel,
} from './facts.js';

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
      network(facts, 0, len > 0 && data[start]! >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, start, end);
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
      const be = u32(data, start);
      const family = be > 0xffff ? (data[start]! | (data[start + 1]! << 8)) : be;
      network(facts, 0, family === 2 ? ETHERTYPE_IPV4 : family === 10 || family === 24 || family === 28 || family === 30 ? ETHERTYPE_IPV6 : -1, start + 4, end);
      return;
    }
    case LINKTYPE_PPP:
    case LINKTYPE_PPP_HDLC: {
      let p = start;
      if (len >= 2 && data[p] === 0xff && data[p + 1] === 0x03) p += 2;
      if (end - p < 2) return void (l.problem = 'ppp');
      const proto = u16(data, p);
      network(facts, 0, proto === 0x0021 ? ETHERTYPE_IPV4 : proto === 0x0057 ? ETHERTYPE_IPV6 : -1, p + 2, end);
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
  if (end - o < ETH_HEADER_LENGTH) return void (l.problem = 'ether');
  l.ethOffset = o;
  let type = u16(b, o + ETH_TYPE);
  let p = o + ETH_HEADER_LENGTH;
  for (let tags = 0; isVlanTpid(type); tags++) {
    if (tags === MAX_TAGS || end - p < VLAN_TAG_LENGTH) return void (l.problem = 'vlan');
    if (tags === 0) l.vlan = u16(b, p) & 0xfff;
    else if (tags === 1) l.vlan2 = u16(b, p) & 0xfff;
    l.vlanCount = tags + 1;
    type = u16(b, p + VLAN_TYPE);
    p += VLAN_TAG_LENGTH;
  }
  if (type <= ETHERTYPE_MAX_LENGTH) {
    // IEEE 802.3: a length, then an LLC header (which may carry SNAP and an EtherType).
    const llc = llcPayload(b, p, end);
    l.linkOffset = p;
    if (llc >= 0) {
      const inner = u16(b, llc - 2);
      if (inner === ETHERTYPE_IPV4 || inner === ETHERTYPE_IPV6 || inner === ETHERTYPE_ARP) return network(facts, level, inner, llc, end);
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
  if (type === ETHERTYPE_IPV4) return ipv4(facts, l, level, o, end);
  if (type === ETHERTYPE_IPV6) return ipv6(facts, l, level, o, end);
  if (type === ETHERTYPE_ARP) {
    const b = facts.data;
    l.arpOffset = o;
    if (end - o < ARP_FIXED_LENGTH) return void (l.problem = 'arp');
    l.arpOp = u16(b, o + ARP_OP);
    // Addresses are printed only for Ethernet/IPv4 ARP with all 28 bytes captured.
    if (u16(b, o) !== ARP_HTYPE_ETHERNET || u16(b, o + ARP_PTYPE) !== ETHERTYPE_IPV4 || b[o + ARP_HLEN] !== MAC_LENGTH || b[o + ARP_PLEN] !== 4
      || end - o < ARP_ETHERNET_IPV4_LENGTH) l.problem = 'arp';
  }
}

/** End of the packet on the wire, as far as level 0 knows (inner levels end within it). */
function wireEnd(facts: Facts, end: number): number {
  return Math.max(end, facts.start + facts.origlen);
}

function ipv4(facts: Facts, l: Level, level: number, o: number, end: number): void {
  const b = facts.data;
  if (end - o < IPV4_MIN_HEADER_LENGTH) return void (l.problem = 'ip');
  if (b[o]! >> 4 !== 4) return void (l.problem = 'ip-version');
  const ihl = (b[o]! & 0xf) * 4;
  if (ihl < IPV4_MIN_HEADER_LENGTH) return void (l.problem = 'ip-header-length');
  if (end - o < ihl) return void (l.problem = 'ip');
  l.ipVersion = 4;
  l.ipOffset = o;
  l.ipId = u16(b, o + IPV4_ID);
  l.ttl = b[o + IPV4_TTL]!;
  l.protocol = b[o + IPV4_PROTOCOL]!;
  const frag = u16(b, o + IPV4_FRAGMENT);
  l.fragment = (frag & 0x1fff) !== 0;
  let total = u16(b, o + IPV4_TOTAL_LENGTH);
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
  if (end - o < IPV6_HEADER_LENGTH) return void (l.problem = 'ip6');
  if (b[o]! >> 4 !== 6) return void (l.problem = 'ip6-version');
  l.ipVersion = 6;
  l.ipOffset = o;
  l.ttl = b[o + IPV6_HOP_LIMIT]!;
  let payload = u16(b, o + IPV6_PAYLOAD_LENGTH);
  const onWire = wireEnd(facts, end) - o;
  if (payload === 0) {
    payload = onWire - IPV6_HEADER_LENGTH;
    l.ipLengthNote = IP_LENGTH_ZERO;
  } else if (IPV6_HEADER_LENGTH + payload > onWire) {
    l.ipLengthNote = IP_LENGTH_BEYOND;
    l.ipMissing = IPV6_HEADER_LENGTH + payload - onWire;
  }
  l.ipLength = IPV6_HEADER_LENGTH + payload;
  const ipEnd = o + l.ipLength;
  let proto = b[o + IPV6_NEXT_HEADER]!;
  l.ipNextHeader = proto;
  let p = o + IPV6_HEADER_LENGTH;
  // Walk extension headers that were captured; a non-first fragment has no upper layer.
  for (let n = 0; isExtensionHeader(proto); n++) {
    if (n === MAX_EXTENSIONS || end - p < 8) {
      l.protocol = proto;
      l.problem = 'ip6-extension';
      return;
    }
    const next = b[p]!;
    if (proto === IPPROTO_FRAGMENT) {
      l.ipId = u32(b, p + 4);
      l.fragment = (u16(b, p + 2) & 0xfff8) !== 0;
      p += 8;
    } else p += proto === IPPROTO_AH ? (b[p + 1]! + 2) * 4 : (b[p + 1]! + 1) * 8;
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
    case IPPROTO_UDP:
    case IPPROTO_TCP:
    case IPPROTO_SCTP: {
      // Ports are read whenever captured, even when the rest of the header is cut (as BPF does).
      if (have >= 4) {
        l.sourcePort = u16(b, o + UDP_SOURCE_PORT);
        l.destinationPort = u16(b, o + UDP_DESTINATION_PORT);
      }
      if (l.protocol === IPPROTO_UDP) return udp(facts, l, level, o, have);
      if (l.protocol === IPPROTO_TCP) return tcp(l, b, o, have);
      if (have < 12) l.problem = 'sctp';
      return;
    }
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (have < ICMP_COMMON_LENGTH) return void (l.problem = l.protocol === IPPROTO_ICMP ? 'icmp' : 'icmp6');
      l.icmpType = b[o + ICMP_TYPE]!;
      l.icmpCode = b[o + ICMP_CODE]!;
      if (have >= ICMP_HEADER_LENGTH && (l.protocol === IPPROTO_ICMP ? l.icmpType === ICMP_ECHO_REPLY || l.icmpType === ICMP_ECHO_REQUEST
        : l.icmpType === ICMPV6_ECHO_REQUEST || l.icmpType === ICMPV6_ECHO_REPLY)) {
        l.icmpId = u16(b, o + ICMP_ID);
        l.icmpSeq = u16(b, o + ICMP_SEQUENCE);
      }
      return;
    default:
      return;
  }
}

function udp(facts: Facts, l: Level, level: number, o: number, have: number): void {
  if (have < UDP_HEADER_LENGTH) return void (l.problem = 'udp');
  const b = facts.data;
  const dp = l.destinationPort;
  if ((dp === VXLAN_PORT || dp === LINUX_LEGACY_PORT) && level + 1 < MAX_LEVELS && have >= UDP_HEADER_LENGTH + VXLAN_HEADER_LENGTH) {
    const p = o + UDP_HEADER_LENGTH;
    // VXLAN (RFC 7348): only the I flag, reserved bytes zero; anything else is plain UDP to that port.
    if (!validVxlanHeader(b, p)) return;
    l.vni = vniAt(b, p);
    const inner = facts.levels[level + 1]!;
    clearLevel(inner);
    facts.depth = level + 2;
    const udpEnd = Math.min(o + have, o + Math.max(UDP_HEADER_LENGTH, u16(b, o + UDP_LENGTH)));
    ethernet(facts, level + 1, p + VXLAN_HEADER_LENGTH, udpEnd);
  }
}

function tcp(l: Level, b: Uint8Array, o: number, have: number): void {
  if (have < TCP_MIN_HEADER_LENGTH) return void (l.problem = 'tcp');
  const hl = (b[o + TCP_DATA_OFFSET]! >> 4) * 4;
  if (hl < TCP_MIN_HEADER_LENGTH) return void (l.problem = 'tcp-header-length');
  if (have < hl) return void (l.problem = 'tcp');
  l.tcpFlags = b[o + TCP_FLAGS]!;
  l.tcpSeq = u32(b, o + TCP_SEQUENCE);
  l.tcpAck = u32(b, o + TCP_ACKNOWLEDGMENT);
  l.tcpWindow = u16(b, o + TCP_WINDOW);
}

/** The innermost level that has an IP header, or -1. */
export function innermostIp(facts: Facts): number {
  for (let i = facts.depth - 1; i >= 0; i--) if (facts.levels[i]!.ipVersion !== 0) return i;
  return -1;
}

export type { Level };
