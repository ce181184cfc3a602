/**
 * Hand-built frames for the trace golden and filter tests: one per protocol
 * shape weft's text line must render as `tcpdump -n` does. Checksums are
 * left zero (tcpdump -n does not check them without -v).
 */
import { LINKTYPE_ETHERNET } from '../../src/wire/capture-common.js';

export type Bytes = number[];

const MAC_A = [0x02, 0, 0, 0, 0, 0x01];
const MAC_B = [0x02, 0, 0, 0, 0, 0x02];

export const u16b = (v: number): Bytes => [(v >> 8) & 0xff, v & 0xff];
export const u32b = (v: number): Bytes => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
export const v4 = (s: string): Bytes => s.split('.').map(Number);
export function v6(s: string): Bytes {
  const [h, t] = s.split('::') as [string, string | undefined];
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const groups = [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return groups.flatMap((g) => u16b(parseInt(g, 16)));
}

export function eth(type: number, payload: Bytes, dst = MAC_B, src = MAC_A): Bytes {
  return [...dst, ...src, ...u16b(type), ...payload];
}

export function vlan(vid: number, type: number, payload: Bytes): Bytes {
  return eth(0x8100, [...u16b(vid), ...u16b(type), ...payload]);
}

export interface Ip4Opts { src?: string; dst?: string; id?: number; ttl?: number; frag?: number; totalLength?: number }

export function ip4(proto: number, payload: Bytes, o: Ip4Opts = {}): Bytes {
  const total = o.totalLength ?? 20 + payload.length;
  return [0x45, 0, ...u16b(total), ...u16b(o.id ?? 0x1234), ...u16b(o.frag ?? 0x4000), o.ttl ?? 64, proto, 0, 0,
    ...v4(o.src ?? '198.18.0.1'), ...v4(o.dst ?? '198.18.0.2'), ...payload];
}

export function ip6(next: number, payload: Bytes, src = 'fd00::1', dst = 'fd00::2', payloadLength = payload.length): Bytes {
  return [0x60, 0, 0, 0, ...u16b(payloadLength), next, 64, ...v6(src), ...v6(dst), ...payload];
}

export function udp(sport: number, dport: number, payload: Bytes): Bytes {
  return [...u16b(sport), ...u16b(dport), ...u16b(8 + payload.length), 0, 0, ...payload];
}

export interface TcpOpts { seq?: number; ack?: number; flags: number; win?: number; options?: Bytes; payload?: Bytes }

export function tcp(sport: number, dport: number, o: TcpOpts): Bytes {
  const opts = o.options ?? [];
  const hl = 20 + opts.length;
  return [...u16b(sport), ...u16b(dport), ...u32b(o.seq ?? 1000), ...u32b(o.ack ?? 0), (hl / 4) << 4, o.flags,
    ...u16b(o.win ?? 64240), 0, 0, 0, 0, ...opts, ...(o.payload ?? [])];
}

/** A DNS name in wire form. */
export function dname(name: string): Bytes {
  const out: Bytes = [];
  for (const label of name.split('.').filter(Boolean)) out.push(label.length, ...Buffer.from(label, 'latin1'));
  out.push(0);
  return out;
}

export interface Rr { name?: Bytes; type: number; ttl?: number; data: Bytes; cls?: number }

export function rr(r: Rr): Bytes {
  return [...(r.name ?? [0xc0, 12]), ...u16b(r.type), ...u16b(r.cls ?? 1), ...u32b(r.ttl ?? 300), ...u16b(r.data.length), ...r.data];
}

export interface DnsOpts { id?: number; flags: number; qname?: string; qtype?: number; an?: Bytes[]; ns?: Bytes[]; ar?: Bytes[] }

export function dns(o: DnsOpts): Bytes {
  const q = o.qname !== undefined ? [...dname(o.qname), ...u16b(o.qtype ?? 1), 0, 1] : [];
  const an = o.an ?? [];
  const ns = o.ns ?? [];
  const ar = o.ar ?? [];
  return [...u16b(o.id ?? 0x1234), ...u16b(o.flags), ...u16b(q.length ? 1 : 0), ...u16b(an.length), ...u16b(ns.length), ...u16b(ar.length),
    ...q, ...an.flat(), ...ns.flat(), ...ar.flat()];
}

/** EDNS OPT pseudo-record: UDP size 1232, extended rcode bits in `extRcode`. */
export const opt = (extRcode = 0): Bytes => [0, ...u16b(41), ...u16b(1232), extRcode, 0, 0, 0, 0, 0];

export interface Packet { name: string; data: Bytes; caplen?: number; linktype?: number }

const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01, RST = 0x04;
const MSS_SACK_TS_WS = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, ...u32b(12345), ...u32b(0), 1, 3, 3, 7];
const query = dns({ id: 0x1234, flags: 0x0100, qname: 'example.com', ar: [opt()] });
const answer = dns({
  id: 0x1234, flags: 0x8580, qname: 'example.com', an: [
    rr({ type: 1, data: v4('198.18.1.1') }), rr({ type: 1, data: v4('198.18.1.2') }),
  ], ar: [opt()],
});
const cname = dns({
  id: 7, flags: 0x8180, qname: 'www.example.com', an: [
    rr({ type: 5, data: dname('example.com') }), rr({ name: [0xc0, 0x2d], type: 28, data: v6('fd00::5') }),
  ],
});
const nx = dns({ id: 8, flags: 0x8183, qname: 'nope.example', qtype: 28 });
const badvers = dns({ id: 9, flags: 0x8100, qname: 'x.example', ar: [opt(1)] });
const icmpQuoted = ip4(17, udp(40000, 53, [1, 2, 3, 4]), { src: '198.18.0.2', dst: '198.18.9.9' });

/** Every golden case: the frame, optionally cut to `caplen`. */
export const GOLDEN: Packet[] = [
  { name: 'tcp-syn', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: SYN, options: MSS_SACK_TS_WS }))) },
  { name: 'tcp-syn-ack', data: eth(0x0800, ip4(6, tcp(5001, 40000, { flags: SYN | ACK, ack: 1001, options: [2, 4, 0x05, 0xb4, 1, 1, 4, 2] }))) },
  { name: 'tcp-push', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: PSH | ACK, ack: 5, payload: [0x47, 0x45, 0x54, 0x20, 0x2f] }))) },
  { name: 'tcp-fin-ack', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: FIN | ACK, ack: 5, options: [1, 1, 8, 10, ...u32b(7), ...u32b(9)] }))) },
  { name: 'tcp-bad-option', data: eth(0x0800, ip4(6, tcp(5001, 40000, { flags: SYN | ACK, ack: 1001, options: [2, 4, 0x05, 0xb4, 1, 1, 4, 1] }))) },
  { name: 'tcp-option-odd-length', data: eth(0x0800, ip4(6, tcp(5001, 40000, { flags: SYN, options: [2, 5, 0x05, 0xb4, 0, 1, 1, 1] }))) },
  { name: 'tcp-rst', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: RST }))) },
  { name: 'tcp-ack', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: ACK, ack: 99 }))) },
  { name: 'tcp6-syn', data: eth(0x86dd, ip6(6, tcp(40000, 443, { flags: SYN, options: [2, 4, 0x05, 0xa0] }))) },
  { name: 'udp', data: eth(0x0800, ip4(17, udp(40000, 9999, [1, 2, 3]))) },
  { name: 'udp6', data: eth(0x86dd, ip6(17, udp(40000, 9999, [1, 2, 3]))) },
  { name: 'dns-query-edns', data: eth(0x0800, ip4(17, udp(40000, 53, query))) },
  { name: 'dns-answer-aa', data: eth(0x0800, ip4(17, udp(53, 40000, answer), { src: '198.18.0.2', dst: '198.18.0.1' })) },
  { name: 'dns-cname-aaaa', data: eth(0x0800, ip4(17, udp(53, 40000, cname))) },
  { name: 'dns-nxdomain', data: eth(0x0800, ip4(17, udp(53, 40000, nx))) },
  { name: 'dns-badvers', data: eth(0x0800, ip4(17, udp(53, 40000, badvers))) },
  { name: 'dns-tcp', data: eth(0x0800, ip4(6, tcp(40000, 53, { flags: PSH | ACK, ack: 1, payload: [...u16b(query.length), ...query] }))) },
  { name: 'icmp-echo', data: eth(0x0800, ip4(1, [8, 0, 0, 0, 0, 7, 0, 1, ...new Array<number>(56).fill(0)])) },
  { name: 'icmp-unreach-port', data: eth(0x0800, ip4(1, [3, 3, 0, 0, 0, 0, 0, 0, ...icmpQuoted], { src: '198.18.9.9', dst: '198.18.0.2' })) },
  { name: 'icmp-time-exceeded', data: eth(0x0800, ip4(1, [11, 0, 0, 0, 0, 0, 0, 0, ...icmpQuoted])) },
  { name: 'icmp6-echo', data: eth(0x86dd, ip6(58, [128, 0, 0, 0, 0, 7, 0, 1, 1, 2, 3, 4])) },
  { name: 'icmp6-ns', data: eth(0x86dd, ip6(58, [135, 0, 0, 0, 0, 0, 0, 0, ...v6('fd00::2')], 'fd00::1', 'ff02::1:ff00:2')) },
  { name: 'icmp6-mld2-report', data: eth(0x86dd, ip6(58, [143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, ...v6('ff02::1:ff00:2')], 'fe80::1', 'ff02::16')) },
  { name: 'icmp6-mld2-report-hbh', data: eth(0x86dd, ip6(0, [58, 0, 5, 2, 0, 0, 1, 0, 143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, ...v6('ff02::1:ff00:2')], 'fe80::1', 'ff02::16')) },
  { name: 'icmp6-mld-query', data: eth(0x86dd, ip6(58, [130, 0, 0, 0, 0x27, 0x10, 0, 0, ...v6('::')], 'fe80::1', 'ff02::1')) },
  { name: 'icmp6-unreach', data: eth(0x86dd, ip6(58, [1, 4, 0, 0, 0, 0, 0, 0, ...ip6(17, udp(40000, 53, [1, 2]), 'fd00::2', 'fd00::9')], 'fd00::9', 'fd00::2')) },
  { name: 'arp-request', data: eth(0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...MAC_A, ...v4('198.18.0.1'), 0, 0, 0, 0, 0, 0, ...v4('198.18.0.2')], [255, 255, 255, 255, 255, 255]) },
  { name: 'arp-reply', data: eth(0x0806, [0, 1, 8, 0, 6, 4, 0, 2, ...MAC_B, ...v4('198.18.0.2'), ...MAC_A, ...v4('198.18.0.1')]) },
  { name: 'ip-fragment-first', data: eth(0x0800, ip4(17, udp(40000, 9999, new Array<number>(32).fill(7)), { frag: 0x2000, totalLength: 20 + 40 })) },
  { name: 'ip-fragment-later', data: eth(0x0800, ip4(17, new Array<number>(24).fill(7), { frag: 0x0005 })) },
  { name: 'ip-proto-unknown', data: eth(0x0800, ip4(253, [0, 0, 0x08, 0x00])) },
  { name: 'vlan-udp', data: vlan(100, 0x0800, ip4(17, udp(40000, 9999, [1, 2, 3]))) },
  { name: 'vxlan', data: eth(0x0800, ip4(17, udp(40000, 4789, [8, 0, 0, 0, 0, 0, 42, 0, ...eth(0x0800, ip4(1, [8, 0, 0, 0, 0, 7, 0, 1], { src: '198.19.0.1', dst: '198.19.0.2' }))]))) },
  { name: 'stp', data: [1, 0x80, 0xc2, 0, 0, 0, ...MAC_A, ...u16b(38), 0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0x80, 0, ...MAC_A, 0, 0, 0, 0, 0x80, 0, ...MAC_A, 0x80, 0x01, 0, 0, 0x14, 0, 0x02, 0, 0x0f, 0] },
  { name: 'lldp', data: eth(0x88cc, [0x02, 0x07, 0x04, ...MAC_A, 0x04, 0x03, 0x05, 0x65, 0x31, 0x06, 0x02, 0, 120, 0, 0], [1, 0x80, 0xc2, 0, 0, 0x0e]) },
  { name: 'llc-unknown', data: [...MAC_B, ...MAC_A, ...u16b(8), 0xaa, 0xaa, 0x03, 0, 0, 0, 0x12, 0x34] },
  { name: 'ethertype-unknown', data: eth(0x88b5, [1, 2, 3, 4]) },
  // Cut by the snap length: headers complete, payload missing; header itself cut.
  { name: 'cut-tcp-payload', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: PSH | ACK, ack: 5, payload: new Array<number>(1000).fill(0x41) }))), caplen: 96 },
  { name: 'cut-udp-header', data: eth(0x0800, ip4(17, udp(40000, 9999, new Array<number>(100).fill(1)))), caplen: 38 },
  { name: 'cut-tcp-header', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: ACK, ack: 5, payload: new Array<number>(100).fill(1) }))), caplen: 44 },
  { name: 'cut-dns', data: eth(0x0800, ip4(17, udp(53, 40000, answer))), caplen: 70 },
  { name: 'cut-ip6-udp', data: eth(0x86dd, ip6(17, udp(40000, 9999, new Array<number>(500).fill(1)))), caplen: 96 },
  // TSO/GRO: IP total length 0, or larger than the frame.
  { name: 'tso-total-length-0', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: ACK | PSH, ack: 5, payload: new Array<number>(200).fill(0x41) }), { totalLength: 0 })) },
  { name: 'gro-total-length-larger', data: eth(0x0800, ip4(6, tcp(40000, 5001, { flags: ACK, ack: 5, payload: new Array<number>(40).fill(0x41) }), { totalLength: 9000 })) },
  { name: 'ip6-jumbo-length-0', data: eth(0x86dd, ip6(6, tcp(40000, 5001, { flags: ACK, ack: 5, payload: new Array<number>(40).fill(0x41) }), 'fd00::1', 'fd00::2', 0)) },
];

export const GOLDEN_LINKTYPE = LINKTYPE_ETHERNET;

const udpIp = ip4(17, udp(40000, 9999, [1, 2, 3]));
const WIFI_HDR = [0x08, 0x01, 0, 0, ...MAC_B, ...MAC_A, ...MAC_B, 0x10, 0];

/** The same UDP datagram under every other link type weft decodes (and one it does not). */
export const LINK_GOLDEN: Packet[] = [
  { name: 'linux-sll', linktype: 113, data: [0, 0, 0, 1, 0, 6, ...MAC_A, 0, 0, 8, 0, ...udpIp] },
  { name: 'linux-sll2', linktype: 276, data: [8, 0, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, ...MAC_A, 0, 0, ...udpIp] },
  { name: 'bsd-null', linktype: 0, data: [2, 0, 0, 0, ...udpIp] },
  { name: 'bsd-null-ipv6', linktype: 0, data: [30, 0, 0, 0, ...ip6(17, udp(40000, 9999, [1, 2, 3]))] },
  { name: 'openbsd-loop', linktype: 108, data: [0, 0, 0, 2, ...udpIp] },
  { name: 'ppp', linktype: 9, data: [0xff, 0x03, 0x00, 0x21, ...udpIp] },
  { name: 'raw-ip', linktype: 101, data: udpIp },
  { name: 'radiotap-80211', linktype: 127, data: [0, 0, 8, 0, 0, 0, 0, 0, ...WIFI_HDR, 0xaa, 0xaa, 3, 0, 0, 0, 8, 0, ...udpIp] },
  { name: 'ieee80211', linktype: 105, data: [...WIFI_HDR, 0xaa, 0xaa, 3, 0, 0, 0, 8, 0, ...udpIp] },
];

const ext = (next: number, payload: Bytes): Bytes => [next, 0, 1, 4, 0, 0, 0, 0, ...payload];

/** Extra shapes for the filter tests: VLAN/QinQ, IPv6 extension headers, other ARP hardware, SNAP-encapsulated IP. */
export const FILTER_EXTRA: Packet[] = [
  { name: 'vlan-tcp-syn', data: vlan(100, 0x0800, ip4(6, tcp(40000, 5001, { flags: SYN }))) },
  { name: 'vlan-200-udp-dns', data: vlan(200, 0x0800, ip4(17, udp(40000, 53, query))) },
  { name: 'qinq-udp', data: eth(0x88a8, [0, 10, 0x81, 0, 0, 100, 0x08, 0x00, ...ip4(17, udp(40000, 4789, [8, 0, 0, 0, 0, 0, 7, 0]))]) },
  { name: 'ip6-hbh-udp', data: eth(0x86dd, ip6(0, ext(17, udp(40000, 53, query)))) },
  { name: 'arp-ieee802', data: eth(0x0806, [0, 6, 8, 0, 6, 4, 0, 1, ...MAC_A, ...v4('198.18.0.1'), 0, 0, 0, 0, 0, 0, ...v4('198.18.0.7')]) },
  { name: 'snap-ip', data: [...MAC_B, ...MAC_A, ...u16b(36), 0xaa, 0xaa, 3, 0, 0, 0, 8, 0, ...ip4(1, [8, 0, 0, 0, 0, 7, 0, 1])] },
  { name: 'broadcast-udp', data: eth(0x0800, ip4(17, udp(68, 67, new Array<number>(300).fill(0)), { dst: '255.255.255.255' }), [255, 255, 255, 255, 255, 255]) },
  { name: 'ttl-2', data: eth(0x0800, ip4(17, udp(40000, 33434, [0]), { ttl: 2 })) },
  { name: 'tcp-6000', data: eth(0x0800, ip4(6, tcp(6000, 40000, { flags: ACK, ack: 9 }), { src: '198.19.0.5', dst: '198.18.0.1' })) },
];
