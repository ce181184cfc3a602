/**
 * Netlink attributes (struct nlattr: len u16, type u16, payload, padded to 4).
 * Writing goes through AttrWriter, a growable buffer that also writes the
 * fixed headers in front (nlmsghdr, ifinfomsg ...). Reading never trusts a
 * length from the wire: every attribute is bounds-checked against its parent.
 */
import { NetlinkDecodeError } from '../errors.js';
import { NLA_F_NESTED, NLA_TYPE_MASK, align4 } from './constants.js';

export class AttrWriter {
  buf: Buffer;
  length = 0;

  constructor(initial = 256) {
    this.buf = Buffer.alloc(initial);
  }

  reserve(n: number): number {
    const need = this.length + n;
    if (need > this.buf.length) {
      const next = Buffer.alloc(Math.max(need, this.buf.length * 2));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length = need;
    return at;
  }

  /** Raw bytes padded to 4 (fixed headers such as ifinfomsg). */
  bytes(data: Uint8Array): this {
    const at = this.reserve(align4(data.length));
    this.buf.set(data, at);
    this.buf.fill(0, at + data.length, at + align4(data.length));
    return this;
  }

  /** `n` zero bytes to be filled by the caller at the returned offset. */
  zeros(n: number): number {
    const at = this.reserve(align4(n));
    this.buf.fill(0, at, at + align4(n));
    return at;
  }

  /** Writes an attribute header; returns the payload offset. May reallocate buf. */
  private header(type: number, payload: number): number {
    const at = this.reserve(align4(4 + payload));
    this.buf.writeUInt16LE(4 + payload, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.fill(0, at + 4 + payload, at + align4(4 + payload));
    return at + 4;
  }

  u8(type: number, v: number): this {
    const at = this.header(type, 1);
    this.buf[at] = v;
    return this;
  }
  u16(type: number, v: number): this {
    const at = this.header(type, 2);
    this.buf.writeUInt16LE(v, at);
    return this;
  }
  be16(type: number, v: number): this {
    const at = this.header(type, 2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }
  u32(type: number, v: number): this {
    const at = this.header(type, 4);
    this.buf.writeUInt32LE(v >>> 0, at);
    return this;
  }
  be32(type: number, v: number): this {
    const at = this.header(type, 4);
    this.buf.writeUInt32BE(v >>> 0, at);
    return this;
  }
  u64(type: number, v: bigint): this {
    const at = this.header(type, 8);
    this.buf.writeBigUInt64LE(v, at);
    return this;
  }
  flag(type: number): this {
    this.header(type, 0);
    return this;
  }
  /** NUL-terminated string. */
  string(type: number, s: string): this {
    const len = Buffer.byteLength(s);
    const at = this.header(type, len + 1);
    this.buf.write(s, at);
    this.buf[at + len] = 0;
    return this;
  }
  binary(type: number, data: Uint8Array): this {
    const at = this.header(type, data.length);
    this.buf.set(data, at);
    return this;
  }
  /** Opens a nested attribute; close it with end(). */
  nest(type: number, nestedFlag = true): number {
    const at = this.reserve(4);
    this.buf.writeUInt16LE(type | (nestedFlag ? NLA_F_NESTED : 0), at + 2);
    return at;
  }
  end(nestStart: number): this {
    this.buf.writeUInt16LE(this.length - nestStart, nestStart);
    return this;
  }

  /** A copy of the written bytes. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/** One attribute: type without flags, payload as a view into the message. */
export interface Attr {
  type: number;
  nested: boolean;
  data: Buffer;
}

/**
 * Walks the attributes in buf[start, end). Throws NetlinkDecodeError on a
 * length below 4 or past the end (the last attribute may omit its padding).
 */
export function parseAttrs(buf: Buffer, start = 0, end = buf.length): Attr[] {
  const out: Attr[] = [];
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < 4) throw new NetlinkDecodeError(`attribute length ${len} < 4`, off);
    if (off + len > end) throw new NetlinkDecodeError(`attribute length ${len} runs past its container`, off);
    out.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  // Fewer than 4 bytes may remain: that is padding, not an attribute.
  return out;
}

/** Attributes by type (last one wins, as the kernel's nla_parse does). */
export function attrMap(buf: Buffer, start = 0, end = buf.length): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of parseAttrs(buf, start, end)) m.set(a.type, a.data);
  return m;
}

function need(data: Buffer, n: number, what: string): void {
  if (data.length < n) throw new NetlinkDecodeError(`${what}: payload of ${data.length} bytes, need ${n}`, 0);
}

export const read = {
  u8(d: Buffer): number {
    need(d, 1, 'u8');
    return d[0]!;
  },
  u16(d: Buffer): number {
    need(d, 2, 'u16');
    return d.readUInt16LE(0);
  },
  be16(d: Buffer): number {
    need(d, 2, 'be16');
    return d.readUInt16BE(0);
  },
  u32(d: Buffer): number {
    need(d, 4, 'u32');
    return d.readUInt32LE(0);
  },
  s32(d: Buffer): number {
    need(d, 4, 's32');
    return d.readInt32LE(0);
  },
  be32(d: Buffer): number {
    need(d, 4, 'be32');
    return d.readUInt32BE(0);
  },
  u64(d: Buffer): bigint {
    need(d, 8, 'u64');
    return d.readBigUInt64LE(0);
  },
  /** A string attribute, up to its first NUL. */
  string(d: Buffer): string {
    const nul = d.indexOf(0);
    return d.toString('utf8', 0, nul < 0 ? d.length : nul);
  },
};
