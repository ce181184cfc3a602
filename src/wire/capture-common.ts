/**
 * What pcap and pcapng readers share: the packet record handed to callers,
 * the typed error (always with the byte offset where the file went wrong),
 * the link types weft decodes and their length caps, and the chunk driver
 * that turns any sequence of chunks into whole records with bounded memory.
 *
 * Limits follow libpcap (docs/reliability.md): a record larger than
 * the link type's maximum (262144) is an error, never an allocation; a
 * pcapng block is at most 16 MiB, an SHB at most 1 MiB.
 */

/** Link types (tcpdump.org/linktypes.html) the trace dissector decodes; files of any other type are still read. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
/** BSD loopback: a 4-byte address family in the capturing host's byte order. */
export const LINKTYPE_NULL = 0;
/** OpenBSD loopback: the address family in network byte order. */
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_PPP_HDLC = 50;
export const LINKTYPE_IEEE802_11 = 105;
export const LINKTYPE_IEEE802_11_RADIOTAP = 127;
/** DLT_RAW as some BSDs number it in files (12, 14): still raw IP. */
const DLT_RAW_ALIASES = [12, 14];

const LINKTYPE_NAMES = new Map<number, string>([
  [LINKTYPE_ETHERNET, 'EN10MB'],
  [LINKTYPE_RAW, 'RAW'],
  [12, 'RAW'],
  [14, 'RAW'],
  [LINKTYPE_LINUX_SLL, 'LINUX_SLL'],
  [LINKTYPE_LINUX_SLL2, 'LINUX_SLL2'],
  [LINKTYPE_IPV4, 'IPV4'],
  [LINKTYPE_IPV6, 'IPV6'],
  [LINKTYPE_NULL, 'NULL'],
  [LINKTYPE_LOOP, 'LOOP'],
  [LINKTYPE_PPP, 'PPP'],
  [LINKTYPE_PPP_HDLC, 'PPP_HDLC'],
  [LINKTYPE_IEEE802_11, 'IEEE802_11'],
  [LINKTYPE_IEEE802_11_RADIOTAP, 'IEEE802_11_RADIO'],
]);

export function linktypeName(linktype: number): string {
  return LINKTYPE_NAMES.get(linktype) ?? `unknown(${linktype})`;
}


/** Normalises DLT_RAW aliases to LINKTYPE_RAW. */
export function canonicalLinktype(linktype: number): number {
  return DLT_RAW_ALIASES.includes(linktype) ? LINKTYPE_RAW : linktype;
}

/** libpcap's MAXIMUM_SNAPLEN: the largest record any link type we read may carry. */
export const MAX_RECORD_LENGTH = 262144;
/** libpcap INITIAL_MAX_BLOCKSIZE: no pcapng block may exceed 16 MiB. */
export const MAX_BLOCK_LENGTH = 16 * 1024 * 1024;
/** libpcap rejects a Section Header Block over 1 MiB as corrupt. */
export const MAX_SHB_LENGTH = 1024 * 1024;

/**
 * One packet as a reader hands it to its callback. The object and the bytes
 * are reused for the next packet: copy what must outlive the callback.
 */
export interface CaptureRecord {
  /** Backing bytes; the packet is data[offset, offset + caplen). */
  data: Uint8Array;
  offset: number;
  caplen: number;
  /** Length on the wire. */
  origlen: number;
  /** Timestamp: whole seconds since the epoch and nanoseconds within it. */
  sec: number;
  nsec: number;
  /** Index of the interface (pcapng IDB; 0 for pcap). */
  ifindex: number;
  linktype: number;
  /** Interface name if the file has one (pcapng if_name), else ''. */
  ifname: string;
  /** Digits after the decimal point the file's resolution supports (6 or 9 ...). */
  tsDigits: number;
  /** pcapng opt_comment values of this packet, or null. */
  comments: string[] | null;
  /** Number of this packet in the file (0-based). */
  index: number;
  /** File offset of the record. */
  fileOffset: number;
}

export function newRecord(): CaptureRecord {
  return {
    data: new Uint8Array(0), offset: 0, caplen: 0, origlen: 0, sec: 0, nsec: 0, ifindex: 0,
    linktype: LINKTYPE_ETHERNET, ifname: '', tsDigits: 6, comments: null, index: 0, fileOffset: 0,
  };
}

/** An interface as the file describes it (pcap has exactly one). */
export interface CaptureInterface {
  linktype: number;
  snaplen: number;
  name: string;
  description: string;
  /** Units per second as a power: base 10 or 2, exponent. */
  tsBase: 10 | 2;
  tsExponent: number;
  /** if_tsoffset seconds added to every timestamp. */
  tsOffset: number;
  comments: string[];
}

export interface CaptureWarning {
  message: string;
  offset: number;
}

/** A record test over the packet bytes b[o, o + caplen): 0 drops the record. */
export type RecordFilter = (b: Uint8Array, o: number, caplen: number, wirelen: number) => number;

/**
 * The prefilter's skip loop in bulk (the native addon's, src/io/bpf-scan.ts):
 * from `start`, the run of plain records that `keep` rejects, exactly as the
 * parsers' own #skipRun walks it. Returns the run's length in bytes; the
 * number of records in it is then in `skipped`.
 */
export interface RecordScanner {
  /** Enhanced Packet Blocks; snaplens[id] is interface id's snap length, or -1 if its link type is not the prefilter's. */
  pcapng(b: Uint8Array, start: number, end: number, littleEndian: boolean, snaplens: Int32Array): number;
  pcap(b: Uint8Array, start: number, end: number, littleEndian: boolean, snaplen: number): number;
  readonly skipped: number;
}

export interface CaptureHandlers {
  packet(record: CaptureRecord): void;
  /**
   * Runs on the bytes of each record of this link type before anything else
   * is decoded (timestamp, record fields): a record it rejects is validated
   * and counted but never reaches `packet`. The cheap path for filtered reads.
   */
  prefilter?: { linktype: number; keep: RecordFilter; scan?: RecordScanner | null } | null;
  warning?(w: CaptureWarning): void;
  /** A new interface (pcapng IDB, or the pcap file header). */
  interface?(iface: CaptureInterface, index: number): void;
  /** Section/file level comments (pcapng SHB opt_comment). */
  comment?(text: string): void;
}

/**
 * A format's record step: given bytes at `off` with `avail` bytes, either
 * consumes one or more whole units and returns their length (> 0), or
 * returns -N when the next unit needs N bytes in total (N > avail). Throws
 * CaptureError otherwise.
 */
export type StepFn = (buf: Uint8Array, off: number, avail: number, fileOffset: number) => number;

/**
 * Feeds chunks to a StepFn. Whole units are parsed in place in the caller's
 * chunk; only a unit split across chunks is copied into `pending`, which
 * grows to the largest unit the format allows and no further.
 */
export class ChunkDriver {
  #pending = new Uint8Array(4096);
  #pendingLen = 0;
  #need = 0;
  /** File offset of the next unparsed byte. */
  position = 0;

  constructor(private readonly step: StepFn, private readonly maxUnit: number) {}

  get buffered(): number {
    return this.#pendingLen;
  }

  feed(chunk: Uint8Array): void {
    let pos = 0;
    while (this.#pendingLen > 0 && pos < chunk.length) {
      const want = Math.min(this.#need - this.#pendingLen, chunk.length - pos);
      this.#ensure(this.#need);
      this.#pending.set(chunk.subarray(pos, pos + want), this.#pendingLen);
      this.#pendingLen += want;
      pos += want;
      if (this.#pendingLen < this.#need) return;
      // Units are copied exactly up to their need, so this loop normally runs once.
      while (this.#pendingLen > 0) {
        const r = this.step(this.#pending, 0, this.#pendingLen, this.position);
        if (r < 0) {
          this.#need = -r;
          break;
        }
        this.position += r;
        this.#pending.copyWithin(0, r, this.#pendingLen);
        this.#pendingLen -= r;
      }
    }
    while (pos < chunk.length) {
      const r = this.step(chunk, pos, chunk.length - pos, this.position);
      if (r < 0) {
        this.#need = -r;
        const tail = chunk.length - pos;
        this.#ensure(Math.max(tail, Math.min(this.#need, 65536)));
        this.#pending.set(chunk.subarray(pos), 0);
        this.#pendingLen = tail;
        return;
      }
      pos += r;
      this.position += r;
    }
  }

  #ensure(n: number): void {
    if (n <= this.#pending.length) return;
    // The step function has already checked n against the format's caps.
    const size = Math.min(Math.max(n, this.#pending.length * 2), this.maxUnit);
    const next = new Uint8Array(Math.max(size, n));
    next.set(this.#pending.subarray(0, this.#pendingLen));
    this.#pending = next;
  }
}

/**
 * Converts a 64-bit timestamp in units of base^-exponent seconds to
 * seconds + nanoseconds without losing precision (long division in 16-bit
 * steps keeps every intermediate below 2^53 for divisors up to 10^9).
 */
export function splitTimestamp(high: number, low: number, base: 10 | 2, exponent: number, out: { sec: number; nsec: number }): void {
  if (base === 2 && exponent <= 32) {
    const frac = exponent === 32 ? low : low & ((1 << exponent) - 1 >>> 0);
    out.sec = high * 2 ** (32 - exponent) + Math.floor(low / 2 ** exponent);
    out.nsec = Math.floor(((frac >>> 0) / 2 ** exponent) * 1e9);
    return;
  }
  if (base === 10 && exponent <= 9) {
    const d = POW10[exponent]!;
    // high * 2^32 + low < 2^53 (µs until the year 2255; ns only near 1970): one division.
    if (high < 0x200000) {
      const units = high * 4294967296 + low;
      let q = Math.floor(units / d);
      // The quotient can round up across an integer; products below are exact.
      if (q * d > units) q--;
      out.sec = q;
      out.nsec = (units - q * d) * POW10[9 - exponent]!;
      return;
    }
    let rem = 0;
    let q = 0;
    for (let i = 0; i < 4; i++) {
      const word = i === 0 ? high >>> 16 : i === 1 ? high & 0xffff : i === 2 ? low >>> 16 : low & 0xffff;
      const cur = rem * 65536 + word;
      const w = Math.floor(cur / d);
      rem = cur - w * d;
      q = q * 65536 + w;
    }
    out.sec = q;
    out.nsec = rem * POW10[9 - exponent]!;
    return;
  }
  // Rare resolutions (picoseconds, 2^-40 ...): exact via BigInt.
  const units = (BigInt(high) << 32n) | BigInt(low);
  const div = base === 10 ? 10n ** BigInt(exponent) : 1n << BigInt(exponent);
  out.sec = Number(units / div);
  out.nsec = Number(((units % div) * 1_000_000_000n) / div);
}

const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

/** Digits worth printing for a resolution (µs → 6, ns → 9, capped at 9). */
export function resolutionDigits(base: 10 | 2, exponent: number): number {
  if (base === 10) return Math.min(9, Math.max(0, exponent));
  return Math.min(9, Math.ceil(exponent * Math.log10(2)));
}

/** UTF-8 text of an option value (comments, names), lossy on bad bytes. */
export function utf8(buf: Uint8Array, off: number, len: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('utf8');
}

/** Unsigned 32-bit read in the file's byte order (capture files come in both). */
export function u32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
    : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Unsigned 16-bit read in the file's byte order. */
export function u16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}

/**
 * The reused output buffer of the pcap and pcapng writers: integers are
 * appended in the file's byte order, and whole chunks go to `sink`, which
 * must consume them before it returns (the bytes are reused).
 */
export class CaptureOutput {
  readonly buf: Buffer;
  len = 0;

  constructor(readonly littleEndian: boolean, size: number, private readonly sink: (bytes: Uint8Array) => void) {
    this.buf = Buffer.alloc(size);
  }

  u16(v: number): void {
    if (this.littleEndian) this.buf.writeUInt16LE(v, this.len);
    else this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }

  u32(v: number): void {
    this.setU32(this.len, v);
    this.len += 4;
  }

  /** A 64-bit field given as its high and low 32 bits. */
  u64(high: number, low: number): void {
    this.u32(this.littleEndian ? low : high);
    this.u32(this.littleEndian ? high : low);
  }

  /** Overwrites the u32 at `at` (a length known only once the block is written). */
  setU32(at: number, v: number): void {
    if (this.littleEndian) this.buf.writeUInt32LE(v >>> 0, at);
    else this.buf.writeUInt32BE(v >>> 0, at);
  }

  bytes(data: Uint8Array): void {
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  /** Zero bytes up to the next multiple of 4 (pcapng aligns every field that way). */
  pad4(): void {
    while (this.len & 3) this.buf[this.len++] = 0;
  }

  /** Flushes first unless n more bytes fit. */
  room(n: number): void {
    if (this.len + n > this.buf.length) this.flush();
  }

  flush(): void {
    if (this.len === 0) return;
    this.sink(this.buf.subarray(0, this.len));
    this.len = 0;
  }
}
