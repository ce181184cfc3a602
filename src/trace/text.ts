/**
 * A byte buffer that trace lines are formatted into directly, no
 * intermediate strings: constants are pre-encoded (Lit), digits, hex and
 * dotted quads come from tables, and bytes go out four at a time with
 * DataView stores. A store may write up to 3 bytes past `pos`; they are
 * overwritten by the next write or never emitted (room() keeps slack).
 *
 * With a `spill` callback (output.ts) a full buffer is handed on and
 * writing continues; without one (summarize() in print.ts) it grows.
 */

/** A pre-encoded ASCII constant: little-endian 32-bit words and a length. */
export class Lit {
  readonly w: Uint32Array;
  readonly n: number;
  constructor(readonly s: string) {
    const bytes = Buffer.from(s, 'latin1');
    this.n = bytes.length;
    this.w = new Uint32Array(Math.ceil(this.n / 4));
    new Uint8Array(this.w.buffer).set(bytes);
  }
}

export function lit(s: string): Lit {
  return new Lit(s);
}

/** Little-endian word of up to four bytes. */
function word(a: number, b = 0, c = 0, d = 0): number {
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
}

// 0..999 as 1-3 digits (DEC) and their lengths; as exactly 3 digits (DEC3);
// 0..255 as "digits." (OCTET) and length; as "hh:" (HEX).
const DEC = new Uint32Array(1000);
const DEC_LEN = new Uint8Array(1000);
const DEC3 = new Uint32Array(1000);
const OCTET = new Uint32Array(256);
const OCTET_LEN = new Uint8Array(256);
const HEXC = new Uint32Array(256);
for (let i = 0; i < 1000; i++) {
  const s = String(i);
  const c = (k: number) => s.charCodeAt(k);
  DEC[i] = s.length === 1 ? word(c(0)) : s.length === 2 ? word(c(0), c(1)) : word(c(0), c(1), c(2));
  DEC_LEN[i] = s.length;
  const p = s.padStart(3, '0');
  DEC3[i] = word(p.charCodeAt(0), p.charCodeAt(1), p.charCodeAt(2));
  if (i < 256) {
    const o = `${s}.`;
    OCTET[i] = word(o.charCodeAt(0), o.charCodeAt(1), o.charCodeAt(2) || 0, o.charCodeAt(3) || 0);
    OCTET_LEN[i] = o.length;
    const h = i.toString(16).padStart(2, '0');
    HEXC[i] = word(h.charCodeAt(0), h.charCodeAt(1), 58);
  }
}

/** Bytes a store may run past its logical end, plus margin. */
const SLACK = 8;

// Unchecked writers: each stores at p in `dv` and returns the new position.
// The caller has made room (TextBuffer.room) for what it writes.

export function putByte(dv: DataView, p: number, c: number): number {
  dv.setUint8(p, c);
  return p + 1;
}

export function putLit(dv: DataView, p: number, l: Lit): number {
  const w = l.w;
  for (let i = 0; i < w.length; i++) dv.setUint32(p + 4 * i, w[i]!, true);
  return p + l.n;
}

/** An ASCII string of bounded length (addresses, small fallbacks). */
export function putAscii(dv: DataView, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) dv.setUint8(p + i, s.charCodeAt(i));
  return p + s.length;
}

/** Decimal text of a number: integers 0..2^32-1 from tables, anything else via String (≤ 24 bytes). */
export function putDec(dv: DataView, p: number, v: number): number {
  if (!(v >= 0 && v <= 0xffffffff && v === Math.floor(v))) return putAscii(dv, p, String(v));
  if (v < 1000) {
    dv.setUint32(p, DEC[v]!, true);
    return p + DEC_LEN[v]!;
  }
  if (v < 1e6) {
    const hi = Math.floor(v / 1000);
    dv.setUint32(p, DEC[hi]!, true);
    p += DEC_LEN[hi]!;
    dv.setUint32(p, DEC3[v - hi * 1000]!, true);
    return p + 3;
  }
  const top = Math.floor(v / 1e6);
  const low = v - top * 1e6;
  if (top < 1000) {
    dv.setUint32(p, DEC[top]!, true);
    p += DEC_LEN[top]!;
  } else {
    const t1 = Math.floor(top / 1000);
    dv.setUint32(p, DEC[t1]!, true);
    p += DEC_LEN[t1]!;
    dv.setUint32(p, DEC3[top - t1 * 1000]!, true);
    p += 3;
  }
  const mid = Math.floor(low / 1000);
  dv.setUint32(p, DEC3[mid]!, true);
  dv.setUint32(p + 3, DEC3[low - mid * 1000]!, true);
  return p + 6;
}

/** Exactly `width` (≤ 9) decimal digits of v, 0 ≤ v < 10^width, zero-padded. */
export function putFixed(dv: DataView, p: number, v: number, width: number): number {
  // Leading 1-2 digits, then groups of three, left to right (stores overlap forwards only).
  const groups = Math.floor(width / 3);
  const lead = width - groups * 3;
  let div = groups === 3 ? 1e9 : groups === 2 ? 1e6 : groups === 1 ? 1e3 : 1;
  if (lead > 0) {
    const h = Math.floor(v / div);
    dv.setUint32(p, lead === 1 ? DEC[h]! : DEC3[h]! >>> 8, true);
    p += lead;
    v -= h * div;
  }
  for (let g = 0; g < groups; g++) {
    div /= 1000;
    const h = Math.floor(v / div);
    dv.setUint32(p, DEC3[h]!, true);
    p += 3;
    v -= h * div;
  }
  return p;
}

/** "aa:bb:cc:dd:ee:ff" for six bytes at o. */
export function putMac(dv: DataView, p: number, src: Uint8Array, o: number): number {
  dv.setUint32(p, HEXC[src[o]!]!, true);
  dv.setUint32(p + 3, HEXC[src[o + 1]!]!, true);
  dv.setUint32(p + 6, HEXC[src[o + 2]!]!, true);
  dv.setUint32(p + 9, HEXC[src[o + 3]!]!, true);
  dv.setUint32(p + 12, HEXC[src[o + 4]!]!, true);
  dv.setUint32(p + 15, HEXC[src[o + 5]!]!, true);
  return p + 17;
}

/** Dotted quad for four bytes at o. */
export function putIpv4(dv: DataView, p: number, src: Uint8Array, o: number): number {
  let v = src[o]!;
  dv.setUint32(p, OCTET[v]!, true);
  p += OCTET_LEN[v]!;
  v = src[o + 1]!;
  dv.setUint32(p, OCTET[v]!, true);
  p += OCTET_LEN[v]!;
  v = src[o + 2]!;
  dv.setUint32(p, OCTET[v]!, true);
  p += OCTET_LEN[v]!;
  v = src[o + 3]!;
  dv.setUint32(p, OCTET[v]!, true);
  return p + OCTET_LEN[v]! - 1;
}

export class TextBuffer {
  buf: Buffer;
  /** A view of `buf` for the put* writers (replaced with it). */
  dv: DataView;
  pos = 0;

  /**
   * `spill(this)` must consume buf[0, pos) and leave pos at 0 (it may
   * replace the buffer with replace()); it is called when a write would not
   * fit. After any checked write, re-read `dv`: the buffer may have changed.
   */
  constructor(size: number, private readonly spill: ((t: TextBuffer) => void) | null = null) {
    this.buf = Buffer.alloc(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** Swaps in a fresh buffer (the old one was handed to a stream). */
  replace(buf: Buffer): void {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  /** Makes room for n more bytes (plus the stores' slack). */
  room(n: number): void {
    if (this.pos + n + SLACK > this.buf.length) this.#make(n);
  }

  #make(n: number): void {
    if (this.spill && this.pos > 0) this.spill(this);
    if (this.pos + n + SLACK <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n + SLACK));
    this.buf.copy(next, 0, 0, this.pos);
    this.replace(next);
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A pre-encoded constant. */
  lit(l: Lit): void {
    this.room(l.n);
    this.pos = putLit(this.dv, this.pos, l);
  }

  /** A string known to be ASCII. */
  ascii(s: string): void {
    this.room(s.length);
    this.pos = putAscii(this.dv, this.pos, s);
  }

  /** Any string, UTF-8 encoded (ASCII copied byte-wise). */
  text(s: string): void {
    const n = s.length;
    this.room(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = p;
        this.#utf8(s.slice(i));
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  #utf8(s: string): void {
    this.room(Buffer.byteLength(s, 'utf8'));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  dec(v: number): void {
    this.room(24);
    this.pos = putDec(this.dv, this.pos, v);
  }

  fixed(v: number, width: number): void {
    this.room(12);
    this.pos = putFixed(this.dv, this.pos, v, width);
  }

  mac(src: Uint8Array, o: number): void {
    this.room(18);
    this.pos = putMac(this.dv, this.pos, src, o);
  }

  ipv4(src: Uint8Array, o: number): void {
    this.room(16);
    this.pos = putIpv4(this.dv, this.pos, src, o);
  }

  /** The text written so far (UTF-8). */
  toString(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }
}
