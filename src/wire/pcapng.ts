/**
 * pcapng (draft-ietf-opsawg-pcapng): reader step and writer.
 *
 *   every block                         Section Header Block (0x0A0D0D0A)
 *   0  block type u32                   8  byte-order magic 0x1A2B3C4D
 *   4  block total length u32           12 major u16 (1), minor u16
 *   8  body ...                         16 section length i64 (-1 unknown)
 *   L-4 block total length (again)      24 options
 *
 *   IDB (1): linktype u16, reserved u16, snaplen u32, options
 *   EPB (6): interface id, ts high, ts low, caplen, origlen, data (pad 4), options
 *   SPB (3): origlen, data (interface 0, no timestamp)
 *   PB  (2, obsolete): interface id u16, drops u16, ts high, ts low, caplen, origlen, data
 *   option: code u16, length u16, value (pad 4); code 0 ends the list
 *
 * Each SHB sets the byte order and resets the interface table. Bad input
 * rules (docs/reliability.md C10-C16) are libpcap's: block length ≥ 12, a
 * multiple of 4, ≤ 16 MiB (SHB ≤ 1 MiB), equal to its trailer; unknown
 * blocks and options are skipped; packets on a missing interface are errors.
 */
import { CaptureError } from '../errors.js';
import {
  type CaptureHandlers, type CaptureInterface, CaptureOutput, MAX_BLOCK_LENGTH, MAX_RECORD_LENGTH, MAX_SHB_LENGTH,
  type RecordFilter, type RecordScanner, canonicalLinktype, newRecord, resolutionDigits, splitTimestamp, u16, u32, utf8,
} from './capture-common.js';

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 1;
export const BT_PB = 2;
export const BT_SPB = 3;
export const BT_EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const MAX_WARNINGS = 50;

export function isPcapngMagic(b: Uint8Array, off = 0): boolean {
  return b[off] === 0x0a && b[off + 1] === 0x0d && b[off + 2] === 0x0d && b[off + 3] === 0x0a;
}

interface Iface extends CaptureInterface {
  digits: number;
  /** Units per second when decimal and ≤ ns (the quick timestamp path), else 0. */
  unitsPerSec: number;
  /** Nanoseconds per unit for that path. */
  nsPerUnit: number;
  /** The last timestamp high word (-1: none) as whole seconds and leftover units. */
  highWord: number;
  highSec: number;
  highRem: number;
}

/** Incremental pcapng parser; drive `step` with a ChunkDriver. */
export class PcapngParser {
  readonly maxUnit = MAX_BLOCK_LENGTH;
  #le = true;
  #sections = 0;
  /** A section with an unknown major version is skipped until the next SHB. */
  #skipSection = false;
  #ifaces: Iface[] = [];
  #warnings = 0;
  count = 0;
  readonly #record = newRecord();
  readonly #ts = { sec: 0, nsec: 0 };
  readonly #pre: RecordFilter | null;
  /** The prefilter's link type, -1 without one. */
  readonly #preLinktype: number;
  /** #skipRun's loop in bulk, when the prefilter has one; it reads #snaplens (-1: not the prefilter's link type). */
  readonly #scan: RecordScanner | null;
  #snaplens = new Int32Array(0);

  constructor(private readonly handlers: CaptureHandlers) {
    this.#pre = handlers.prefilter?.keep ?? null;
    this.#scan = handlers.prefilter?.scan ?? null;
    this.#preLinktype = handlers.prefilter?.linktype ?? -1;
  }

  get littleEndian(): boolean {
    return this.#le;
  }

  readonly step = (b: Uint8Array, off: number, avail: number, fileOffset: number): number => {
    if (this.#pre !== null) {
      const skipped = this.#skipRun(b, off, off + avail);
      if (skipped > 0) return skipped;
    }
    if (avail < 12) return -12;
    const type = u32(b, off, this.#le);
    if (type === BT_SHB) {
      const magic = u32(b, off + 8, false);
      if (magic === BYTE_ORDER_MAGIC) this.#le = false;
      else if (u32(b, off + 8, true) === BYTE_ORDER_MAGIC) this.#le = true;
      else if (this.#sections === 0) throw new CaptureError('ERR_WEFT_NOT_A_CAPTURE', 'not a pcap/pcapng file (bad byte-order magic)', fileOffset + 8);
      else throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', 'section header with a bad byte-order magic', fileOffset + 8);
    } else if (this.#sections === 0) {
      throw new CaptureError('ERR_WEFT_NOT_A_CAPTURE', 'not a pcap/pcapng file (no section header block first)', fileOffset);
    }
    const le = this.#le;
    const len = u32(b, off + 4, le);
    if (len < 12) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `block length ${len} is smaller than 12`, fileOffset + 4, this.count);
    if (len % 4 !== 0) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `block length ${len} is not a multiple of 4`, fileOffset + 4, this.count);
    const cap = type === BT_SHB ? MAX_SHB_LENGTH : MAX_BLOCK_LENGTH;
    if (len > cap) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `block length ${len} exceeds the maximum of ${cap}`, fileOffset + 4, this.count);
    if (avail < len) return -len;
    const trailer = u32(b, off + len - 4, le);
    if (trailer !== len) {
      throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `block length ${len} does not match its trailer ${trailer}`, fileOffset + len - 4, this.count);
    }
    const end = off + len - 4;
    switch (type) {
      case BT_SHB:
        this.#section(b, off, end, fileOffset);
        break;
      case BT_IDB:
        if (!this.#skipSection) this.#interface(b, off, end, fileOffset);
        break;
      case BT_EPB:
        if (!this.#skipSection) this.#enhanced(b, off, end, fileOffset);
        break;
      case BT_SPB:
        if (!this.#skipSection) this.#simple(b, off, end, fileOffset);
        break;
      case BT_PB:
        if (!this.#skipSection) this.#obsolete(b, off, end, fileOffset);
        break;
      default:
        // NRB, ISB, DSB, custom and unknown blocks: skipped by length.
        break;
    }
    return len;
  };

  /**
   * A filtered read's fast path: a run of well-formed Enhanced Packet Blocks
   * without options or anything to warn about, each rejected by the
   * prefilter straight from `b`, is only counted. Returns the run's length;
   * whatever ends it (a kept packet too) goes through step's full checks.
   */
  #skipRun(b: Uint8Array, start: number, end: number): number {
    if (this.#skipSection) return 0;
    const scan = this.#scan;
    if (scan !== null) {
      const n = scan.pcapng(b, start, end, this.#le, this.#snaplens);
      this.count += scan.skipped;
      return n;
    }
    const pre = this.#pre!;
    const le = this.#le;
    let p = start;
    while (end - p >= 32 && u32(b, p, le) === BT_EPB) {
      const len = u32(b, p + 4, le);
      if (len > end - p) break;
      const iface = this.#ifaces[u32(b, p + 8, le)];
      const caplen = u32(b, p + 20, le);
      const origlen = u32(b, p + 24, le);
      if (iface === undefined || iface.linktype !== this.#preLinktype || caplen > iface.snaplen || caplen > origlen) break;
      // Exactly the padded data: no options, and the length checks of step hold.
      if (len !== 32 + ((caplen + 3) & ~3) || u32(b, p + len - 4, le) !== len) break;
      if (pre(b, p + 28, caplen, origlen) !== 0) break;
      this.count++;
      p += len;
    }
    return p - start;
  }

  #section(b: Uint8Array, off: number, end: number, fileOffset: number): void {
    if (end - off < 24) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', 'section header block too short', fileOffset);
    this.#sections++;
    this.#ifaces = [];
    this.#snaplens = new Int32Array(0);
    const major = u16(b, off + 12, this.#le);
    const minor = u16(b, off + 14, this.#le);
    this.#skipSection = major !== 1;
    if (this.#skipSection) {
      this.#warn(`section with unsupported pcapng version ${major}.${minor} skipped`, fileOffset + 12);
      return;
    }
    this.#options(b, off, off + 24, end, fileOffset, (code, vo, vl) => {
      if (code === OPT_COMMENT) this.handlers.comment?.(utf8(b, vo, vl));
    });
  }

  #interface(b: Uint8Array, off: number, end: number, fileOffset: number): void {
    if (end - off < 16) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', 'interface description block too short', fileOffset);
    const linktype = u16(b, off + 8, this.#le);
    let snaplen = u32(b, off + 12, this.#le);
    // pcapng: snaplen 0 means no limit.
    if (snaplen === 0 || snaplen > MAX_RECORD_LENGTH) snaplen = MAX_RECORD_LENGTH;
    const iface: Iface = {
      linktype: canonicalLinktype(linktype), snaplen, name: '', description: '', tsBase: 10, tsExponent: 6, tsOffset: 0, comments: [], digits: 6,
      unitsPerSec: 0, nsPerUnit: 0, highWord: -1, highSec: 0, highRem: 0,
    };
    this.#options(b, off, off + 16, end, fileOffset, (code, vo, vl, optOffset) => {
      if (code === IF_NAME) iface.name = utf8(b, vo, vl);
      else if (code === IF_DESCRIPTION) iface.description = utf8(b, vo, vl);
      else if (code === OPT_COMMENT) iface.comments.push(utf8(b, vo, vl));
      else if (code === IF_TSRESOL && vl >= 1) {
        const v = b[vo]!;
        iface.tsBase = v & 0x80 ? 2 : 10;
        iface.tsExponent = v & 0x7f;
        if (iface.tsExponent > 63) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `if_tsresol exponent ${iface.tsExponent} is too large`, optOffset);
      } else if (code === IF_TSOFFSET && vl >= 8) {
        const hi = u32(b, vo + (this.#le ? 4 : 0), this.#le) | 0;
        const lo = u32(b, vo + (this.#le ? 0 : 4), this.#le);
        iface.tsOffset = hi * 4294967296 + lo;
      }
    });
    iface.digits = resolutionDigits(iface.tsBase, iface.tsExponent);
    if (iface.tsBase === 10 && iface.tsExponent <= 9) {
      iface.unitsPerSec = 10 ** iface.tsExponent;
      iface.nsPerUnit = 10 ** (9 - iface.tsExponent);
    }
    this.#ifaces.push(iface);
    if (this.#scan !== null) this.#snaplens = Int32Array.from(this.#ifaces, (i) => (i.linktype === this.#preLinktype ? i.snaplen : -1));
    this.handlers.interface?.(iface, this.#ifaces.length - 1);
  }

  #enhanced(b: Uint8Array, off: number, end: number, fileOffset: number): void {
    if (end - off < 28) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', 'enhanced packet block too short', fileOffset, this.count);
    const le = this.#le;
    const id = u32(b, off + 8, le);
    const caplen = u32(b, off + 20, le);
    const dataOff = off + 28;
    if (caplen > end - dataOff) {
      throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `captured length ${caplen} is past the end of its block`, fileOffset + 20, this.count);
    }
    const r = this.#emitPrologue(id, caplen, u32(b, off + 24, le), fileOffset);
    const optStart = dataOff + ((caplen + 3) & ~3);
    const comments = optStart + 4 <= end ? this.#comments(b, off, optStart, end, fileOffset) : null;
    if (this.#rejected(r, b, dataOff)) return;
    this.#timestamp(r, u32(b, off + 12, le), u32(b, off + 16, le));
    this.#emit(b, dataOff, r, comments);
  }

  /** A packet's opt_comment values (null: none); validates its options either way. */
  #comments(b: Uint8Array, off: number, optStart: number, end: number, fileOffset: number): string[] | null {
    let comments: string[] | null = null;
    this.#options(b, off, optStart, end, fileOffset, (code, vo, vl) => {
      if (code === OPT_COMMENT) (comments ??= []).push(utf8(b, vo, vl));
    });
    return comments;
  }

  /** True (and the packet counted) when the prefilter drops the validated record at dataOff. */
  #rejected(iface: Iface, b: Uint8Array, dataOff: number): boolean {
    if (iface.linktype !== this.#preLinktype) return false;
    const r = this.#record;
    if (this.#pre!(b, dataOff, r.caplen, r.origlen) !== 0) return false;
    this.count++;
    return true;
  }

  #simple(b: Uint8Array, off: number, end: number, fileOffset: number): void {
    const origlen = u32(b, off + 8, this.#le);
    const body = end - (off + 12);
    const iface = this.#ifaces[0];
    const caplen = Math.min(origlen, body, iface?.snaplen ?? body);
    const r = this.#emitPrologue(0, caplen, origlen, fileOffset);
    if (this.#rejected(r, b, off + 12)) return;
    this.#ts.sec = 0;
    this.#ts.nsec = 0;
    this.#emit(b, off + 12, r, null);
  }

  #obsolete(b: Uint8Array, off: number, end: number, fileOffset: number): void {
    if (end - off < 28) throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', 'packet block too short', fileOffset, this.count);
    const le = this.#le;
    const id = u16(b, off + 8, le);
    const caplen = u32(b, off + 20, le);
    if (caplen > end - (off + 28)) {
      throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `captured length ${caplen} is past the end of its block`, fileOffset + 20, this.count);
    }
    const r = this.#emitPrologue(id, caplen, u32(b, off + 24, le), fileOffset);
    if (this.#rejected(r, b, off + 28)) return;
    this.#timestamp(r, u32(b, off + 12, le), u32(b, off + 16, le));
    this.#emit(b, off + 28, r, null);
  }

  /** Sets #ts from a 64-bit timestamp in the interface's units. */
  #timestamp(iface: Iface, high: number, low: number): void {
    const d = iface.unitsPerSec;
    if (d !== 0) {
      // Consecutive packets share the high word: keep high * 2^32 split into
      // whole seconds and leftover units, then only low needs dividing.
      if (high !== iface.highWord) {
        splitTimestamp(high, 0, 10, iface.tsExponent, this.#ts);
        iface.highWord = this.#ts.sec < 2 ** 52 ? high : -1;
        iface.highSec = this.#ts.sec;
        iface.highRem = this.#ts.nsec / iface.nsPerUnit;
      }
      if (high === iface.highWord) {
        // highRem + low < 2^33: the division and the sum are exact.
        const x = iface.highRem + low;
        const q = Math.floor(x / d);
        this.#ts.sec = iface.highSec + q;
        this.#ts.nsec = (x - q * d) * iface.nsPerUnit;
        return;
      }
    }
    splitTimestamp(high, low, iface.tsBase, iface.tsExponent, this.#ts);
  }

  /** Validates the interface and lengths; returns the interface. */
  #emitPrologue(id: number, caplen: number, origlen: number, fileOffset: number): Iface {
    const iface = this.#ifaces[id];
    if (!iface) {
      throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `packet on interface ${id}, but the section has ${this.#ifaces.length} interface(s)`, fileOffset + 8, this.count);
    }
    if (caplen > MAX_RECORD_LENGTH) {
      throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `invalid packet capture length ${caplen}, bigger than the maximum of ${MAX_RECORD_LENGTH}`, fileOffset, this.count);
    }
    const r = this.#record;
    r.caplen = caplen;
    if (caplen > iface.snaplen) {
      this.#warn(`captured length ${caplen} exceeds snaplen ${iface.snaplen}; extra bytes skipped`, fileOffset);
      r.caplen = iface.snaplen;
    }
    if (caplen > origlen) this.#warn(`record ${this.count}: captured length ${caplen} exceeds original length ${origlen}`, fileOffset);
    r.origlen = origlen;
    r.ifindex = id;
    r.linktype = iface.linktype;
    r.ifname = iface.name;
    r.tsDigits = iface.digits;
    r.fileOffset = fileOffset;
    return iface;
  }

  #emit(b: Uint8Array, dataOff: number, iface: Iface, comments: string[] | null): void {
    const r = this.#record;
    r.data = b;
    r.offset = dataOff;
    r.sec = this.#ts.sec + iface.tsOffset;
    r.nsec = this.#ts.nsec;
    r.comments = comments;
    r.index = this.count++;
    this.handlers.packet(r);
  }

  /** Walks options in [start, end); stops at opt_endofopt or the block end. */
  #options(b: Uint8Array, blockOff: number, start: number, end: number, fileOffset: number,
    each: (code: number, valueOff: number, valueLen: number, optOffset: number) => void): void {
    let p = start;
    while (p + 4 <= end) {
      const code = u16(b, p, this.#le);
      const vl = u16(b, p + 2, this.#le);
      if (code === OPT_ENDOFOPT) return;
      const optOffset = fileOffset + (p - blockOff);
      if (p + 4 + vl > end) {
        throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `option ${code} length ${vl} runs past the end of its block`, optOffset, this.count);
      }
      each(code, p + 4, vl, optOffset);
      p += 4 + ((vl + 3) & ~3);
    }
  }

  #warn(message: string, offset: number): void {
    if (this.#warnings > MAX_WARNINGS) return;
    this.#warnings++;
    this.handlers.warning?.({ message: this.#warnings > MAX_WARNINGS ? 'further warnings suppressed' : message, offset });
  }
}

export interface PcapngInterfaceOptions {
  linktype: number;
  snaplen?: number;
  name?: string;
  description?: string;
  /** Timestamp resolution as a power of ten (6 = µs, 9 = ns, the default). */
  tsExponent?: number;
  comment?: string;
}

export interface PcapngWriterOptions {
  littleEndian?: boolean;
  application?: string;
  comment?: string;
  bufferSize?: number;
}

/**
 * Writes a pcapng stream: one SHB, then interfaces and packets. `sink` must
 * consume the bytes before it returns (they are the writer's reused buffer).
 * No allocation per packet.
 */
export class PcapngWriter {
  readonly #out: CaptureOutput;
  readonly #ifaces: { snaplen: number; exponent: number }[] = [];

  constructor(sink: (bytes: Uint8Array) => void, opts: PcapngWriterOptions = {}) {
    const out = (this.#out = new CaptureOutput(opts.littleEndian ?? true, Math.max(opts.bufferSize ?? 1 << 20, 2 * MAX_RECORD_LENGTH), sink));
    const options: [number, Uint8Array][] = [];
    if (opts.comment) options.push([OPT_COMMENT, Buffer.from(opts.comment)]);
    options.push([4 /* shb_userappl */, Buffer.from(opts.application ?? 'weft')]);
    const start = this.#begin(BT_SHB);
    out.u32(BYTE_ORDER_MAGIC);
    out.u16(1);
    out.u16(0);
    // Section length unknown: -1.
    out.u64(0xffffffff, 0xffffffff);
    this.#writeOptions(options);
    this.#end(start);
  }

  /** Adds an Interface Description Block; returns its interface id. */
  addInterface(o: PcapngInterfaceOptions): number {
    const exponent = o.tsExponent ?? 9;
    if (!Number.isInteger(exponent) || exponent < 0 || exponent > 9) throw new RangeError('tsExponent must be 0..9');
    const snaplen = o.snaplen ?? MAX_RECORD_LENGTH;
    const options: [number, Uint8Array][] = [];
    if (o.name) options.push([IF_NAME, Buffer.from(o.name)]);
    if (o.description) options.push([IF_DESCRIPTION, Buffer.from(o.description)]);
    if (o.comment) options.push([OPT_COMMENT, Buffer.from(o.comment)]);
    options.push([IF_TSRESOL, Uint8Array.of(exponent)]);
    this.#room(512 + options.reduce((n, [, v]) => n + v.length + 8, 0));
    const start = this.#begin(BT_IDB);
    this.#out.u16(o.linktype);
    this.#out.u16(0);
    this.#out.u32(snaplen);
    this.#writeOptions(options);
    this.#end(start);
    this.#ifaces.push({ snaplen, exponent });
    return this.#ifaces.length - 1;
  }

  /** Appends an Enhanced Packet Block (data cut to the interface's snaplen). */
  packet(ifId: number, sec: number, nsec: number, data: Uint8Array, origlen = data.length, comment?: string): void {
    const iface = this.#ifaces[ifId];
    if (!iface) throw new RangeError(`no interface ${ifId}`);
    const caplen = Math.min(data.length, iface.snaplen);
    const commentBytes = comment ? Buffer.from(comment) : undefined;
    this.#room(32 + caplen + 3 + (commentBytes ? commentBytes.length + 12 : 0));
    const out = this.#out;
    const start = this.#begin(BT_EPB);
    out.u32(ifId);
    const d = 10 ** iface.exponent;
    // units = sec * d + nsec / (1e9 / d), split into 32-bit halves exactly.
    const a = Math.floor(sec / 65536);
    const bsec = sec - a * 65536;
    const A = a * d;
    const S = (A % 65536) * 65536 + bsec * d + Math.floor(nsec / (1e9 / d));
    const high = Math.floor(A / 65536) + Math.floor(S / 4294967296);
    // Timestamp high, then low, each in file order (not one u64).
    out.u32(high);
    out.u32(S % 4294967296);
    out.u32(caplen);
    out.u32(origlen);
    out.bytes(data.subarray(0, caplen));
    out.pad4();
    if (commentBytes) this.#writeOptions([[OPT_COMMENT, commentBytes]]);
    this.#end(start);
  }

  flush(): void {
    this.#out.flush();
  }

  #room(n: number): void {
    if (n > this.#out.buf.length) throw new RangeError(`block of ${n} bytes does not fit the writer buffer`);
    this.#out.room(n);
  }

  #begin(type: number): number {
    const start = this.#out.len;
    this.#out.u32(type);
    this.#out.u32(0);
    return start;
  }

  #end(start: number): void {
    const out = this.#out;
    const total = out.len + 4 - start;
    out.u32(total);
    out.setU32(start + 4, total);
  }

  #writeOptions(options: [number, Uint8Array][]): void {
    if (options.length === 0) return;
    const out = this.#out;
    for (const [code, value] of options) {
      out.u16(code);
      out.u16(value.length);
      out.bytes(value);
      out.pad4();
    }
    out.u16(OPT_ENDOFOPT);
    out.u16(0);
  }
}
