/**
 * `weft trace follow`: the same packet seen at several hops. Pure: the CLI
 * feeds packets observed at each hop (in path order, A first, B last) with
 * their timestamps; the matcher keys each packet by its innermost IP
 * headers — which a VXLAN overlay does not change — and reports, per
 * packet, where it was seen, when, and after which hop it disappeared.
 *
 * Keys: ICMP echo: addresses + type + id + seq; TCP: 5-tuple + seq + IPv4
 * id; UDP: 5-tuple + IPv4 id; anything else: addresses + protocol + id.
 * Direction: a packet sent by the A end's interface (PACKET_OUTGOING there)
 * goes forward, one sent by B's goes backwards (replies); otherwise the
 * earliest sighting decides. Timestamps are as precise as the caller's.
 */
import { formatIPv4, formatIPv6 } from '../wire/ip.js';
import { IPV4_DESTINATION, IPV4_SOURCE, IPV6_DESTINATION, IPV6_SOURCE } from '../wire/fields.js';
import { ICMP_ECHO_REQUEST, ICMPV6_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from '../wire/numbers.js';
import type { Facts, Level } from './facts.js';
import { innermostIp } from './dissect.js';

export const MAX_TRACKED = 50_000;
const PACKET_OUTGOING = 4;

export interface HopSighting {
  hop: string;
  sec: number;
  nsec: number;
  /** Microseconds since the packet's first sighting. */
  deltaUs: number;
  /** VNI when the hop saw the packet inside VXLAN. */
  vni?: number;
}

export interface PathReport {
  key: string;
  summary: string;
  direction: 'forward' | 'reverse';
  seen: HopSighting[];
  /** Hops the packet should have crossed and was not seen at, in path order. */
  missing: string[];
  delivered: boolean;
  /** The last hop it was seen at before it vanished (undefined when delivered). */
  droppedAfter?: string;
}

interface Entry {
  key: string;
  summary: string;
  times: (readonly [number, number, number] | undefined)[];
  first: number;
  /** Sent by the A end (1), by the B end (2), unknown (0). */
  origin: number;
  /** Hops that have seen it. */
  hopsSeen: number;
}

/** The match key of a packet's innermost IP layer, or undefined (ARP, no IP). */
export function packetKey(f: Facts): { key: string; summary: string; level: Level } | undefined {
  const i = innermostIp(f);
  if (i < 0) return undefined;
  const l = f.levels[i]!;
  const b = f.data;
  const v4 = l.ipVersion === 4;
  const src = v4 ? formatIPv4(b, l.ipOffset + IPV4_SOURCE) : formatIPv6(b, l.ipOffset + IPV6_SOURCE);
  const dst = v4 ? formatIPv4(b, l.ipOffset + IPV4_DESTINATION) : formatIPv6(b, l.ipOffset + IPV6_DESTINATION);
  let key: string;
  let summary: string;
  if ((l.protocol === IPPROTO_ICMP || l.protocol === IPPROTO_ICMPV6) && l.icmpId >= 0) {
    key = `icmp|${src}|${dst}|${l.icmpType}|${l.icmpId}|${l.icmpSeq}`;
    const req = l.icmpType === ICMP_ECHO_REQUEST || l.icmpType === ICMPV6_ECHO_REQUEST;
    summary = `${src} > ${dst} ICMP echo ${req ? 'request' : 'reply'} id ${l.icmpId} seq ${l.icmpSeq}`;
  } else if ((l.protocol === IPPROTO_TCP || l.protocol === IPPROTO_UDP) && l.sourcePort >= 0) {
    const tcp = l.protocol === IPPROTO_TCP;
    const p = tcp ? 'tcp' : 'udp';
    key = `${p}|${src}|${l.sourcePort}|${dst}|${l.destinationPort}|${l.ipId}|${tcp ? l.tcpSeq : ''}`;
    summary = `${src}.${l.sourcePort} > ${dst}.${l.destinationPort} ${p.toUpperCase()}${l.ipId >= 0 ? ` id ${l.ipId}` : ''}${tcp ? ` seq ${l.tcpSeq}` : ''}`;
  } else {
    key = `ip|${src}|${dst}|${l.protocol}|${l.ipId}|${l.icmpType}`;
    summary = `${src} > ${dst} proto ${l.protocol}${l.ipId >= 0 ? ` id ${l.ipId}` : ''}`;
  }
  return { key, summary, level: l };
}

export class FollowMatcher {
  readonly #hops: string[];
  readonly #entries = new Map<string, Entry>();
  #order = 0;
  #complete = 0;
  readonly #limit: number;
  evicted = 0;

  /** `limit`: follow only the first that many distinct packets (`-c N`); later ones are ignored. */
  constructor(hops: string[], opts: { limit?: number } = {}) {
    if (hops.length === 0) throw new RangeError('follow needs at least one hop');
    this.#hops = hops;
    this.#limit = opts.limit ?? Infinity;
  }

  /** With a limit: that many packets were taken and each was seen at every hop. */
  get done(): boolean {
    return this.#order >= this.#limit && this.#complete >= this.#limit;
  }

  /** Records that hop `hop` (index in path order) saw the packet in `f` at sec/nsec. */
  /** `packetType`: sll_pkttype at that hop when known (4 = sent by that interface's host). */
  observe(hop: number, f: Facts, sec: number, nsec: number, packetType = -1): boolean {
    const k = packetKey(f);
    if (!k) return false;
    let e = this.#entries.get(k.key);
    if (!e) {
      if (this.#order >= this.#limit) return false;
      if (this.#entries.size >= MAX_TRACKED) {
        // Oldest first: Map keeps insertion order.
        const oldest = this.#entries.keys().next().value as string;
        this.#entries.delete(oldest);
        this.evicted++;
      }
      e = { key: k.key, summary: k.summary, times: new Array(this.#hops.length).fill(undefined), first: this.#order++, origin: 0, hopsSeen: 0 };
      this.#entries.set(k.key, e);
    }
    let vni = -1;
    for (let i = 0; i < f.depth; i++) if (f.levels[i]!.vni >= 0) vni = f.levels[i]!.vni;
    // The first sighting per hop wins; a hop that sees it twice (a bridge port and the bridge) keeps the earliest.
    if (!e.times[hop]) {
      e.times[hop] = [sec, nsec, vni];
      if (++e.hopsSeen === this.#hops.length) this.#complete++;
    }
    if (packetType === PACKET_OUTGOING && e.origin === 0) {
      if (hop === 0) e.origin = 1;
      else if (hop === this.#hops.length - 1) e.origin = 2;
    }
    return true;
  }

  /** One report per distinct packet, in order of first sighting. */
  report(): PathReport[] {
    const out: PathReport[] = [];
    const n = this.#hops.length;
    for (const e of this.#entries.values()) {
      const seenIdx = e.times.map((t, i) => (t ? i : -1)).filter((i) => i >= 0);
      const earliest = seenIdx.reduce((best, i) => (before(e.times[i]!, e.times[best]!) ? i : best), seenIdx[0]!);
      const lo = seenIdx[0]!;
      const hi = seenIdx[seenIdx.length - 1]!;
      // Appeared at the B end (or closer to B than anything else) first: a reply.
      const reverse = e.origin !== 0 ? e.origin === 2
        : n > 1 && earliest === hi && earliest !== lo ? true : n > 1 && lo === hi && lo === n - 1;
      const path = reverse ? [...Array(n).keys()].reverse() : [...Array(n).keys()];
      // Start at the first hop along the path that saw it.
      const startHop = path.find((i) => e.times[i] !== undefined)!;
      const start = path.indexOf(startHop);
      const t0 = e.times[startHop]!;
      const seen: HopSighting[] = [];
      const missing: string[] = [];
      let lastSeen = -1;
      for (const i of path.slice(start)) {
        const t = e.times[i];
        if (t) {
          const s: HopSighting = { hop: this.#hops[i]!, sec: t[0], nsec: t[1], deltaUs: Math.round(((t[0] - t0[0]) * 1e9 + (t[1] - t0[1])) / 1000) };
          if (t[2] >= 0) s.vni = t[2];
          seen.push(s);
          lastSeen = i;
        } else missing.push(this.#hops[i]!);
      }
      const endHop = path[path.length - 1]!;
      const delivered = lastSeen === endHop;
      const r: PathReport = { key: e.key, summary: e.summary, direction: reverse ? 'reverse' : 'forward', seen, missing, delivered };
      if (!delivered) r.droppedAfter = this.#hops[lastSeen]!;
      out.push(r);
    }
    return out;
  }
}

function before(a: readonly [number, number, number], b: readonly [number, number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** Text rendering: one block per packet. */
export function formatPaths(reports: PathReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.summary} (${r.direction}): ${r.delivered ? 'delivered' : `DROPPED after ${r.droppedAfter}`}`);
    for (const s of r.seen) lines.push(`  ${s.hop.padEnd(16)} +${String(s.deltaUs).padStart(8)} us${s.vni !== undefined ? `  vni ${s.vni}` : ''}`);
    for (const m of r.missing) lines.push(`  ${m.padEnd(16)} not seen`);
  }
  return lines.join('\n');
}
