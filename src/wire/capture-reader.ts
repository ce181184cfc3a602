/**
 * Reads pcap or pcapng from chunks, whichever the first four bytes say.
 * Memory is bounded by the largest record the format allows (16 MiB for a
 * pcapng block, 256 KiB for a pcap record), never by the file's size.
 *
 *   const reader = new CaptureReader({ packet(r) { ... } });
 *   for (const chunk of chunks) reader.feed(chunk);
 *   reader.end(); // throws ERR_WEFT_CAPTURE_TRUNCATED if the file stopped mid-record
 */
import { CaptureError } from '../errors.js';
import { type CaptureHandlers, ChunkDriver } from './capture-common.js';
import { PcapParser, isPcapMagic } from './pcap.js';
import { PcapngParser, isPcapngMagic } from './pcapng.js';

export type CaptureFormat = 'pcap' | 'pcapng';

export class CaptureReader {
  #sniff = new Uint8Array(4);
  #sniffLen = 0;
  #driver: ChunkDriver | undefined;
  #parser: PcapParser | PcapngParser | undefined;
  #format: CaptureFormat | undefined;

  constructor(private readonly handlers: CaptureHandlers) {}

  get format(): CaptureFormat | undefined {
    return this.#format;
  }

  /** Packets delivered so far. */
  get count(): number {
    return this.#parser?.count ?? 0;
  }

  /** File offset up to which the input has been parsed. */
  get position(): number {
    return this.#driver?.position ?? 0;
  }

  get littleEndian(): boolean | undefined {
    return this.#parser?.littleEndian;
  }

  feed(chunk: Uint8Array): void {
    if (this.#driver) {
      this.#driver.feed(chunk);
      return;
    }
    const take = Math.min(4 - this.#sniffLen, chunk.length);
    this.#sniff.set(chunk.subarray(0, take), this.#sniffLen);
    this.#sniffLen += take;
    if (this.#sniffLen < 4) return;
    if (isPcapngMagic(this.#sniff)) {
      this.#parser = new PcapngParser(this.handlers);
      this.#format = 'pcapng';
    } else if (isPcapMagic(this.#sniff)) {
      this.#parser = new PcapParser(this.handlers);
      this.#format = 'pcap';
    } else {
      throw new CaptureError('ERR_WEFT_NOT_A_CAPTURE', 'not a pcap/pcapng file (unknown magic)', 0);
    }
    this.#driver = new ChunkDriver(this.#parser.step, this.#parser.maxUnit);
    this.#driver.feed(this.#sniff);
    this.#driver.feed(chunk.subarray(take));
  }

  /** Call at end of input: a partial record is an error. */
  end(): void {
    if (!this.#driver) {
      throw new CaptureError('ERR_WEFT_NOT_A_CAPTURE', `not a pcap/pcapng file (only ${this.#sniffLen} bytes)`, 0);
    }
    const left = this.#driver.buffered;
    if (left === 0) return;
    const at = this.#driver.position;
    if (at === 0) {
      throw new CaptureError('ERR_WEFT_NOT_A_CAPTURE', `not a pcap/pcapng file (file header cut short at ${left} bytes)`, 0);
    }
    throw new CaptureError('ERR_WEFT_CAPTURE_TRUNCATED', `truncated dump file; ${left} bytes of an incomplete record or block`, at, this.count);
  }
}

/** Reads a whole in-memory capture (tests, fuzzing). */
export function readCapture(bytes: Uint8Array, handlers: CaptureHandlers): CaptureReader {
  const reader = new CaptureReader(handlers);
  reader.feed(bytes);
  reader.end();
  return reader;
}
