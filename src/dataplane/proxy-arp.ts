/**
 * Proxy ARP (RFC 826) and NDP proxy (RFC 4861 §7.2) for owned endpoints.
 *
 * The model is the kernel vxlan driver's `proxy` mode, which Docker's
 * overlay relies on (docs/overlay.md): answer an ARP request or
 * a Neighbor Solicitation only from a table the control plane programmed,
 * with the owning MAC, and never learn from the data path
 * (docs/reliability.md). Unlike Linux `proxy_arp`, a route is never
 * a reason to answer (calico#3270).
 *
 * Pure: frames in, reply bytes out (written into a caller's buffer),
 * time passed in as `now` (ms). Every frame that is not answered bumps a
 * named counter.
 *
 * Where this differs from the kernel's proxy mode, on purpose:
 *  - a request from the owner itself (its MAC asks for its own IP, A5) or
 *    a gratuitous request (sender IP = target IP, A4) gets no reply;
 *  - an NS from the unspecified address (DAD) is answered to all-nodes
 *    with S=0 (RFC 4861 §7.2.4), the kernel replies to `::`;
 *  - replies are rate-limited (A7).
 */
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { foldChecksum, isMulticastMac, isZeroMac, macBytes, macToString, onesSum, setU16, setU32, u16, u32 } from '../wire/bytes.js';
import { formatIPv6, ipBytes, numberToIPv4 } from '../wire/ip.js';
import {
  ARP_ETHERNET_IPV4_LENGTH, ARP_HLEN, ARP_HTYPE, ARP_OP, ARP_PLEN, ARP_PTYPE, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, ETH_DESTINATION,
  ETH_HEADER_LENGTH, ETH_SOURCE, ETH_TYPE, ICMP_CODE, ICMP_CHECKSUM, ICMP_TYPE, ICMP_COMMON_LENGTH, IPV6_ADDRESS_LENGTH, IPV6_DESTINATION,
  IPV6_HEADER_LENGTH, IPV6_HOP_LIMIT, IPV6_NEXT_HEADER, IPV6_PAYLOAD_LENGTH, IPV6_SOURCE, MAC_LENGTH, NDP_FLAGS, NDP_NS_LENGTH, NDP_OPTIONS,
  NDP_TARGET,
} from '../wire/fields.js';
import {
  ARP_HTYPE_ETHERNET, ARP_OP_REPLY, ARP_OP_REQUEST, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION, IPPROTO_ICMPV6, NDP_HOP_LIMIT, NDP_OPT_SOURCE_LL, NDP_OPT_TARGET_LL,
} from '../wire/numbers.js';

/** handle(): the frame is not ARP or an NDP solicitation; the caller forwards it. */
export const NOT_NEIGHBOUR = -1;
/** handle(): consumed (counted) without a reply. */
export const CONSUMED = 0;

export const ARP_REPLY_LENGTH = ETH_HEADER_LENGTH + ARP_ETHERNET_IPV4_LENGTH;
/** A link-layer address option for Ethernet: type, length (in 8-byte units), MAC. */
const LL_OPTION_LENGTH = 8;
/** Ethernet, IPv6, the NA and one target link-layer option. */
export const NA_LENGTH = ETH_HEADER_LENGTH + IPV6_HEADER_LENGTH + NDP_NS_LENGTH + LL_OPTION_LENGTH;
/** Where an ICMPv6 message starts in an Ethernet frame without IPv6 extension headers. */
const ETH_ICMPV6 = ETH_HEADER_LENGTH + IPV6_HEADER_LENGTH;

/**
 * Whether the Ethernet frame f[off, off+len) is ARP or an ICMPv6 Neighbor
 * Solicitation without extension headers: what the proxy answers.
 */
export function isNeighbourQuery(f: Uint8Array, off: number, len: number): boolean {
  if (len < ETH_HEADER_LENGTH) return false;
  const type = etherTypeAt(f, off);
  return type === ETHERTYPE_ARP || (type === ETHERTYPE_IPV6 && len >= ETH_ICMPV6 + ICMP_COMMON_LENGTH
    && f[off + ETH_HEADER_LENGTH + IPV6_NEXT_HEADER] === IPPROTO_ICMPV6 && f[off + ETH_ICMPV6 + ICMP_TYPE] === ICMPV6_NEIGHBOR_SOLICITATION);
}

export type ProxyCounterName =
  | 'arp_replies' | 'na_replies' | 'malformed' | 'not_request' | 'bad_target' | 'not_owned' | 'self_query'
  | 'gratuitous_ignored' | 'invalid_src_mac' | 'spoofed_sender' | 'rate_limited' | 'bad_checksum' | 'announcements';

export type ProxyCounters = Record<ProxyCounterName, number>;

export function newProxyCounters(): ProxyCounters {
  return {
    arp_replies: 0, na_replies: 0, malformed: 0, not_request: 0, bad_target: 0, not_owned: 0, self_query: 0,
    gratuitous_ignored: 0, invalid_src_mac: 0, spoofed_sender: 0, rate_limited: 0, bad_checksum: 0, announcements: 0,
  };
}

interface V6Entry {
  ip: Uint8Array;
  mac: Uint8Array;
}

export type ProxySetResult = 'added' | 'moved' | 'unchanged';

/** Owned endpoints: IPv4/IPv6 address → MAC. Written by the control plane only. */
export class ProxyNeighbourTable {
  readonly #v4 = new Map<number, Uint8Array>();
  /** Bucketed by a 32-bit hash of the 16 address bytes; compared in full. */
  readonly #v6 = new Map<number, V6Entry[]>();

  /** Sets ip → mac. 'moved' means the MAC changed: announce it (gratuitous ARP / unsolicited NA). */
  set(ip: string, mac: string): ProxySetResult {
    const m = macBytes(mac);
    if ((m[0]! & 1) === 1 || m.every((x) => x === 0)) throw new InvalidArgumentError(`proxy entry ${ip}: ${mac} is not a unicast MAC`);
    const a = ipBytes(ip);
    if (a.length === 4) {
      const key = u32(a, 0);
      if (key === 0 || a[0]! >= 224 || a[0] === 127) throw new InvalidArgumentError(`proxy entry: ${ip} is not a unicast address`);
      const cur = this.#v4.get(key);
      this.#v4.set(key, m);
      return !cur ? 'added' : equal6(cur, 0, m) ? 'unchanged' : 'moved';
    }
    if (a[0] === 0xff || a.every((x, i) => x === (i === 15 ? 1 : 0)) || a.every((x) => x === 0)) {
      throw new InvalidArgumentError(`proxy entry: ${ip} is not a unicast address`);
    }
    const h = hash16(a, 0);
    const bucket = this.#v6.get(h) ?? [];
    const cur = bucket.find((e) => equal16(e.ip, a, 0));
    if (cur) {
      const same = equal6(cur.mac, 0, m);
      cur.mac = m;
      return same ? 'unchanged' : 'moved';
    }
    bucket.push({ ip: a, mac: m });
    this.#v6.set(h, bucket);
    return 'added';
  }

  delete(ip: string): boolean {
    const a = ipBytes(ip);
    if (a.length === 4) return this.#v4.delete(u32(a, 0));
    const h = hash16(a, 0);
    const bucket = this.#v6.get(h);
    const i = bucket ? bucket.findIndex((e) => equal16(e.ip, a, 0)) : -1;
    if (i < 0) return false;
    bucket!.splice(i, 1);
    if (bucket!.length === 0) this.#v6.delete(h);
    return true;
  }

  lookupV4(ip: number): Uint8Array | undefined {
    return this.#v4.get(ip);
  }

  /** The MAC owning the IPv6 address at b[o..o+16). */
  lookupV6(b: Uint8Array, o: number): Uint8Array | undefined {
    const bucket = this.#v6.get(hash16(b, o));
    if (!bucket) return undefined;
    for (const e of bucket) if (equal16(e.ip, b, o)) return e.mac;
    return undefined;
  }

  /** MAC bytes for an address in text (control-plane use). */
  get(ip: string): Uint8Array | undefined {
    const a = ipBytes(ip);
    return a.length === 4 ? this.#v4.get(u32(a, 0)) : this.lookupV6(a, 0);
  }

  entries(): { ip: string; mac: string }[] {
    const out: { ip: string; mac: string }[] = [];
    for (const [k, m] of this.#v4) out.push({ ip: numberToIPv4(k), mac: macToString(m) });
    for (const b of this.#v6.values()) for (const e of b) out.push({ ip: formatIPv6(e.ip), mac: macToString(e.mac) });
    return out;
  }
}

/** A token bucket driven by the caller's clock (ms). */
export class TokenBucket {
  #tokens: number;
  #last = -1;
  constructor(readonly perSecond: number, readonly burst: number) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new InvalidArgumentError('rate limit needs perSecond > 0 and burst >= 1');
    this.#tokens = burst;
  }

  take(now: number): boolean {
    if (this.#last < 0) this.#last = now;
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.perSecond) / 1000);
      this.#last = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface ProxyResponderOptions {
  /** Replies per second (default 1000) and burst (default 100), shared by ARP and NDP. */
  ratePerSecond?: number;
  burst?: number;
}

export class ProxyResponder {
  readonly counters: ProxyCounters = newProxyCounters();
  readonly #bucket: TokenBucket;

  constructor(readonly table: ProxyNeighbourTable, opts: ProxyResponderOptions = {}) {
    this.#bucket = new TokenBucket(opts.ratePerSecond ?? 1000, opts.burst ?? 100);
  }

  /**
   * Looks at one Ethernet frame. Returns NOT_NEIGHBOUR when it is neither
   * ARP nor an ICMPv6 Neighbor Solicitation, CONSUMED when it was dropped
   * (and counted), or the length of the reply written at out[outOff..].
   * `out` needs NA_LENGTH bytes.
   */
  handle(f: Uint8Array, off: number, len: number, now: number, out: Uint8Array, outOff: number): number {
    if (!isNeighbourQuery(f, off, len)) return NOT_NEIGHBOUR;
    return etherTypeAt(f, off) === ETHERTYPE_ARP ? this.#arp(f, off, len, now, out, outOff) : this.#ns(f, off, len, now, out, outOff);
  }

  #arp(f: Uint8Array, off: number, len: number, now: number, out: Uint8Array, o: number): number {
    const a = off + ETH_HEADER_LENGTH;
    const c = this.counters;
    if (len < ARP_REPLY_LENGTH || !isEthernetIpv4Arp(f, a)) {
      c.malformed++;
      return CONSUMED;
    }
    const op = u16(f, a + ARP_OP);
    if (op !== ARP_OP_REQUEST) {
      if (op === ARP_OP_REPLY) c.not_request++;
      else c.malformed++;
      return CONSUMED;
    }
    const sha = a + ARP_SHA;
    const sip = u32(f, a + ARP_SPA);
    const tip = u32(f, a + ARP_TPA);
    if (tip === 0 || tip >>> 24 === 127 || tip >>> 28 === 0xe || tip === 0xffffffff) {
      c.bad_target++;
      return CONSUMED;
    }
    if (sip === tip) {
      c.gratuitous_ignored++;
      return CONSUMED;
    }
    if (isMulticastMac(f, sha) || isZeroMac(f, sha)) {
      c.invalid_src_mac++;
      return CONSUMED;
    }
    const owner = this.table.lookupV4(tip);
    if (!owner) {
      c.not_owned++;
      return CONSUMED;
    }
    if (equal6(owner, 0, f, sha)) {
      c.self_query++;
      return CONSUMED;
    }
    const claimed = sip === 0 ? undefined : this.table.lookupV4(sip);
    if (claimed && !equal6(claimed, 0, f, sha)) c.spoofed_sender++;
    if (!this.#bucket.take(now)) {
      c.rate_limited++;
      return CONSUMED;
    }
    // Ethernet: to the requester, from the owner (what the kernel's arp_reduce builds).
    out.set(f.subarray(sha, sha + MAC_LENGTH), o + ETH_DESTINATION);
    const r = writeArpHeader(out, o, owner, ARP_OP_REPLY);
    out.set(f.subarray(a + ARP_TPA, a + ARP_TPA + 4), r + ARP_SPA);
    out.set(f.subarray(sha, sha + MAC_LENGTH), r + ARP_THA);
    out.set(f.subarray(a + ARP_SPA, a + ARP_SPA + 4), r + ARP_TPA);
    c.arp_replies++;
    return ARP_REPLY_LENGTH;
  }

  #ns(f: Uint8Array, off: number, len: number, now: number, out: Uint8Array, o: number): number {
    const c = this.counters;
    const ip = off + ETH_HEADER_LENGTH;
    const icmp = off + ETH_ICMPV6;
    const payload = u16(f, ip + IPV6_PAYLOAD_LENGTH);
    if (f[ip]! >>> 4 !== 6 || payload < NDP_NS_LENGTH || ETH_ICMPV6 + payload > len || f[icmp + ICMP_CODE] !== 0 || f[ip + IPV6_HOP_LIMIT] !== NDP_HOP_LIMIT) {
      c.malformed++;
      return CONSUMED;
    }
    const sum = onesSum(f, icmp, payload, pseudoSum(f, ip + IPV6_SOURCE, ip + IPV6_DESTINATION, payload));
    if (foldChecksum(sum) !== 0) {
      c.bad_checksum++;
      return CONSUMED;
    }
    const target = icmp + NDP_TARGET;
    if (f[target] === 0xff || isLoopback16(f, target) || f[ip + IPV6_DESTINATION] !== 0xff && isLoopback16(f, ip + IPV6_DESTINATION)) {
      c.bad_target++;
      return CONSUMED;
    }
    // Requester MAC: the source link-layer option when present (as the kernel), else the Ethernet source.
    let requester = off + ETH_SOURCE;
    for (let p = icmp + NDP_OPTIONS; p + 2 <= icmp + payload; ) {
      const olen = f[p + 1]! * 8;
      if (olen === 0 || p + olen > icmp + payload) {
        c.malformed++;
        return CONSUMED;
      }
      if (f[p] === NDP_OPT_SOURCE_LL && olen === LL_OPTION_LENGTH) requester = p + 2;
      p += olen;
    }
    if (isMulticastMac(f, requester) || isZeroMac(f, requester)) {
      c.invalid_src_mac++;
      return CONSUMED;
    }
    const owner = this.table.lookupV6(f, target);
    if (!owner) {
      c.not_owned++;
      return CONSUMED;
    }
    if (equal6(owner, 0, f, off + ETH_SOURCE)) {
      c.self_query++;
      return CONSUMED;
    }
    if (!this.#bucket.take(now)) {
      c.rate_limited++;
      return CONSUMED;
    }
    const dad = isZero16(f, ip + IPV6_SOURCE);
    if (dad) writeAllNodes(out, o);
    else out.set(f.subarray(requester, requester + MAC_LENGTH), o + ETH_DESTINATION);
    buildNa(out, o, owner, f, target, dad ? null : f, ip + IPV6_SOURCE, !dad);
    c.na_replies++;
    return NA_LENGTH;
  }

  /** A gratuitous ARP request (sender IP = target IP) announcing ip at mac. Returns its length. */
  gratuitousArp(ip: string, out: Uint8Array, o = 0): number {
    const mac = this.#owned(ip, 4);
    out.fill(0xff, o + ETH_DESTINATION, o + ETH_DESTINATION + MAC_LENGTH);
    const r = writeArpHeader(out, o, mac, ARP_OP_REQUEST);
    const a = ipBytes(ip);
    out.set(a, r + ARP_SPA);
    out.fill(0, r + ARP_THA, r + ARP_THA + MAC_LENGTH);
    out.set(a, r + ARP_TPA);
    this.counters.announcements++;
    return ARP_REPLY_LENGTH;
  }

  /** An unsolicited Neighbor Advertisement (O=1, S=0) to all-nodes. Returns its length. */
  unsolicitedNa(ip: string, out: Uint8Array, o = 0): number {
    const mac = this.#owned(ip, 16);
    const a = ipBytes(ip);
    writeAllNodes(out, o);
    buildNa(out, o, mac, a, 0, null, 0, false);
    this.counters.announcements++;
    return NA_LENGTH;
  }

  /** The announcement for an entry that was added or moved (ARP or NA by family). */
  announce(ip: string, out: Uint8Array, o = 0): number {
    return ip.includes(':') ? this.unsolicitedNa(ip, out, o) : this.gratuitousArp(ip, out, o);
  }

  #owned(ip: string, family: 4 | 16): Uint8Array {
    const mac = this.table.get(ip);
    if (!mac || ipBytes(ip).length !== family) throw new NotFoundError(`${ip} is not in the proxy table`);
    return mac;
  }
}

/**
 * Writes Ethernet source/type, IPv6 and the NA (destination MAC already at
 * out[o..o+6]). Destination IP: dst[dstOff..] or ff02::1 when dst is null.
 */
function buildNa(out: Uint8Array, o: number, mac: Uint8Array, tb: Uint8Array, tOff: number, dst: Uint8Array | null, dstOff: number, solicited: boolean): void {
  out.set(mac, o + ETH_SOURCE);
  setU16(out, o + ETH_TYPE, ETHERTYPE_IPV6);
  const ip = o + ETH_HEADER_LENGTH;
  const icmpLength = NA_LENGTH - ETH_ICMPV6;
  setU32(out, ip, 0x60000000); // version 6, traffic class and flow label 0
  setU16(out, ip + IPV6_PAYLOAD_LENGTH, icmpLength);
  out[ip + IPV6_NEXT_HEADER] = IPPROTO_ICMPV6;
  out[ip + IPV6_HOP_LIMIT] = NDP_HOP_LIMIT;
  out.set(tb.subarray(tOff, tOff + IPV6_ADDRESS_LENGTH), ip + IPV6_SOURCE);
  const ipDst = ip + IPV6_DESTINATION;
  if (dst) out.set(dst.subarray(dstOff, dstOff + IPV6_ADDRESS_LENGTH), ipDst);
  else {
    out.fill(0, ipDst, ipDst + IPV6_ADDRESS_LENGTH);
    out[ipDst] = 0xff; out[ipDst + 1] = 0x02; out[ipDst + 15] = 1;
  }
  const icmp = o + ETH_ICMPV6;
  out[icmp + ICMP_TYPE] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
  out[icmp + ICMP_CODE] = 0;
  setU16(out, icmp + ICMP_CHECKSUM, 0);
  // R=0, S as asked, O=1 (the kernel's vxlan_na_create sets S and O).
  setU32(out, icmp + NDP_FLAGS, ((solicited ? 0x40 : 0) | 0x20) << 24);
  out.set(tb.subarray(tOff, tOff + IPV6_ADDRESS_LENGTH), icmp + NDP_TARGET);
  const opt = icmp + NDP_OPTIONS;
  out[opt] = NDP_OPT_TARGET_LL;
  out[opt + 1] = LL_OPTION_LENGTH / 8;
  out.set(mac, opt + 2);
  setU16(out, icmp + ICMP_CHECKSUM, foldChecksum(onesSum(out, icmp, icmpLength, pseudoSum(out, ip + IPV6_SOURCE, ipDst, icmpLength))));
}

/** htype Ethernet, ptype IPv4, lengths 6 and 4: the only ARP the proxy answers. */
function isEthernetIpv4Arp(f: Uint8Array, a: number): boolean {
  return u16(f, a + ARP_HTYPE) === ARP_HTYPE_ETHERNET && u16(f, a + ARP_PTYPE) === ETHERTYPE_IPV4 && f[a + ARP_HLEN] === MAC_LENGTH && f[a + ARP_PLEN] === 4;
}

/**
 * Writes the Ethernet source and type and the ARP header up to the sender
 * hardware address (`mac`) of a frame at out[o..]; returns the ARP offset.
 */
function writeArpHeader(out: Uint8Array, o: number, mac: Uint8Array, op: number): number {
  out.set(mac, o + ETH_SOURCE);
  setU16(out, o + ETH_TYPE, ETHERTYPE_ARP);
  const r = o + ETH_HEADER_LENGTH;
  setU16(out, r + ARP_HTYPE, ARP_HTYPE_ETHERNET);
  setU16(out, r + ARP_PTYPE, ETHERTYPE_IPV4);
  out[r + ARP_HLEN] = MAC_LENGTH;
  out[r + ARP_PLEN] = 4;
  setU16(out, r + ARP_OP, op);
  out.set(mac, r + ARP_SHA);
  return r;
}

function etherTypeAt(f: Uint8Array, off: number): number {
  return (f[off + ETH_TYPE]! << 8) | f[off + ETH_TYPE + 1]!;
}

function writeAllNodes(out: Uint8Array, o: number): void {
  out[o] = 0x33; out[o + 1] = 0x33; out[o + 2] = 0; out[o + 3] = 0; out[o + 4] = 0; out[o + 5] = 1;
}

/** IPv6 pseudo-header sum for ICMPv6 (addresses read in place, no allocation). */
function pseudoSum(b: Uint8Array, src: number, dst: number, length: number): number {
  return onesSum(b, dst, IPV6_ADDRESS_LENGTH, onesSum(b, src, IPV6_ADDRESS_LENGTH)) + IPPROTO_ICMPV6 + length;
}

function equal6(a: Uint8Array, ao: number, b: Uint8Array, bo = 0): boolean {
  for (let i = 0; i < 6; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

function equal16(a: Uint8Array, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[bo + i]) return false;
  return true;
}

function isZero16(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}

function isLoopback16(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 15; i++) if (b[o + i] !== 0) return false;
  return b[o + 15] === 1;
}

function hash16(b: Uint8Array, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ b[o + i]!, 0x01000193);
  return h >>> 0;
}

