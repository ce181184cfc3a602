/**
 * The full forms of a packet for `trace read --json` and `-v`: every layer
 * with its fields (wire/frame.ts decodeFrame, the link header of other link
 * types, DNS messages decoded), as JSON or an indented tree. Kept apart from
 * print.ts so that line output and filtered reads never load the decoders.
 */
import { u16 } from '../wire/bytes.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, linktypeName } from '../wire/capture-common.js';
import { type DnsRData, type DnsRecord, RrType, decodeMessage } from '../wire/dns/index.js';
import { decodeFrame, type Layer } from '../wire/frame.js';
import { rcodeName } from './dns-print.js';
import { dissect } from './dissect.js';
import { type Facts, newFacts } from './facts.js';
import { formatTime, summarize } from './print.js';

export type PrintFormat = 'line' | 'json' | 'tree';

/** Formats one dissected packet for output. */
export function formatPacket(format: PrintFormat, f: Facts, r: { sec: number; nsec: number; tsDigits: number; ifname: string; index: number; caplen: number; origlen: number; comments?: string[] | null }): string {
  const time = formatTime(r.sec, r.nsec, r.tsDigits);
  if (format === 'line') return r.ifname ? `${time} ${r.ifname} ${summarize(f)}` : `${time} ${summarize(f)}`;
  const d = decodeLayers(f.data, f.start, f.end, f.linktype);
  if (format === 'tree') {
    return `${time}${r.ifname ? ` ${r.ifname}` : ''} ${summarize(f)}\n${formatTree(d.layers, d.error)}`;
  }
  const obj: Record<string, unknown> = {
    index: r.index, time: `${r.sec}.${String(r.nsec).padStart(9, '0')}`, interface: r.ifname || undefined,
    caplen: r.caplen, length: r.origlen, layers: d.layers,
  };
  if (d.error) obj.error = d.error;
  if (r.comments) obj.comments = r.comments;
  return JSON.stringify(obj);
}

type AnyLayer = Layer | Record<string, unknown>;

/** Full decode for --json and -v: wire/frame.ts layers, the link header of other link types, and DNS. */
export function decodeLayers(data: Uint8Array, start: number, end: number, linktype: number): { layers: AnyLayer[]; error?: unknown } {
  const bytes = data.subarray(start, end);
  const d = linktype === LINKTYPE_ETHERNET ? decodeFrame(bytes, { cut: true }) : decodeOtherLink(data, start, end, linktype);
  return { ...d, layers: d.layers.map((l) => (l.layer === 'payload' && (l.hint === 'dns' || l.hint === 'dns-tcp') ? dnsLayer(bytes, l) : l)) };
}

const linkFacts = newFacts();

/** A link header other than Ethernet, then IP as wire/frame.ts decodes it. */
function decodeOtherLink(data: Uint8Array, start: number, end: number, linktype: number): { layers: AnyLayer[]; error?: unknown } {
  const bytes = data.subarray(start, end);
  dissect(linkFacts, data, start, end, linktype, end - start);
  const l0 = linkFacts.levels[0]!;
  const name = linktypeName(linktype).toLowerCase();
  const skip = l0.ipOffset >= 0 ? l0.ipOffset - start : l0.arpOffset >= 0 ? l0.arpOffset - start : -1;
  const link: Record<string, unknown> = { layer: name, offset: 0, length: bytes.length };
  if (linktype === LINKTYPE_LINUX_SLL && bytes.length >= 16) Object.assign(link, { packetType: u16(bytes, 0), hardwareType: u16(bytes, 2), protocol: u16(bytes, 14) });
  if (linktype === LINKTYPE_LINUX_SLL2 && bytes.length >= 20) Object.assign(link, { protocol: u16(bytes, 0), interfaceIndex: new DataView(bytes.buffer, bytes.byteOffset).getUint32(4), packetType: bytes[10] });
  if (l0.etherType >= 0) link.protocol ??= l0.etherType;
  if (skip < 0 || l0.ipVersion === 0) {
    const out: { layers: AnyLayer[]; error?: unknown } = { layers: [link] };
    if (l0.problem || l0.link) out.error = { layer: name, offset: 0, reason: l0.problem || 'unsupported link type' };
    return out;
  }
  const d = decodeFrame(bytes.subarray(skip), { link: 'ip', cut: true });
  const out: { layers: AnyLayer[]; error?: unknown } = { layers: [link, ...d.layers.map((l) => ({ ...l, offset: l.offset + skip }))] };
  if (d.error) out.error = { ...d.error, offset: d.error.offset + skip };
  return out;
}

/** The DNS message of a `payload` layer (UDP, or TCP with its 2-byte length), decoded for --json and -v. */
function dnsLayer(bytes: Uint8Array, l: AnyLayer): AnyLayer {
  const p = l as { offset: number; length: number; hint: string };
  const o = p.offset + (p.hint === 'dns-tcp' ? 2 : 0);
  const len = p.offset + p.length - o;
  if (len < 12) return l;
  const header = { questionCount: u16(bytes, o + 4), answerCount: u16(bytes, o + 6), authorityCount: u16(bytes, o + 8), additionalCount: u16(bytes, o + 10) };
  try {
    const m = decodeMessage(bytes.subarray(o, o + len));
    const rr = (r: DnsRecord) => ({ name: r.name, type: TYPE_NAMES[r.type] ?? r.type, class: r.class, ttl: r.ttl, data: rdataText(r.data) });
    return {
      layer: 'dns', offset: o, length: len, id: m.id, qr: m.qr, opcode: m.opcode, aa: m.aa, tc: m.tc, rd: m.rd, ra: m.ra, ad: m.ad, cd: m.cd,
      rcode: m.rcode, rcodeName: rcodeName(m.rcode).trim() || 'NoError', ...header,
      questions: m.questions.map((q) => ({ name: q.name, type: TYPE_NAMES[q.type] ?? q.type, class: q.class })),
      answers: m.answers.map(rr), authorities: m.authorities.map(rr), additionals: m.additionals.map(rr),
      ...(m.edns ? { edns: { udpSize: m.edns.udpSize, version: m.edns.version, do: (m.edns.flags & 0x8000) !== 0 } } : {}),
    };
  } catch (err) {
    return { layer: 'dns', offset: o, length: len, ...header, error: (err as Error).message };
  }
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RrType).map(([k, v]) => [v, k]));

function rdataText(d: DnsRData): string {
  switch (d.kind) {
    case 'a':
    case 'aaaa':
      return d.address;
    case 'name':
      return d.target;
    case 'mx':
      return `${d.preference} ${d.exchange}`;
    case 'srv':
      return `${d.priority} ${d.weight} ${d.port} ${d.target}`;
    case 'txt':
      return d.strings.map((s) => JSON.stringify(Buffer.from(s).toString('latin1'))).join(' ');
    case 'soa':
      return `${d.mname} ${d.rname} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'raw':
      return Buffer.from(d.bytes).toString('hex');
  }
}

/** The -v tree: one indented line per layer with its fields. */
export function formatTree(layers: AnyLayer[], error?: unknown): string {
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
