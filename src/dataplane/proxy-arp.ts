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
import { macBytes, macToString, onesSum, foldChecksum, u32 } from '../wire/bytes.js';
import { formatIPv6, ipBytes, numberToIPv4 } from '../wire/ip.js';

/** handle(): the frame is not ARP or an NDP solicitation; the caller forwards it. */
export const NOT_NEIGHBOUR = -1;
/** handle(): consumed (counted) without a reply. */
export const CONSUMED = 0;

export const ARP_REPLY_LENGTH = 42;
export const NA_LENGTH = 86;

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

const ETH_ARP = 0x0806;
const ETH_IPV6 = 0x86dd;

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
    if (len < 14) return NOT_NEIGHBOUR;
    const type = (f[off + 12]! << 8) | f[off + 13]!;
    if (type === ETH_ARP) return this.#arp(f, off, len, now, out, outOff);
    if (type === ETH_IPV6 && len >= 14 + 40 + 4 && f[off + 14 + 6] === 58 && f[off + 54] === 135) return this.#ns(f, off, len, now, out, outOff);
    return NOT_NEIGHBOUR;
  }

  #arp(f: Uint8Array, off: number, len: number, now: number, out: Uint8Array, o: number): number {
    const a = off + 14;
    const c = this.counters;
    if (len < 14 + 28 || f[a] !== 0 || f[a + 1] !== 1 || f[a + 2] !== 8 || f[a + 3] !== 0 || f[a + 4] !== 6 || f[a + 5] !== 4) {
      c.malformed++;
      return CONSUMED;
    }
    const op = (f[a + 6]! << 8) | f[a + 7]!;
    if (op !== 1) {
      if (op === 2) c.not_request++;
      else c.malformed++;
      return CONSUMED;
    }
    const sha = a + 8;
    const sip = u32(f, a + 14);
    const tip = u32(f, a + 24);
    if (tip === 0 || tip >>> 24 === 127 || tip >>> 28 === 0xe || tip === 0xffffffff) {
      c.bad_target++;
      return CONSUMED;
    }
    if (sip === tip) {
      c.gratuitous_ignored++;
      return CONSUMED;
    }
    if ((f[sha]! & 1) === 1 || isZero6(f, sha)) {
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
    out.set(f.subarray(sha, sha + 6), o);
    out.set(owner, o + 6);
    out[o + 12] = 0x08;
    out[o + 13] = 0x06;
    const r = o + 14;
    out[r] = 0; out[r + 1] = 1; out[r + 2] = 8; out[r + 3] = 0; out[r + 4] = 6; out[r + 5] = 4; out[r + 6] = 0; out[r + 7] = 2;
    out.set(owner, r + 8);
    out.set(f.subarray(a + 24, a + 28), r + 14);
    out.set(f.subarray(sha, sha + 6), r + 18);
    out.set(f.subarray(a + 14, a + 18), r + 24);
    c.arp_replies++;
    return ARP_REPLY_LENGTH;
  }

  #ns(f: Uint8Array, off: number, len: number, now: number, out: Uint8Array, o: number): number {
    const c = this.counters;
    const ip = off + 14;
    const icmp = ip + 40;
    const payload = (f[ip + 4]! << 8) | f[ip + 5]!;
    if (f[ip]! >>> 4 !== 6 || payload < 24 || 54 + payload > len || f[icmp + 1] !== 0 || f[ip + 7] !== 255) {
      c.malformed++;
      return CONSUMED;
    }
    const sum = onesSum(f, icmp, payload, pseudoSum(f, ip + 8, ip + 24, payload));
    if (foldChecksum(sum) !== 0) {
      c.bad_checksum++;
      return CONSUMED;
    }
    const target = icmp + 8;
    if (f[target] === 0xff || isLoopback16(f, target) || f[ip + 24] !== 0xff && isLoopback16(f, ip + 24)) {
      c.bad_target++;
      return CONSUMED;
    }
    // Requester MAC: the source link-layer option when present (as the kernel), else the Ethernet source.
    let requester = off + 6;
    for (let p = icmp + 24; p + 2 <= icmp + payload; ) {
      const olen = f[p + 1]! * 8;
      if (olen === 0 || p + olen > icmp + payload) {
        c.malformed++;
        return CONSUMED;
      }
      if (f[p] === 1 && olen === 8) requester = p + 2;
      p += olen;
    }
    if ((f[requester]! & 1) === 1 || isZero6(f, requester)) {
      c.invalid_src_mac++;
      return CONSUMED;
    }
    const owner = this.table.lookupV6(f, target);
    if (!owner) {
      c.not_owned++;
      return CONSUMED;
    }
    if (equal6(owner, 0, f, off + 6)) {
      c.self_query++;
      return CONSUMED;
    }
    if (!this.#bucket.take(now)) {
      c.rate_limited++;
      return CONSUMED;
    }
    const dad = isZero16(f, ip + 8);
    if (dad) writeAllNodes(out, o);
    else out.set(f.subarray(requester, requester + 6), o);
    buildNa(out, o, owner, f, target, dad ? null : f, ip + 8, !dad);
    c.na_replies++;
    return NA_LENGTH;
  }

  /** A gratuitous ARP request (sender IP = target IP) announcing ip at mac. Returns its length. */
  gratuitousArp(ip: string, out: Uint8Array, o = 0): number {
    const mac = this.#owned(ip, 4);
    out.fill(0xff, o, o + 6);
    out.set(mac, o + 6);
    out[o + 12] = 0x08;
    out[o + 13] = 0x06;
    const r = o + 14;
    out[r] = 0; out[r + 1] = 1; out[r + 2] = 8; out[r + 3] = 0; out[r + 4] = 6; out[r + 5] = 4; out[r + 6] = 0; out[r + 7] = 1;
    const a = ipBytes(ip);
    out.set(mac, r + 8);
    out.set(a, r + 14);
    out.fill(0, r + 18, r + 24);
    out.set(a, r + 24);
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
  out.set(mac, o + 6);
  out[o + 12] = 0x86;
  out[o + 13] = 0xdd;
  const ip = o + 14;
  out[ip] = 0x60; out[ip + 1] = 0; out[ip + 2] = 0; out[ip + 3] = 0;
  out[ip + 4] = 0; out[ip + 5] = 32; out[ip + 6] = 58; out[ip + 7] = 255;
  out.set(tb.subarray(tOff, tOff + 16), ip + 8);
  if (dst) out.set(dst.subarray(dstOff, dstOff + 16), ip + 24);
  else {
    out.fill(0, ip + 24, ip + 40);
    out[ip + 24] = 0xff; out[ip + 25] = 0x02; out[ip + 39] = 1;
  }
  const icmp = ip + 40;
  out[icmp] = 136; out[icmp + 1] = 0; out[icmp + 2] = 0; out[icmp + 3] = 0;
  // R=0, S as asked, O=1 (the kernel's vxlan_na_create sets S and O).
  out[icmp + 4] = (solicited ? 0x40 : 0) | 0x20; out[icmp + 5] = 0; out[icmp + 6] = 0; out[icmp + 7] = 0;
  out.set(tb.subarray(tOff, tOff + 16), icmp + 8);
  out[icmp + 24] = 2; out[icmp + 25] = 1;
  out.set(mac, icmp + 26);
  const cs = foldChecksum(onesSum(out, icmp, 32, pseudoSum(out, ip + 8, ip + 24, 32)));
  out[icmp + 2] = cs >>> 8;
  out[icmp + 3] = cs & 0xff;
}

function writeAllNodes(out: Uint8Array, o: number): void {
  out[o] = 0x33; out[o + 1] = 0x33; out[o + 2] = 0; out[o + 3] = 0; out[o + 4] = 0; out[o + 5] = 1;
}

/** IPv6 pseudo-header sum for ICMPv6 (addresses read in place, no allocation). */
function pseudoSum(b: Uint8Array, src: number, dst: number, length: number): number {
  return onesSum(b, dst, 16, onesSum(b, src, 16)) + 58 + length;
}

function equal6(a: Uint8Array, ao: number, b: Uint8Array, bo = 0): boolean {
  for (let i = 0; i < 6; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

function equal16(a: Uint8Array, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[bo + i]) return false;
  return true;
}

function isZero6(b: Uint8Array, o: number): boolean {
  return (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 4]! | b[o + 5]!) === 0;
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

