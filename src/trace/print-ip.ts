/**
 * The IP part of a trace line, as `tcpdump -n -S` prints it: addresses and
 * ports, TCP flags/seq/ack/win/options/length, UDP length, DNS (UDP and
 * TCP, dns-print.ts), VXLAN, ICMP and ICMPv6 by name with the quoted
 * header of errors, later fragments as `ip-proto-N`, and tcpdump's
 * `[|proto]` where a header was cut. Deliberate differences (documented in
 * README.md): sequence numbers are absolute (tcpdump -S), an IP length of 0
 * (TSO) is decoded from the frame and marked, not refused as `bad-len 0`.
 */
import { u16, u32 } from '../wire/bytes.js';
import * as esp from '../wire/esp.js';
import {
  ICMP_QUOTE, ICMP_REST_OF_HEADER, IPV4_DESTINATION, IPV4_PROTOCOL, IPV4_SOURCE, IPV6_DESTINATION, IPV6_NEXT_HEADER, IPV6_SOURCE, TCP_DATA_OFFSET,
  TCP_MIN_HEADER_LENGTH, TCP_URGENT, UDP_HEADER_LENGTH, UDP_LENGTH,
} from '../wire/fields.js';
import { formatIPv4, formatIPv6 } from '../wire/ip.js';
import {
  ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_PARAMETER_PROBLEM, ICMP_REDIRECT, ICMP_TIME_EXCEEDED, ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION, ICMPV6_PACKET_TOO_BIG,
  ICMPV6_TIME_EXCEEDED, IPPROTO_DSTOPTS, IPPROTO_ESP, IPPROTO_HOPOPTS, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IGMP, IPPROTO_TCP, IPPROTO_UDP,
  TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TCP_URG,
} from '../wire/numbers.js';
import { type Facts, type Level, IP_LENGTH_BEYOND, IP_LENGTH_ZERO } from './facts.js';
import { writeDns } from './dns-print.js';
import { type TextBuffer, lit, putAscii, putByte, putDec, putIpv4, putLit } from './text.js';

const L_COLON = lit(': ');
const L_GT = lit(' > ');
const L_IP = lit('IP ');
const L_IP6 = lit('IP6 ');
const L_FLAGS = lit('Flags [');
const L_NONE = lit('none');
const L_SEQ_T = lit(', seq ');
const L_ACK = lit(', ack ');
const L_WIN = lit(', win ');
const L_LENGTH = lit(', length ');
const L_UDP_LENGTH = lit('UDP, length ');
const L_VXLAN = lit('VXLAN, flags [I] (0x08), vni ');
const L_ID = lit(', id ');
const L_SEQ = lit(', seq ');

/** Room for everything the fixed part of an IP line writes. */
const ROOM = 256;

/** tcpdump's TCP flag letters, bit 0 (FIN) to bit 7 (CWR). */
const TCP_FLAG_LETTERS = [70, 83, 82, 80, 46, 85, 69, 87]; // F S R P . U E W

/** Writes the IP level `l` and everything above it that this level holds. */
export function writeIp(t: TextBuffer, f: Facts, l: Level): void {
  const b = f.data;
  const isV4 = l.ipVersion === 4;
  t.room(ROOM);
  const dv = t.dv;
  let p = putLit(dv, t.pos, isV4 ? L_IP : L_IP6);
  if (l.ipLengthNote === IP_LENGTH_BEYOND) {
    p = putAscii(dv, p, isV4 ? `truncated-ip - ${l.ipMissing} bytes missing! ` : `truncated-ip6 - ${l.ipMissing} bytes missing! `);
  } else if (l.ipLengthNote === IP_LENGTH_ZERO) {
    p = putAscii(dv, p, isV4 ? '[total length 0 (TSO)] ' : '[payload length 0 (TSO)] ');
  }
  // tcpdump names IPv6 extension headers after the addresses, then the ports.
  const ext = !isV4 && (l.ipNextHeader === IPPROTO_HOPOPTS || l.ipNextHeader === IPPROTO_DSTOPTS);
  const ports = l.sourcePort >= 0 && !ext;
  if (isV4) p = putIpv4(dv, p, b, l.ipOffset + IPV4_SOURCE);
  else p = putAscii(dv, p, formatIPv6(b, l.ipOffset + IPV6_SOURCE));
  if (ports) {
    p = putByte(dv, p, 46);
    p = putDec(dv, p, l.sourcePort);
  }
  p = putLit(dv, p, L_GT);
  if (isV4) p = putIpv4(dv, p, b, l.ipOffset + IPV4_DESTINATION);
  else p = putAscii(dv, p, formatIPv6(b, l.ipOffset + IPV6_DESTINATION));
  if (ports) {
    p = putByte(dv, p, 46);
    p = putDec(dv, p, l.destinationPort);
  }
  t.pos = putLit(dv, p, L_COLON);
  if (ext) {
    t.ascii(l.ipNextHeader === IPPROTO_HOPOPTS ? 'HBH ' : 'DSTOPT ');
    if (l.sourcePort >= 0) t.ascii(`${l.sourcePort} > ${l.destinationPort}: `);
  }
  if (l.fragment) {
    t.ascii(`ip-proto-${l.protocol}`);
    return;
  }
  if (l.protocol === IPPROTO_IGMP && !l.problem && l.l4Length >= 8 && b[l.l4Offset] === 0x22) {
    // IGMPv3 membership report (the kernel sends them when a link comes up): tcpdump's one line.
    t.ascii(`igmp v3 report, ${u16(b, l.l4Offset + 6)} group record(s)`);
    return;
  }
  switch (l.protocol) {
    case IPPROTO_TCP:
      if (l.problem) return transportProblem(t, b, l);
      return tcp(t, b, l);
    case IPPROTO_UDP:
      if (l.problem) return transportProblem(t, b, l);
      return udp(t, b, l);
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (l.problem) return transportProblem(t, b, l);
      return icmp(t, b, l);
    case IPPROTO_ESP:
      // tcpdump's ESP line: only the clear header (SPI, sequence) is readable.
      if (l.problem || l.l4Length < esp.HEADER_LENGTH) return transportProblem(t, b, l);
      t.ascii(`${esp.describe({ spi: u32(b, l.l4Offset), sequence: u32(b, l.l4Offset + 4) })}, length ${l.l4Length}`);
      return;
    default:
      if (l.problem) return transportProblem(t, b, l);
      t.ascii(` ip-proto-${l.protocol} ${l.l4Length}`);
  }
}

function transportProblem(t: TextBuffer, b: Uint8Array, l: Level): void {
  if (l.problem === 'tcp-header-length') {
    const hl = (b[l.l4Offset + TCP_DATA_OFFSET]! >> 4) * 4;
    t.ascii(` tcp ${l.l4Length - hl} [bad hdr length ${hl} - too short, < 20]`);
    return;
  }
  t.ascii(` [|${l.problem === 'ip6-extension' ? 'ip6' : l.problem}]`);
}

function tcp(t: TextBuffer, b: Uint8Array, l: Level): void {
  const o = l.l4Offset;
  const flags = l.tcpFlags;
  const hl = (b[o + TCP_DATA_OFFSET]! >> 4) * 4;
  const len = Math.max(0, l.l4Length - hl);
  t.room(ROOM);
  const dv = t.dv;
  let p = putLit(dv, t.pos, L_FLAGS);
  if (flags === 0) p = putLit(dv, p, L_NONE);
  else for (let i = 0; i < 8; i++) if (flags & (1 << i)) p = putByte(dv, p, TCP_FLAG_LETTERS[i]!);
  p = putByte(dv, p, 93);
  if (len > 0 || flags & (TCP_FIN | TCP_SYN | TCP_RST)) {
    p = putLit(dv, p, L_SEQ_T);
    p = putDec(dv, p, l.tcpSeq);
    if (len > 0) {
      p = putByte(dv, p, 58);
      p = putDec(dv, p, (l.tcpSeq + len) >>> 0);
    }
  }
  if (flags & TCP_ACK) {
    p = putLit(dv, p, L_ACK);
    p = putDec(dv, p, l.tcpAck);
  }
  p = putLit(dv, p, L_WIN);
  p = putDec(dv, p, l.tcpWindow);
  t.pos = p;
  if (flags & TCP_URG) t.ascii(`, urg ${u16(b, o + TCP_URGENT)}`);
  // A malformed option ends the line, as in tcpdump.
  if (hl > TCP_MIN_HEADER_LENGTH && !tcpOptions(t, b, o + TCP_MIN_HEADER_LENGTH, o + hl)) return;
  t.room(32);
  p = putLit(t.dv, t.pos, L_LENGTH);
  t.pos = putDec(t.dv, p, len);
  if (len > 0 && (l.sourcePort === 53 || l.destinationPort === 53)) {
    // DNS over TCP (RFC 1035 §4.2.2): a 2-byte length, then the message.
    const d = o + hl;
    const have = l.l4Captured - hl;
    if (have < 2) {
      t.ascii(' [|domain]');
      return;
    }
    const prefix = u16(b, d);
    if (prefix !== len - 2) {
      t.ascii(` [prefix length(${prefix}) != length(${len - 2})] (invalid)`);
      return;
    }
    t.byte(32);
    writeDns(t, b, d + 2, have - 2, len - 2);
  }
}

/** ", options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]" (tcpdump's names); false after a malformed one ("[bad opt]"). */
function tcpOptions(t: TextBuffer, b: Uint8Array, o: number, end: number): boolean {
  t.ascii(', options [');
  for (let first = true; o < end; first = false) {
    const kind = b[o]!;
    if (!first) t.byte(44);
    if (kind === 0) {
      t.ascii('eol');
      break;
    }
    if (kind === 1) {
      t.ascii('nop');
      o++;
      continue;
    }
    const len = o + 1 < end ? b[o + 1]! : 0;
    // Fixed-size options need their data; a length that disagrees is shown, as tcpdump does.
    const want = kind === 2 ? 4 : kind === 3 ? 3 : kind === 8 ? 10 : kind === 4 ? 2 : len;
    if (len < 2 || o + len > end || o + want > end) {
      t.ascii('[bad opt]]');
      return false;
    }
    const d = o + 2;
    switch (kind) {
      case 2:
        t.ascii(`mss ${u16(b, d)}`);
        break;
      case 3:
        t.ascii(`wscale ${b[d]!}`);
        break;
      case 4:
        t.ascii('sackOK');
        break;
      case 5: {
        const n = Math.floor((len - 2) / 8);
        t.ascii(`sack ${n} `);
        for (let i = 0; i < n; i++) t.ascii(`{${u32(b, d + i * 8)}:${u32(b, d + i * 8 + 4)}}`);
        break;
      }
      case 8:
        t.ascii(`TS val ${u32(b, d)} ecr ${u32(b, d + 4)}`);
        break;
      case 19:
        t.ascii('md5 shared secret not supplied with -M, can\'t check');
        break;
      case 28:
        t.ascii(`utm ${u16(b, d) & 0x7fff}`);
        break;
      case 30:
        t.ascii('mptcp');
        break;
      case 34:
        t.ascii(len === 2 ? 'tfo  cookiereq' : 'tfo  cookie');
        break;
      default: {
        t.ascii(`unknown-${kind} `);
        for (let i = d; i < o + len; i++) t.ascii(b[i]!.toString(16).padStart(2, '0'));
      }
    }
    if (want !== len) t.ascii(`[len ${len}]`);
    // tcpdump goes on after the data it read, not after the claimed length.
    o += want;
  }
  t.byte(93);
  return true;
}

function udp(t: TextBuffer, b: Uint8Array, l: Level): void {
  const o = l.l4Offset;
  if (l.vni >= 0) {
    t.lit(L_VXLAN);
    t.dec(l.vni);
    return;
  }
  const len = Math.max(0, u16(b, o + UDP_LENGTH) - UDP_HEADER_LENGTH);
  const sp = l.sourcePort;
  const dp = l.destinationPort;
  if (sp === 53 || dp === 53 || sp === 5353 || dp === 5353) return writeDns(t, b, o + UDP_HEADER_LENGTH, l.l4Captured - UDP_HEADER_LENGTH, len);
  t.room(32);
  t.pos = putDec(t.dv, putLit(t.dv, t.pos, L_UDP_LENGTH), len);
}

const UNREACH: Record<number, string> = {
  0: 'net %s unreachable', 1: 'host %s unreachable', 5: '%s unreachable - source route failed', 6: 'net %s unreachable - unknown',
  7: 'host %s unreachable - unknown', 8: '%s unreachable - source host isolated', 9: 'net %s unreachable - admin prohibited',
  10: 'host %s unreachable - admin prohibited', 11: 'net %s unreachable - tos prohibited', 12: 'host %s unreachable - tos prohibited',
  13: 'host %s unreachable - admin prohibited filter', 14: 'host %s unreachable - host precedence violation',
  15: 'host %s unreachable - precedence cutoff',
};
const ICMP4_NAMES: Record<number, string> = {
  4: 'source quench', 9: 'router advertisement', 10: 'router solicitation', 13: 'time stamp request', 14: 'time stamp reply',
  15: 'information request', 16: 'information reply', 17: 'address mask request', 18: 'address mask reply',
};

/**
 * ICMP and ICMPv6 as tcpdump prints them: the message by name (echo id and
 * seq, the quoted header of errors), then the length, which a cut header
 * leaves out (the message ends in `[|icmp]`).
 */
function icmp(t: TextBuffer, b: Uint8Array, l: Level): void {
  const complete = l.protocol === IPPROTO_ICMPV6 ? icmp6Message(t, b, l) : icmp4Message(t, b, l);
  if (!complete) return;
  t.room(32);
  t.pos = putDec(t.dv, putLit(t.dv, t.pos, L_LENGTH), l.l4Length);
}

/** ", id N, seq N" of an echo request or reply. */
function echoIds(t: TextBuffer, l: Level): void {
  t.room(32);
  let p = putLit(t.dv, t.pos, L_ID);
  p = putDec(t.dv, p, l.icmpId);
  p = putLit(t.dv, p, L_SEQ);
  t.pos = putDec(t.dv, p, l.icmpSeq);
}

/** The quoted destination and port of a port unreachable, as both printers name it. */
function unreachablePort(dst: string, protocol: number, port: number): string {
  if (protocol === IPPROTO_TCP) return `${dst} tcp port ${port}`;
  if (protocol === IPPROTO_UDP) return `${dst} udp port ${port}`;
  return `${dst} protocol ${protocol} port ${port} unreachable`;
}

/** Writes an ICMP message; false when its header was cut (the text then ends in [|icmp]). */
function icmp4Message(t: TextBuffer, b: Uint8Array, l: Level): boolean {
  const o = l.l4Offset;
  const have = l.l4Captured;
  const type = l.icmpType;
  const code = l.icmpCode;
  t.ascii('ICMP ');
  if (type === ICMP_ECHO_REPLY || type === ICMP_ECHO_REQUEST) {
    if (l.icmpId < 0) return cut(t, ' [|icmp]');
    t.ascii(type === ICMP_ECHO_REQUEST ? 'echo request' : 'echo reply');
    echoIds(t, l);
  } else if (type === ICMP_DEST_UNREACH || type === ICMP_REDIRECT) {
    // Errors quote the offending IP header (and 8 bytes after it) from offset 8.
    const q = o + ICMP_QUOTE;
    if (have < 28 || b[q]! >> 4 !== 4 || have < ICMP_QUOTE + (b[q]! & 0xf) * 4) return cut(t, ' [|icmp]');
    const dst = formatIPv4(b, q + IPV4_DESTINATION);
    if (type === ICMP_REDIRECT) {
      const gw = formatIPv4(b, o + ICMP_REST_OF_HEADER);
      t.ascii(code === 0 ? `redirect ${dst} to net ${gw}` : code === 1 ? `redirect ${dst} to host ${gw}` : code === 2 ? `redirect-tos ${dst} to net ${gw}` : `redirect-tos ${dst} to host ${gw}`);
    } else if (code === 2) {
      t.ascii(`${dst} protocol ${b[q + IPV4_PROTOCOL]!} unreachable`);
    } else if (code === 3) {
      const proto = b[q + IPV4_PROTOCOL]!;
      const ports = q + (b[q]! & 0xf) * 4;
      if (ports + 4 > o + have) return cut(t, ' [|icmp]');
      const text = unreachablePort(dst, proto, u16(b, ports + 2));
      t.ascii(proto === IPPROTO_TCP || proto === IPPROTO_UDP ? `${text} unreachable` : text);
    } else if (code === 4) {
      const mtu = u16(b, o + 6);
      t.ascii(mtu ? `${dst} unreachable - need to frag (mtu ${mtu})` : `${dst} unreachable - need to frag`);
    } else {
      const f = UNREACH[code];
      t.ascii(f ? f.replace('%s', dst) : `${dst} unreachable - #${code}`);
    }
  } else if (type === ICMP_TIME_EXCEEDED) {
    t.ascii(code === 0 ? 'time exceeded in-transit' : code === 1 ? 'ip reassembly time exceeded' : `time exceeded-#${code}`);
  } else if (type === ICMP_PARAMETER_PROBLEM) {
    t.ascii(code ? `parameter problem - code ${code}` : `parameter problem - octet ${have >= 5 ? b[o + 4]! : 0}`);
  } else {
    t.ascii(ICMP4_NAMES[type] ?? `type-#${type}`);
  }
  return true;
}

function cut(t: TextBuffer, marker: string): false {
  t.ascii(marker);
  return false;
}

const ICMP6_NAMES: Record<number, string> = {
  1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded', 4: 'parameter problem', 128: 'echo request',
  129: 'echo reply', 130: 'multicast listener query', 131: 'multicast listener report', 132: 'multicast listener done',
  133: 'router solicitation', 134: 'router advertisement', 135: 'neighbor solicitation', 136: 'neighbor advertisement',
  137: 'redirect', 138: 'router renumbering', 139: 'node information query', 140: 'node information reply',
  141: 'inverse neighbor solicitation', 142: 'inverse neighbor advertisement', 143: 'multicast listener report v2',
  144: 'ha discovery request', 145: 'ha discovery reply', 146: 'mobile router solicitation', 147: 'mobile router advertisement',
  148: 'certification path solicitation', 149: 'certification path advertisement', 151: 'multicast router advertisement',
  152: 'multicast router solicitation', 153: 'multicast router termination', 155: 'RPL',
};
const UNREACH6 = ['unreachable route', 'unreachable prohibited', 'beyond scope', 'unreachable address', 'unreachable port'];

/** Writes an ICMPv6 message; false when its header was cut (the text then ends in [|icmp6]). */
function icmp6Message(t: TextBuffer, b: Uint8Array, l: Level): boolean {
  const o = l.l4Offset;
  const have = l.l4Captured;
  const type = l.icmpType;
  const code = l.icmpCode;
  const name = ICMP6_NAMES[type];
  t.ascii(name ? `ICMP6, ${name}` : `ICMP6, unknown icmp6 type (${type})`);
  // The quoted IPv6 header of an error starts at offset 8; its destination at +24.
  const quoted = o + ICMP_QUOTE;
  const quotedDst = (): string | undefined => (have >= 48 ? formatIPv6(b, quoted + IPV6_DESTINATION) : undefined);
  switch (type) {
    case ICMPV6_DEST_UNREACH: {
      t.ascii(`, ${UNREACH6[code] ?? `unknown unreach code (${code})`}`);
      const dst = quotedDst();
      if (dst === undefined) return cut(t, ' [|icmp6]');
      if (code === 4) {
        const next = b[quoted + IPV6_NEXT_HEADER]!;
        if (have < 52) return cut(t, ' [|icmp6]');
        t.ascii(`, ${unreachablePort(dst, next, u16(b, o + 50))}`);
      } else t.ascii(` ${dst}`);
      break;
    }
    case ICMPV6_PACKET_TOO_BIG:
      if (have < 8) return cut(t, ' [|icmp6]');
      t.ascii(`, mtu ${u32(b, o + 4)}`);
      break;
    case ICMPV6_TIME_EXCEEDED: {
      const dst = quotedDst();
      if (code === 0 && dst !== undefined) t.ascii(` in-transit for ${dst}`);
      else if (code === 1) t.ascii(' reassembly');
      break;
    }
    case ICMPV6_ECHO_REQUEST:
    case ICMPV6_ECHO_REPLY:
      if (l.icmpId < 0) return cut(t, ' [|icmp6]');
      echoIds(t, l);
      break;
    case 130:
    case 131:
    case 132:
      if (have < 24) return cut(t, ' [|icmp6]');
      if (type === 130 && have >= 28) t.ascii(' v2');
      else t.ascii(`max resp delay: ${u16(b, o + 4)} addr: ${formatIPv6(b, o + 8)}`);
      break;
    case ICMPV6_NEIGHBOR_SOLICITATION:
    case ICMPV6_NEIGHBOR_ADVERTISEMENT:
      if (have < 24) return cut(t, ' [|icmp6]');
      t.ascii(`${type === ICMPV6_NEIGHBOR_SOLICITATION ? ', who has ' : ', tgt is '}${formatIPv6(b, o + 8)}`);
      break;
    case 143:
      if (have < 8) return cut(t, ' [|icmp6]');
      t.ascii(`, ${u16(b, o + 6)} group record(s)`);
      break;
    default:
      break;
  }
  return true;
}
