/**
 * One line per packet, tcpdump-like, from a dissected Facts:
 *
 *   12:00:01.000001 eth0 02:00:00:00:00:01 > 02:00:00:00:00:02, IP 198.18.0.1.40000 > 198.18.0.2.4789:
 *     VXLAN vni 42: 0a:..:01 > 0a:..:02, IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 64
 *
 * (one line in reality). Every level and layer is summarised, VXLAN inner
 * frames recursively, DNS messages by their question/answer counts. Also
 * the JSON form (full fields from wire/frame.ts decodeFrame) and the -v tree.
 */
import { ipv4ToString, ipv6ToString, macToString, u16 } from '../wire/bytes.js';
import { decodeFrame, type Layer } from '../wire/frame.js';
import { decodeMessage, RrType } from '../wire/dns/index.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 } from '../wire/capture-common.js';
import type { Facts, Level } from './facts.js';

const PAD2 = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

/** "HH:MM:SS.ffffff" (UTC) with `digits` fractional digits. */
let lastSec = -1;
let lastBase = '';

export function formatTime(sec: number, nsec: number, digits: number): string {
  // Captures are time-ordered: the HH:MM:SS part changes at most once a second.
  const base = sec === lastSec ? lastBase : timeOfDay(sec);
  lastSec = sec;
  lastBase = base;
  if (digits <= 0) return base;
  const frac = FRAC[digits]!(nsec);
  return `${base}.${frac}`;
}

const FRAC: ((n: number) => string)[] = Array.from({ length: 10 }, (_, d) => (n: number) => {
  const v = Math.floor(n / 10 ** (9 - d));
  const s = String(v);
  return s.length >= d ? s : '000000000'.slice(0, d - s.length) + s;
});

function timeOfDay(sec: number): string {
  const day = sec % 86400;
  const h = Math.floor(day / 3600);
  const m = Math.floor((day % 3600) / 60);
  const s = day % 60;
  return `${PAD2[h]}:${PAD2[m]}:${PAD2[s]}`;
}

// Small bounded caches: a capture repeats the same few addresses.
const macCache = new Map<number, string>();
const v4Cache = new Map<number, string>();
const CACHE_MAX = 4096;

function mac(b: Uint8Array, o: number): string {
  const key = ((b[o]! << 8) | b[o + 1]!) * 4294967296 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);
  let s = macCache.get(key);
  if (s === undefined) {
    if (macCache.size >= CACHE_MAX) macCache.clear();
    s = macToString(b, o);
    macCache.set(key, s);
  }
  return s;
}

function v4(b: Uint8Array, o: number): string {
  const k = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  let s = v4Cache.get(k);
  if (s === undefined) {
    if (v4Cache.size >= CACHE_MAX) v4Cache.clear();
    s = ipv4ToString(b, o);
    v4Cache.set(k, s);
  }
  return s;
}

const SLL_TYPES = ['In', 'B', 'M', 'P', 'Out'];
const TCP_FLAGS = 'FSRPUEW';

/** The summary of every layer of the packet (no time, no interface). */
export function summarize(f: Facts): string {
  let out = '';
  if (f.sllPacketType >= 0 && (f.linktype === LINKTYPE_LINUX_SLL || f.linktype === LINKTYPE_LINUX_SLL2)) {
    out = `${SLL_TYPES[f.sllPacketType] ?? f.sllPacketType} `;
  }
  for (let i = 0; i < f.depth; i++) {
    if (i > 0) out += ': ';
    out += level(f, f.levels[i]!);
  }
  return out;
}

function level(f: Facts, l: Level): string {
  const b = f.data;
  let s = '';
  if (l.ethOffset >= 0) {
    s = `${mac(b, l.ethOffset + 6)} > ${mac(b, l.ethOffset)}`;
    if (l.vlan >= 0) s += ` vlan ${l.vlan}`;
    if (l.etherType < 0) return `${s}, ${l.problem ? `[|${l.problem}]` : ''}`;
    s += ', ';
  }
  if (l.ipVersion !== 0) return s + ip(f, l);
  if (l.arpOffset >= 0) return s + arpLine(b, l);
  if (l.problem) return `${s}${etherName(l.etherType)} [|${l.problem}]`;
  return `${s}ethertype ${etherName(l.etherType)}, length ${f.end - (l.ethOffset >= 0 ? l.ethOffset : f.start)}`;
}

function etherName(t: number): string {
  switch (t) {
    case 0x0800: return 'IPv4';
    case 0x86dd: return 'IPv6';
    case 0x0806: return 'ARP';
    default: return `0x${t.toString(16).padStart(4, '0')}`;
  }
}

function ip(f: Facts, l: Level): string {
  const b = f.data;
  const isV4 = l.ipVersion === 4;
  const src = isV4 ? v4(b, l.ipOffset + 12) : ipv6ToString(b, l.ipOffset + 8);
  const dst = isV4 ? v4(b, l.ipOffset + 16) : ipv6ToString(b, l.ipOffset + 24);
  const ports = l.sourcePort >= 0;
  let s = `${isV4 ? 'IP' : 'IP6'} ${src}${ports ? `.${l.sourcePort}` : ''} > ${dst}${ports ? `.${l.destinationPort}` : ''}: `;
  if (l.fragment) return `${s}ip-proto-${l.protocol} fragment, length ${l.ipLength}`;
  const payload = l.l4Offset >= 0 ? l.l4Length : 0;
  switch (l.protocol) {
    case 1:
      return s + icmp4(l, payload);
    case 58:
      return s + icmp6(f, l, payload);
    case 6: {
      if (l.tcpFlags < 0) return `${s}TCP [|${l.problem}]`;
      let flags = '';
      for (let i = 0; i < 7; i++) if (l.tcpFlags & (1 << i)) flags += TCP_FLAGS[i];
      if (l.tcpFlags & 0x10) flags += '.';
      const hl = (b[l.l4Offset + 12]! >> 4) * 4;
      return `${s}TCP [${flags}] seq ${l.tcpSeq}${l.tcpFlags & 0x10 ? `, ack ${l.tcpAck}` : ''}, win ${l.tcpWindow}, length ${Math.max(0, payload - hl)}`;
    }
    case 17: {
      if (l.sourcePort < 0) return `${s}UDP [|${l.problem}]`;
      if (l.vni >= 0) return `${s}VXLAN vni ${l.vni}`;
      if (l.problem) return `${s}UDP [|${l.problem}]`;
      const len = Math.max(0, u16(b, l.l4Offset + 4) - 8);
      if (l.sourcePort === 53 || l.destinationPort === 53 || l.sourcePort === 5353 || l.destinationPort === 5353) {
        return s + dns(b, l.l4Offset + 8, Math.min(len, payload - 8));
      }
      return `${s}UDP, length ${len}`;
    }
    default:
      return `${s}ip-proto-${l.protocol}, length ${payload}`;
  }
}

const ICMP4: Record<number, string> = { 0: 'echo reply', 3: 'unreachable', 5: 'redirect', 8: 'echo request', 11: 'time exceeded', 12: 'parameter problem' };

function icmp4(l: Level, payload: number): string {
  if (l.icmpType < 0) return `ICMP [|${l.problem}]`;
  const name = ICMP4[l.icmpType] ?? `type ${l.icmpType}`;
  const echo = l.icmpId >= 0 ? `, id ${l.icmpId}, seq ${l.icmpSeq}` : l.icmpType === 3 || l.icmpType === 11 ? `, code ${l.icmpCode}` : '';
  return `ICMP ${name}${echo}, length ${payload}`;
}

const ICMP6: Record<number, string> = {
  1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded', 128: 'echo request', 129: 'echo reply',
  133: 'router solicitation', 134: 'router advertisement', 135: 'neighbor solicitation', 136: 'neighbor advertisement', 143: 'multicast listener report v2',
};

function icmp6(f: Facts, l: Level, payload: number): string {
  if (l.icmpType < 0) return `ICMP6 [|${l.problem}]`;
  const name = ICMP6[l.icmpType] ?? `type ${l.icmpType}`;
  let extra = '';
  if (l.icmpId >= 0) extra = `, id ${l.icmpId}, seq ${l.icmpSeq}`;
  else if ((l.icmpType === 135 || l.icmpType === 136) && payload >= 24) extra = `, ${l.icmpType === 135 ? 'who has' : 'tgt is'} ${ipv6ToString(f.data, l.l4Offset + 8)}`;
  return `ICMP6, ${name}${extra}, length ${payload}`;
}

function arpLine(b: Uint8Array, l: Level): string {
  const o = l.arpOffset;
  const spa = ipv4ToString(b, o + 14);
  const tpa = ipv4ToString(b, o + 24);
  if (l.arpOp === 1) return `ARP, Request who-has ${tpa} tell ${spa}, length 28`;
  if (l.arpOp === 2) return `ARP, Reply ${spa} is-at ${macToString(b, o + 8)}, length 28`;
  return `ARP, op ${l.arpOp} ${spa} > ${tpa}, length 28`;
}

const RR_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RrType).map(([k, v]) => [v, k]));
const RCODES = ['NoError', 'FormErr', 'ServFail', 'NXDomain', 'NotImp', 'Refused'];

/** tcpdump's DNS style: "id+ A? name. (len)" or "id q: A? name. 1/0/0 A 1.2.3.4 (len)". */
function dns(b: Uint8Array, o: number, len: number): string {
  if (len < 12) return `DNS [|dns], length ${Math.max(0, len)}`;
  try {
    const m = decodeMessage(b.subarray(o, o + len));
    const q = m.questions[0];
    const qs = q ? ` ${RR_NAMES[q.type] ?? `TYPE${q.type}`}? ${q.name}${q.name.endsWith('.') ? '' : '.'}` : '';
    if (!m.qr) return `DNS ${m.id}${m.rd ? '+' : ''}${qs} (${len})`;
    const rc = m.rcode ? ` ${RCODES[m.rcode] ?? `rcode ${m.rcode}`}` : '';
    const first = m.answers[0];
    let ans = '';
    if (first) {
      const d = first.data;
      const v = d.kind === 'a' || d.kind === 'aaaa' ? d.address : d.kind === 'name' ? d.target : '';
      ans = ` ${RR_NAMES[first.type] ?? `TYPE${first.type}`}${v ? ` ${v}` : ''}`;
    }
    return `DNS ${m.id}${rc}${qs} ${m.answers.length}/${m.authorities.length}/${m.additionals.length}${ans} (${len})`;
  } catch {
    return `DNS [malformed], length ${len}`;
  }
}

/** Full decode for --json and -v: wire/frame.ts layers, plus the Linux cooked header. */
export function decodeLayers(data: Uint8Array, start: number, end: number, linktype: number): { layers: (Layer | Record<string, unknown>)[]; error?: unknown } {
  const bytes = data.subarray(start, end);
  if (linktype === LINKTYPE_ETHERNET) return decodeFrame(bytes);
  let skip = 0;
  let proto = -1;
  let sll: Record<string, unknown> | undefined;
  if (linktype === LINKTYPE_LINUX_SLL && bytes.length >= 16) {
    skip = 16;
    proto = u16(bytes, 14);
    sll = { layer: 'sll', offset: 0, length: bytes.length, packetType: u16(bytes, 0), hardwareType: u16(bytes, 2), protocol: proto };
  } else if (linktype === LINKTYPE_LINUX_SLL2 && bytes.length >= 20) {
    skip = 20;
    proto = u16(bytes, 0);
    sll = { layer: 'sll2', offset: 0, length: bytes.length, protocol: proto, interfaceIndex: new DataView(bytes.buffer, bytes.byteOffset).getUint32(4), packetType: bytes[10] };
  } else if (linktype === LINKTYPE_LINUX_SLL || linktype === LINKTYPE_LINUX_SLL2) {
    return { layers: [], error: { layer: 'sll', offset: 0, reason: 'truncated' } };
  }
  const inner = bytes.subarray(skip);
  if (sll && proto !== 0x0800 && proto !== 0x86dd) {
    return { layers: [sll, { layer: 'payload', offset: skip, length: inner.length, hint: `ethertype 0x${proto.toString(16)}` }] };
  }
  const d = decodeFrame(inner, { link: 'ip' });
  const shifted = d.layers.map((l) => ({ ...l, offset: l.offset + skip }));
  const out: { layers: (Layer | Record<string, unknown>)[]; error?: unknown } = { layers: sll ? [sll, ...shifted] : shifted };
  if (d.error) out.error = { ...d.error, offset: d.error.offset + skip };
  return out;
}

/** The -v tree: one indented line per layer with its fields. */
export function formatTree(layers: (Layer | Record<string, unknown>)[], error?: unknown): string {
  const lines: string[] = [];
  let depth = 0;
  for (const l of layers) {
    const { layer, offset, length, ...fields } = l as Record<string, unknown>;
    if (layer === 'vxlan') depth++;
    const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    lines.push(`${'  '.repeat(depth + 1)}${String(layer)} @${String(offset)}+${String(length)}: ${parts.join(' ')}`);
  }
  if (error) lines.push(`    error: ${JSON.stringify(error)}`);
  return lines.join('\n');
}
