/** IPv4/IPv6 text <-> rdata bytes for A and AAAA (pure; no node:net at runtime). */
import { DnsEncodeError } from './errors.js';

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4Text(text: string): boolean {
  return V4.test(text);
}

/** Writes the 4 bytes of a dotted quad at off. */
export function writeIPv4(text: string, out: Uint8Array, off: number): void {
  if (!V4.test(text)) throw new DnsEncodeError(`invalid IPv4 address ${JSON.stringify(text)}`);
  const p = text.split('.');
  for (let i = 0; i < 4; i++) out[off + i] = Number(p[i]);
}

export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Writes the 16 bytes of an IPv6 address (with optional embedded IPv4 tail) at off. */
export function writeIPv6(text: string, out: Uint8Array, off: number): void {
  const bad = () => new DnsEncodeError(`invalid IPv6 address ${JSON.stringify(text)}`);
  let t = text;
  const tail = /:(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (tail) {
    const v4 = new Uint8Array(4);
    if (!V4.test(tail[1]!)) throw bad();
    writeIPv4(tail[1]!, v4, 0);
    t = t.slice(0, -tail[1]!.length) + `${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) throw bad();
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    return parseInt(g, 16);
  }));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const given = head.length + rest.length;
  if (halves.length === 2 ? given > 7 : given !== 8) throw bad();
  const words = [...head, ...Array<number>(8 - given).fill(0), ...rest];
  for (let i = 0; i < 8; i++) {
    out[off + 2 * i] = words[i]! >> 8;
    out[off + 2 * i + 1] = words[i]! & 0xff;
  }
}

/** RFC 5952 text of 16 bytes at off. */
export function formatIPv6(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Canonical text of an IPv6 address (round trip through bytes). */
export function canonicalIPv6(text: string): string {
  const b = new Uint8Array(16);
  writeIPv6(text, b, 0);
  return formatIPv6(b, 0);
}
