/**
 * `weft trace stats`: packet and byte counts by protocol (every level, so
 * VXLAN-carried traffic shows as "vxlan/ipv4/icmp"), by VNI, and the top
 * talkers (IP source > destination) of the outer and the inner frames.
 * Memory is bounded: at most MAX_KEYS distinct talkers are tracked.
 */
import { formatIPv4, formatIPv6 } from '../wire/ip.js';
import { IPV4_DESTINATION, IPV4_SOURCE, IPV6_DESTINATION, IPV6_SOURCE } from '../wire/fields.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from '../wire/numbers.js';
import type { Facts, Level } from './facts.js';

const MAX_KEYS = 100_000;

export interface Count {
  packets: number;
  bytes: number;
}

export interface StatsReport {
  packets: number;
  bytes: number;
  protocols: Record<string, Count>;
  vnis: Record<string, Count>;
  talkers: { outer: ({ pair: string } & Count)[]; inner: ({ pair: string } & Count)[] };
  malformed: number;
  untrackedTalkers: number;
}

export class TraceStats {
  packets = 0;
  bytes = 0;
  malformed = 0;
  untracked = 0;
  readonly #protocols = new Map<string, Count>();
  readonly #vnis = new Map<number, Count>();
  readonly #outer = new Map<string, Count>();
  readonly #inner = new Map<string, Count>();

  add(f: Facts): void {
    const len = f.origlen;
    this.packets++;
    this.bytes += len;
    let path = '';
    for (let i = 0; i < f.depth; i++) {
      const l = f.levels[i]!;
      if (l.problem) this.malformed++;
      path += (i > 0 ? '/vxlan/' : '') + protoPath(l);
      if (l.vni >= 0) bump(this.#vnis, l.vni, len);
    }
    bump(this.#protocols, path, len);
    const outer = f.levels[0]!;
    if (outer.ipVersion) this.#talk(this.#outer, f.data, outer, len);
    for (let i = f.depth - 1; i > 0; i--) {
      const l = f.levels[i]!;
      if (l.ipVersion) {
        this.#talk(this.#inner, f.data, l, len);
        break;
      }
    }
  }

  #talk(map: Map<string, Count>, b: Uint8Array, l: Level, len: number): void {
    const key = l.ipVersion === 4
      ? `${formatIPv4(b, l.ipOffset + IPV4_SOURCE)} > ${formatIPv4(b, l.ipOffset + IPV4_DESTINATION)}`
      : `${formatIPv6(b, l.ipOffset + IPV6_SOURCE)} > ${formatIPv6(b, l.ipOffset + IPV6_DESTINATION)}`;
    if (!map.has(key) && map.size >= MAX_KEYS) {
      this.untracked++;
      return;
    }
    bump(map, key, len);
  }

  report(top = 10): StatsReport {
    const sorted = (m: Map<string, Count>) =>
      [...m].sort((a, b) => b[1].packets - a[1].packets || b[1].bytes - a[1].bytes).slice(0, top).map(([pair, c]) => ({ pair, ...c }));
    return {
      packets: this.packets,
      bytes: this.bytes,
      protocols: Object.fromEntries([...this.#protocols].sort((a, b) => b[1].packets - a[1].packets)),
      vnis: Object.fromEntries([...this.#vnis].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])),
      talkers: { outer: sorted(this.#outer), inner: sorted(this.#inner) },
      malformed: this.malformed,
      untrackedTalkers: this.untracked,
    };
  }
}

function bump<K>(m: Map<K, Count>, k: K, len: number): void {
  const c = m.get(k);
  if (c) {
    c.packets++;
    c.bytes += len;
  } else m.set(k, { packets: 1, bytes: len });
}

const L4: Record<number, string> = { [IPPROTO_ICMP]: 'icmp', [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp', [IPPROTO_ICMPV6]: 'icmp6', [IPPROTO_SCTP]: 'sctp' };

function protoPath(l: Level): string {
  if (l.arpOffset >= 0) return 'arp';
  if (l.ipVersion === 0) return l.etherType >= 0 ? `ethertype-0x${l.etherType.toString(16)}` : 'unknown';
  const ip = l.ipVersion === 4 ? 'ipv4' : 'ipv6';
  if (l.fragment) return `${ip}/fragment`;
  if (l.protocol < 0) return ip;
  let s = `${ip}/${L4[l.protocol] ?? `proto-${l.protocol}`}`;
  if ((l.protocol === IPPROTO_UDP || l.protocol === IPPROTO_TCP) && (l.sourcePort === 53 || l.destinationPort === 53)) s += '/dns';
  return s;
}

/** Plain-text rendering of a report. */
export function formatStats(r: StatsReport): string {
  const lines = [`${r.packets} packets, ${r.bytes} bytes${r.malformed ? `, ${r.malformed} malformed layers` : ''}`, '', 'protocols:'];
  for (const [k, c] of Object.entries(r.protocols)) lines.push(`  ${k.padEnd(40)} ${String(c.packets).padStart(10)} pkts ${String(c.bytes).padStart(12)} bytes`);
  if (Object.keys(r.vnis).length) {
    lines.push('', 'VNIs:');
    for (const [k, c] of Object.entries(r.vnis)) lines.push(`  ${k.padEnd(40)} ${String(c.packets).padStart(10)} pkts ${String(c.bytes).padStart(12)} bytes`);
  }
  for (const [name, list] of [['top talkers (outer)', r.talkers.outer], ['top talkers (inner)', r.talkers.inner]] as const) {
    if (!list.length) continue;
    lines.push('', `${name}:`);
    for (const t of list) lines.push(`  ${t.pair.padEnd(40)} ${String(t.packets).padStart(10)} pkts ${String(t.bytes).padStart(12)} bytes`);
  }
  return lines.join('\n');
}
