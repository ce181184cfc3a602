/**
 * decodeFrame: walks every layer of a captured frame, outermost first
 * (ethernet -> vlan* -> arp | ipv4 | ipv6 -> icmpv4 | icmpv6 | udp | tcp ->
 * vxlan -> inner ethernet -> ...), for printing (trace CLI) and fuzzing.
 *
 * Result: `{ layers, error? }`.
 *  - `layers` is an array of plain, JSON-printable objects, each with
 *    `layer` (the discriminant below), `offset` (absolute byte offset in
 *    the input) and `length` (bytes of this layer and everything inside
 *    it). No payload bytes are copied; a trailing `{ layer: 'payload' }`
 *    gives offset/length of the bytes no codec claimed (application data,
 *    a non-first fragment, an unknown protocol). `payload.hint` names a
 *    likely decoder ('dns' for port 53/5353, 'fragment' ...).
 *  - `error` is set when a layer could not be decoded: `{ layer, offset,
 *    reason }` as in DecodeError. Layers before it are still returned.
 * decodeFrame never throws on any input (the fuzz target checks that).
 *
 * Checksums are reported, not enforced: `checksumValid` is false on
 * locally sent packets captured before offload fills them in.
 */
import { DecodeError, type DecodeReason } from '../errors.js';
import { hex, macToString, u16, u32 } from './bytes.js';
import { formatIPv4, formatIPv6 } from './ip.js';
import * as ethernet from './ethernet.js';
import * as vlan from './vlan.js';
import * as arp from './arp.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';
import * as icmpv4 from './icmpv4.js';
import * as icmpv6 from './icmpv6.js';
import * as udp from './udp.js';
import * as tcp from './tcp.js';
import * as vxlan from './vxlan.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from './numbers.js';

interface Base {
  offset: number;
  length: number;
  /** Decoded with DecodeFrameOptions.cut from fewer bytes than the header's length says. */
  cut?: boolean;
}

export type Layer =
  | (Base & { layer: 'ethernet'; destination: string; source: string; etherType: number; etherTypeName: string })
  | (Base & { layer: 'vlan'; tpid: number; pcp: number; dei: boolean; vid: number; etherType: number })
  | (Base & { layer: 'arp' } & arp.ArpRepr)
  | (Base & {
      layer: 'ipv4'; headerLength: number; dscp: number; ecn: number; totalLength: number; identification: number;
      dontFragment: boolean; moreFragments: boolean; fragmentOffset: number; ttl: number; protocol: number;
      protocolName: string; checksum: number; checksumValid: boolean; source: string; destination: string; optionsLength: number;
    })
  | (Base & {
      layer: 'ipv6'; trafficClass: number; flowLabel: number; payloadLength: number; nextHeader: number; hopLimit: number;
      source: string; destination: string; extensions: { type: number; name: string; offset: number; length: number }[];
      protocol: number; protocolName: string; fragment?: { offset: number; moreFragments: boolean; identification: number };
    })
  | (Base & { layer: 'icmpv4'; type: number; code: number; checksum: number; checksumValid: boolean; identifier?: number; sequence?: number })
  | (Base & { layer: 'icmpv6'; type: number; code: number; checksum: number; checksumValid: boolean; identifier?: number; sequence?: number; ndp?: icmpv6.NdpMessage })
  | (Base & { layer: 'udp'; sourcePort: number; destinationPort: number; datagramLength: number; checksum: number; checksumValid: boolean | null })
  | (Base & {
      layer: 'tcp'; sourcePort: number; destinationPort: number; sequenceNumber: number; acknowledgmentNumber: number;
      headerLength: number; flags: number; flagNames: string[]; window: number; checksum: number; checksumValid: boolean | null; urgentPointer: number;
    })
  | (Base & { layer: 'vxlan'; flags: number; vni: number })
  | (Base & { layer: 'payload'; hint?: string; preview: string });

export type LayerName = Layer['layer'];

export interface FrameError {
  layer: string;
  offset: number;
  reason: DecodeReason;
}

export interface DecodedFrame {
  layers: Layer[];
  error?: FrameError;
}

export interface DecodeFrameOptions {
  /** What the first byte is: an Ethernet header (default) or an IP packet (TUN, raw). */
  link?: 'ethernet' | 'ip';
  /** UDP destination ports decoded as VXLAN (default 4789 and 8472). */
  vxlanPorts?: readonly number[];
  /**
   * The capture may have cut the frame (snap length) or the IP length may
   * not fit it (TSO/GRO): decode an IP header whose length runs past the
   * bytes, and the transport header in what is there. Such layers carry
   * `cut: true`; checksums that need missing bytes are null.
   */
  cut?: boolean;
}

/** Bounds the walk: three nested tunnels is already unusual. */
export const MAX_TUNNEL_DEPTH = 4;
const PREVIEW_BYTES = 16;
const DEFAULT_VXLAN_PORTS: readonly number[] = [vxlan.PORT, vxlan.LINUX_LEGACY_PORT];
const TCP_FLAG_NAMES: [number, string][] = [[0x01, 'FIN'], [0x02, 'SYN'], [0x04, 'RST'], [0x08, 'PSH'], [0x10, 'ACK'], [0x20, 'URG'], [0x40, 'ECE'], [0x80, 'CWR'], [0x100, 'AE']];

class Walk {
  layers: Layer[] = [];
  constructor(readonly b: Uint8Array, readonly vxlanPorts: readonly number[], readonly cut = false) {}

  payload(offset: number, end: number, hint?: string): void {
    if (end <= offset) return;
    const l: Layer = { layer: 'payload', offset, length: end - offset, preview: hex(this.b, offset, Math.min(PREVIEW_BYTES, end - offset)) };
    if (hint) l.hint = hint;
    this.layers.push(l);
  }

  ethernet(o: number, end: number, depth: number): void {
    const b = this.b;
    const v = new ethernet.EthernetView(b, o, end - o);
    this.layers.push({ layer: 'ethernet', offset: o, length: end - o, destination: macToString(b, o), source: macToString(b, o + 6), etherType: v.etherType, etherTypeName: ethernet.etherTypeName(v.etherType) });
    let type = v.etherType;
    let p = v.payloadOffset;
    if (ethernet.isVlanTpid(type)) {
      const stack = vlan.decodeStack(b, type, p, end);
      let t = p;
      for (const tag of stack.tags) {
        this.layers.push({ layer: 'vlan', offset: t, length: end - t, tpid: tag.tpid, pcp: tag.pcp, dei: tag.dei, vid: tag.vid, etherType: u16(b, t + 2) });
        t += vlan.TAG_LENGTH;
      }
      type = stack.etherType;
      p = stack.payloadOffset;
    }
    this.network(type, p, end, depth);
  }

  network(etherType: number, o: number, end: number, depth: number): void {
    if (etherType === ETHERTYPE_IPV4) return this.ipv4(o, end, depth);
    if (etherType === ETHERTYPE_IPV6) return this.ipv6(o, end, depth);
    if (etherType === ETHERTYPE_ARP) {
      const v = new arp.ArpView(this.b, o, end - o);
      const len = arp.FIXED_LENGTH + 2 * (v.hardwareLength + v.protocolLength);
      this.layers.push({ layer: 'arp', offset: o, length: len, ...arp.decode(this.b, o, len) });
      return this.payload(o + len, end, 'padding');
    }
    this.payload(o, end);
  }

  ipv4(o: number, end: number, depth: number): void {
    const b = this.b;
    if (this.cut && end - o >= 20 && b[o]! >> 4 === 4) {
      const ihl = (b[o]! & 0xf) * 4;
      const total = u16(b, o + 2);
      if (ihl >= 20 && ihl <= end - o && (total === 0 || total > end - o)) return this.ipv4Cut(o, end, depth, ihl, total);
    }
    const v = new ipv4.Ipv4View(b, o, end - o);
    this.layers.push({
      layer: 'ipv4', offset: o, length: v.totalLength, headerLength: v.headerLength, dscp: v.dscp, ecn: v.ecn, totalLength: v.totalLength,
      identification: v.identification, dontFragment: v.dontFragment, moreFragments: v.moreFragments, fragmentOffset: v.fragmentOffset,
      ttl: v.ttl, protocol: v.protocol, protocolName: ipv4.protocolName(v.protocol), checksum: v.checksum, checksumValid: v.checksumValid,
      source: formatIPv4(b, o + 12), destination: formatIPv4(b, o + 16), optionsLength: v.headerLength - ipv4.MIN_HEADER_LENGTH,
    });
    const ipEnd = o + v.totalLength;
    if (v.fragmentOffset !== 0) {
      this.payload(v.payloadOffset, ipEnd, 'fragment');
    } else {
      this.transport(v.protocol, v.payloadOffset, ipEnd, v.source, v.destination, depth, v.moreFragments);
    }
    this.payload(ipEnd, end, 'padding');
  }

  /** An IPv4 header complete in the capture whose datagram is not (cut mode). */
  ipv4Cut(o: number, end: number, depth: number, ihl: number, total: number): void {
    const b = this.b;
    let sum = 0;
    for (let i = o; i < o + ihl; i += 2) sum += u16(b, i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const frag = u16(b, o + 6);
    const protocol = b[o + 9]!;
    this.layers.push({
      layer: 'ipv4', offset: o, length: end - o, cut: true, headerLength: ihl, dscp: b[o + 1]! >> 2, ecn: b[o + 1]! & 3, totalLength: total,
      identification: u16(b, o + 4), dontFragment: (frag & 0x4000) !== 0, moreFragments: (frag & 0x2000) !== 0, fragmentOffset: (frag & 0x1fff) * 8,
      ttl: b[o + 8]!, protocol, protocolName: ipv4.protocolName(protocol), checksum: u16(b, o + 10), checksumValid: sum === 0xffff,
      source: formatIPv4(b, o + 12), destination: formatIPv4(b, o + 16), optionsLength: ihl - ipv4.MIN_HEADER_LENGTH,
    });
    if ((frag & 0x1fff) !== 0) return this.payload(o + ihl, end, 'fragment');
    this.transport(protocol, o + ihl, end, b.subarray(o + 12, o + 16), b.subarray(o + 16, o + 20), depth, true, true);
  }

  ipv6(o: number, end: number, depth: number): void {
    const b = this.b;
    if (this.cut && end - o >= 40 && b[o]! >> 4 === 6 && (u16(b, o + 4) === 0 || 40 + u16(b, o + 4) > end - o)) return this.ipv6Cut(o, end, depth);
    const v = new ipv6.Ipv6View(b, o, end - o);
    const ipEnd = o + ipv6.HEADER_LENGTH + v.payloadLength;
    const walk = ipv6.walkExtensions(b, v.nextHeader, v.payloadOffset, ipEnd);
    const layer: Layer = {
      layer: 'ipv6', offset: o, length: ipEnd - o, trafficClass: v.trafficClass, flowLabel: v.flowLabel, payloadLength: v.payloadLength,
      nextHeader: v.nextHeader, hopLimit: v.hopLimit, source: formatIPv6(b, o + 8), destination: formatIPv6(b, o + 24),
      extensions: walk.headers, protocol: walk.protocol, protocolName: ipv4.protocolName(walk.protocol),
    };
    if (walk.fragment) layer.fragment = walk.fragment;
    this.layers.push(layer);
    if (walk.fragment && walk.fragment.offset !== 0) this.payload(walk.offset, ipEnd, 'fragment');
    else this.transport(walk.protocol, walk.offset, ipEnd, v.source, v.destination, depth, walk.fragment?.moreFragments ?? false);
    this.payload(ipEnd, end, 'padding');
  }

  /** An IPv6 header complete in the capture whose payload is not (cut mode). */
  ipv6Cut(o: number, end: number, depth: number): void {
    const b = this.b;
    const next = b[o + 6]!;
    const walk = ipv6.walkExtensions(b, next, o + ipv6.HEADER_LENGTH, end);
    const layer: Layer = {
      layer: 'ipv6', offset: o, length: end - o, cut: true, trafficClass: ((b[o]! & 0xf) << 4) | (b[o + 1]! >> 4),
      flowLabel: ((b[o + 1]! & 0xf) << 16) | u16(b, o + 2), payloadLength: u16(b, o + 4), nextHeader: next, hopLimit: b[o + 7]!,
      source: formatIPv6(b, o + 8), destination: formatIPv6(b, o + 24), extensions: walk.headers, protocol: walk.protocol,
      protocolName: ipv4.protocolName(walk.protocol),
    };
    if (walk.fragment) layer.fragment = walk.fragment;
    this.layers.push(layer);
    if (walk.fragment && walk.fragment.offset !== 0) return this.payload(walk.offset, end, 'fragment');
    this.transport(walk.protocol, walk.offset, end, b.subarray(o + 8, o + 24), b.subarray(o + 24, o + 40), depth, true, true);
  }

  /** `partial`: a first fragment or a cut datagram, so lengths and checksums cover bytes we do not have. */
  transport(protocol: number, o: number, end: number, src: Uint8Array, dst: Uint8Array, depth: number, partial: boolean, cut = false): void {
    const b = this.b;
    if (protocol === IPPROTO_UDP) {
      if (partial) {
        const hint = cut ? 'cut' : 'fragment';
        if (end - o < udp.HEADER_LENGTH) return this.payload(o, end, hint);
        const l: Layer = { layer: 'udp', offset: o, length: end - o, sourcePort: u16(b, o), destinationPort: u16(b, o + 2), datagramLength: u16(b, o + 4), checksum: u16(b, o + 6), checksumValid: null };
        if (cut) l.cut = true;
        this.layers.push(l);
        return this.payload(o + udp.HEADER_LENGTH, end, hint);
      }
      const v = new udp.UdpView(b, o, end - o);
      const sp = v.sourcePort;
      const dp = v.destinationPort;
      this.layers.push({ layer: 'udp', offset: o, length: v.datagramLength, sourcePort: sp, destinationPort: dp, datagramLength: v.datagramLength, checksum: v.checksum, checksumValid: v.checksum === 0 && src.length === 4 ? null : v.checksumValid(src, dst) });
      const p = v.payloadOffset;
      const pEnd = o + v.datagramLength;
      if (this.vxlanPorts.includes(dp) && depth < MAX_TUNNEL_DEPTH) return this.vxlan(p, pEnd, depth + 1);
      const hint = sp === 53 || dp === 53 || sp === 5353 || dp === 5353 ? 'dns' : undefined;
      return this.payload(p, pEnd, hint);
    }
    if (protocol === IPPROTO_TCP && cut && end - o >= 20 && end - o >= (b[o + 12]! >> 4) * 4 && b[o + 12]! >> 4 >= 5) {
      const hl = (b[o + 12]! >> 4) * 4;
      const flags = b[o + 13]!;
      this.layers.push({
        layer: 'tcp', offset: o, length: end - o, cut: true, sourcePort: u16(b, o), destinationPort: u16(b, o + 2), sequenceNumber: u32(b, o + 4),
        acknowledgmentNumber: u32(b, o + 8), headerLength: hl, flags, flagNames: TCP_FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n),
        window: u16(b, o + 14), checksum: u16(b, o + 16), checksumValid: null, urgentPointer: u16(b, o + 18),
      });
      return this.payload(o + hl, end, u16(b, o) === 53 || u16(b, o + 2) === 53 ? 'dns-tcp' : 'cut');
    }
    if (protocol === IPPROTO_TCP && !partial) {
      const v = new tcp.TcpView(b, o, end - o);
      const flags = v.flags;
      this.layers.push({
        layer: 'tcp', offset: o, length: end - o, sourcePort: v.sourcePort, destinationPort: v.destinationPort, sequenceNumber: v.sequenceNumber,
        acknowledgmentNumber: v.acknowledgmentNumber, headerLength: v.headerLength, flags, flagNames: TCP_FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n),
        window: v.window, checksum: v.checksum, checksumValid: v.checksumValid(src, dst), urgentPointer: v.urgentPointer,
      });
      const hint = v.sourcePort === 53 || v.destinationPort === 53 ? 'dns-tcp' : undefined;
      return this.payload(v.payloadOffset, end, hint);
    }
    if (protocol === IPPROTO_ICMP && !partial) {
      const v = new icmpv4.Icmpv4View(b, o, end - o);
      const l: Layer = { layer: 'icmpv4', offset: o, length: end - o, type: v.type, code: v.code, checksum: v.checksum, checksumValid: v.checksumValid };
      if (v.isEcho) Object.assign(l, { identifier: v.identifier, sequence: v.sequence });
      this.layers.push(l);
      return this.payload(o + icmpv4.HEADER_LENGTH, end);
    }
    if (protocol === IPPROTO_ICMPV6 && !partial) {
      const v = new icmpv6.Icmpv6View(b, o, end - o);
      const l: Layer = { layer: 'icmpv6', offset: o, length: end - o, type: v.type, code: v.code, checksum: v.checksum, checksumValid: v.checksumValid(src, dst) };
      if ((v.type === 128 || v.type === 129) && end - o >= 8) Object.assign(l, { identifier: u16(b, o + 4), sequence: u16(b, o + 6) });
      this.layers.push(l);
      if (icmpv6.isNdp(v.type)) {
        l.ndp = icmpv6.decodeNdp(v.type, v.body, o + icmpv6.HEADER_LENGTH)!;
        return;
      }
      return this.payload(o + (l.identifier !== undefined ? 8 : icmpv6.HEADER_LENGTH), end);
    }
    this.payload(o, end, cut ? 'cut' : partial ? 'fragment' : undefined);
  }

  vxlan(o: number, end: number, depth: number): void {
    const v = new vxlan.VxlanView(this.b, o, end - o);
    this.layers.push({ layer: 'vxlan', offset: o, length: end - o, flags: v.flags, vni: v.vni });
    this.ethernet(v.payloadOffset, end, depth);
  }
}

/** Decodes every layer it can; never throws. See the header comment for the shape. */
export function decodeFrame(bytes: Uint8Array, opts: DecodeFrameOptions = {}): DecodedFrame {
  const w = new Walk(bytes, opts.vxlanPorts ?? DEFAULT_VXLAN_PORTS, opts.cut === true);
  try {
    if (opts.link === 'ip') {
      const version = bytes.length > 0 ? bytes[0]! >> 4 : 0;
      if (version === 6) w.ipv6(0, bytes.length, 0);
      else w.ipv4(0, bytes.length, 0);
    } else {
      w.ethernet(0, bytes.length, 0);
    }
    return { layers: w.layers };
  } catch (err) {
    if (err instanceof DecodeError) return { layers: w.layers, error: { layer: err.layer, offset: err.offset, reason: err.reason } };
    throw err;
  }
}
