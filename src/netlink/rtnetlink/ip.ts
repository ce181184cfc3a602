/**
 * IP address text <-> bytes for rtnetlink payloads (NDA_DST, IFA_LOCAL,
 * RTA_GATEWAY ...). IPv6 is printed the way iproute2 prints it (RFC 5952).
 */
import { InvalidArgumentError } from '../../errors.js';
import { AF_INET, AF_INET6 } from './constants.js';

export interface IpAddress {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
}

export interface IpPrefix extends IpAddress {
  prefixLength: number;
}

function parseV4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseV6(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return undefined;
  let tail4: Buffer | undefined;
  let t = text;
  const lastColon = t.lastIndexOf(':');
  if (t.includes('.')) {
    tail4 = parseV4(t.slice(lastColon + 1));
    if (!tail4) return undefined;
    t = `${t.slice(0, lastColon + 1)}0:0`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || (halves.length === 2 && fill < 1)) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  }
  if (tail4) tail4.copy(out, 12);
  return out;
}

/** Parses an IPv4 or IPv6 address; throws InvalidArgumentError naming `what`. */
export function parseIp(text: string, what = 'address'): IpAddress {
  const v4 = parseV4(text);
  if (v4) return { family: AF_INET, bytes: v4 };
  const v6 = text.includes(':') ? parseV6(text) : undefined;
  if (v6) return { family: AF_INET6, bytes: v6 };
  throw new InvalidArgumentError(`${what}: ${JSON.stringify(text)} is not an IP address`);
}

/** Parses `addr/len` (len defaults to the full width). */
export function parsePrefix(text: string, what = 'prefix'): IpPrefix {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash), what);
  const max = ip.family === AF_INET ? 32 : 128;
  if (slash < 0) return { ...ip, prefixLength: max };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    throw new InvalidArgumentError(`${what}: bad prefix length in ${JSON.stringify(text)}`);
  }
  return { ...ip, prefixLength: Number(lenText) };
}

/** Formats 4 or 16 address bytes; other lengths as hex (never throws). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Buffer.from(b).toString('hex');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  // IPv4-mapped addresses print as ::ffff:a.b.c.d, as iproute2 does.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Address bytes with the host bits cleared (route destinations). */
export function networkOf(p: IpPrefix): Buffer {
  const out = Buffer.from(p.bytes);
  for (let bit = p.prefixLength; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}
