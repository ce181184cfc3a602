/**
 * Classic libpcap files (draft-ietf-opsawg-pcap): reader step and writer.
 *
 *   file header (24 bytes)                 record header (16 bytes)
 *   0  magic  a1b2c3d4 (µs) a1b23c4d (ns)   0  ts seconds
 *   4  version major u16, minor u16         4  ts µs or ns
 *   8  thiszone i32 (ignored)               8  captured length
 *   12 sigfigs u32 (ignored)                12 original length
 *   16 snaplen u32                          16 data, captured length bytes
 *   20 linktype: low 16 bits type, bits 16-25 reserved (must be 0),
 *      bits 26-28 FCS length
 *
 * The magic's byte order is the file's byte order. Rules for bad input are
 * libpcap's (docs/reliability.md C1-C9): snaplen 0 or > INT_MAX is a warning,
 * a record over 262144 bytes is an error, a caplen over snaplen is clipped.
 */
import { CaptureError } from '../errors.js';
import {
  type CaptureHandlers, type CaptureInterface, CaptureOutput, MAX_RECORD_LENGTH, type RecordFilter, type RecordScanner, canonicalLinktype,
  newRecord, u16, u32,
} from './capture-common.js';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
const INT_MAX = 0x7fffffff;
const MAX_WARNINGS = 50;

/** True when the first four bytes are a pcap magic in either byte order. */
export function isPcapMagic(b: Uint8Array, off = 0): boolean {
  const be = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  const le = ((b[off + 3]! << 24) | (b[off + 2]! << 16) | (b[off + 1]! << 8) | b[off]!) >>> 0;
  return be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS;
}

/** Incremental pcap parser; drive `step` with a ChunkDriver (see capture-reader.ts). */
export class PcapParser {
  readonly maxUnit = RECORD_HEADER + MAX_RECORD_LENGTH;
  #le = false;
  #nano = false;
  #header = false;
  #snaplen = 0;
  #linktype = 0;
  #warnings = 0;
  #warnedSnap = false;
  count = 0;
  readonly #record = newRecord();
  /** The prefilter when it applies to the file's link type (known after the header). */
  #pre: RecordFilter | null = null;
  /** #skipRun's loop in bulk, when the prefilter has one. */
  #scan: RecordScanner | null = null;

  constructor(private readonly handlers: CaptureHandlers) {}

  get littleEndian(): boolean {
    return this.#le;
  }

  get nanosecond(): boolean {
    return this.#nano;
  }

  readonly step = (b: Uint8Array, off: number, avail: number, fileOffset: number): number => {
    if (!this.#header) {
      if (avail < FILE_HEADER) return -FILE_HEADER;
      this.#readHeader(b, off, fileOffset);
      return FILE_HEADER;
    }
    if (this.#pre !== null) {
      const skipped = this.#skipRun(b, off, off + avail);
      if (skipped > 0) return skipped;
    }
    if (avail < RECORD_HEADER) return -RECORD_HEADER;
    const le = this.#le;
    const caplen = u32(b, off + 8, le);
    if (caplen > MAX_RECORD_LENGTH) {
      throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', `invalid packet capture length ${caplen}, bigger than the maximum of ${MAX_RECORD_LENGTH}`, fileOffset, this.count);
    }
    const total = RECORD_HEADER + caplen;
    if (avail < total) return -total;
    const origlen = u32(b, off + 12, le);
    const r = this.#record;
    r.caplen = caplen;
    if (caplen > this.#snaplen) {
      if (!this.#warnedSnap) this.#warn(`record captured length ${caplen} exceeds snaplen ${this.#snaplen}; extra bytes skipped`, fileOffset);
      this.#warnedSnap = true;
      r.caplen = this.#snaplen;
    }
    if (caplen > origlen) this.#warn(`record ${this.count}: captured length ${caplen} exceeds original length ${origlen}`, fileOffset);
    if (this.#pre !== null && this.#pre(b, off + RECORD_HEADER, r.caplen, origlen) === 0) {
      this.count++;
      return total;
    }
    const sec = u32(b, off, le);
    const frac = u32(b, off + 4, le);
    const nsec = this.#nano ? frac : frac * 1000;
    r.sec = sec + Math.floor(nsec / 1e9);
    r.nsec = nsec % 1e9;
    r.data = b;
    r.offset = off + RECORD_HEADER;
    r.origlen = origlen;
    r.index = this.count++;
    r.fileOffset = fileOffset;
    this.handlers.packet(r);
    return total;
  };

  /**
   * A filtered read's fast path: a run of records with nothing to warn
   * about, each rejected by the prefilter straight from `b`, is only
   * counted. Returns the run's length; whatever ends it (a kept packet too)
   * goes through step's full checks.
   */
  #skipRun(b: Uint8Array, start: number, end: number): number {
    const scan = this.#scan;
    if (scan !== null) {
      const n = scan.pcap(b, start, end, this.#le, this.#snaplen);
      this.count += scan.skipped;
      return n;
    }
    const pre = this.#pre!;
    const le = this.#le;
    let p = start;
    while (end - p >= RECORD_HEADER) {
      const caplen = u32(b, p + 8, le);
      const origlen = u32(b, p + 12, le);
      if (caplen > this.#snaplen || caplen > origlen || RECORD_HEADER + caplen > end - p) break;
      if (pre(b, p + RECORD_HEADER, caplen, origlen) !== 0) break;
      this.count++;
      p += RECORD_HEADER + caplen;
    }
    return p - start;
  }

  #readHeader(b: Uint8Array, off: number, fileOffset: number): void {
    const be = u32(b, off, false);
    const le = u32(b, off, true);
    if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) this.#le = false;
    else if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) this.#le = true;
    else throw new CaptureError('ERR_WEFT_NOT_A_CAPTURE', 'not a pcap/pcapng file', fileOffset);
    this.#nano = (this.#le ? le : be) === PCAP_MAGIC_NS;
    const major = u16(b, off + 4, this.#le);
    const minor = u16(b, off + 6, this.#le);
    if (major !== 2 || minor > 4) {
      throw new CaptureError('ERR_WEFT_CAPTURE_VERSION', `unsupported pcap version ${major}.${minor}`, fileOffset + 4);
    }
    let snaplen = u32(b, off + 16, this.#le);
    const network = u32(b, off + 20, this.#le);
    if ((network & 0x03ff0000) !== 0) {
      throw new CaptureError('ERR_WEFT_CAPTURE_CORRUPT', 'reserved field not zero in the link type', fileOffset + 20);
    }
    const linktype = network & 0xffff;
    if (snaplen === 0 || snaplen > INT_MAX || snaplen > MAX_RECORD_LENGTH) {
      this.#warn(`snaplen ${snaplen} out of range; using ${MAX_RECORD_LENGTH}`, fileOffset + 16);
      snaplen = MAX_RECORD_LENGTH;
    }
    this.#snaplen = snaplen;
    this.#linktype = canonicalLinktype(linktype);
    if (this.handlers.prefilter?.linktype === this.#linktype) {
      this.#pre = this.handlers.prefilter.keep;
      this.#scan = this.handlers.prefilter.scan ?? null;
    }
    this.#header = true;
    const r = this.#record;
    r.linktype = this.#linktype;
    r.ifindex = 0;
    r.tsDigits = this.#nano ? 9 : 6;
    const iface: CaptureInterface = {
      linktype: this.#linktype, snaplen, name: '', description: '', tsBase: 10, tsExponent: this.#nano ? 9 : 6, tsOffset: 0, comments: [],
    };
    this.handlers.interface?.(iface, 0);
  }

  #warn(message: string, offset: number): void {
    if (this.#warnings > MAX_WARNINGS) return;
    this.#warnings++;
    this.handlers.warning?.({ message: this.#warnings > MAX_WARNINGS ? 'further warnings suppressed' : message, offset });
  }
}

export interface PcapWriterOptions {
  littleEndian?: boolean;
  nanosecond?: boolean;
  linktype?: number;
  snaplen?: number;
  /** Internal buffer size; the sink sees chunks of at most this many bytes. */
  bufferSize?: number;
}

/**
 * Writes a classic pcap stream. `sink` must consume the bytes before it
 * returns (they are the writer's reused buffer), e.g. fs.writeSync.
 */
export class PcapWriter {
  readonly #out: CaptureOutput;
  readonly #nano: boolean;
  readonly #snaplen: number;

  constructor(sink: (bytes: Uint8Array) => void, opts: PcapWriterOptions = {}) {
    this.#nano = opts.nanosecond ?? false;
    this.#snaplen = opts.snaplen ?? MAX_RECORD_LENGTH;
    const out = (this.#out = new CaptureOutput(opts.littleEndian ?? true, Math.max(opts.bufferSize ?? 1 << 20, FILE_HEADER + RECORD_HEADER + this.#snaplen), sink));
    out.u32(this.#nano ? PCAP_MAGIC_NS : PCAP_MAGIC_US);
    out.u16(2);
    out.u16(4);
    out.u32(0);
    out.u32(0);
    out.u32(this.#snaplen);
    out.u32(opts.linktype ?? 1);
  }

  /** Appends one record; `data` longer than snaplen is cut. */
  packet(sec: number, nsec: number, data: Uint8Array, origlen = data.length): void {
    const out = this.#out;
    const caplen = Math.min(data.length, this.#snaplen);
    out.room(RECORD_HEADER + caplen);
    out.u32(sec);
    out.u32(this.#nano ? nsec : Math.floor(nsec / 1000));
    out.u32(caplen);
    out.u32(origlen);
    out.bytes(data.subarray(0, caplen));
  }

  flush(): void {
    this.#out.flush();
  }
}
