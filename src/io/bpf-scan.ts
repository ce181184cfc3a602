/**
 * A filtered read's prefilter in the native addon (native/bpf-scan.c): the
 * records a filter's BPF program rejects are walked and counted in C, and
 * only the rest reach the JavaScript parsers. Without the addon, trace
 * runs the program as JavaScript (src/trace/bpf.ts bpfToFunction) and the
 * parsers' own loop (#skipRun in src/wire/pcapng.ts, pcap.ts) walks the
 * records, with the same result, more slowly.
 */
import type { RecordFilter, RecordScanner } from '../wire/capture-common.js';
import { UnsupportedPlatformError } from '../errors.js';
import { type NativeAddon, native } from './native.js';

class NativeScanner implements RecordScanner {
  readonly #out = new Uint32Array(1);

  constructor(private readonly addon: NativeAddon, private readonly program: Uint8Array) {}

  get skipped(): number {
    return this.#out[0]!;
  }

  pcapng(b: Uint8Array, start: number, end: number, littleEndian: boolean, snaplens: Int32Array): number {
    return this.addon.bpfSkipPcapng(b, start, end, littleEndian, snaplens, this.program, this.#out);
  }

  pcap(b: Uint8Array, start: number, end: number, littleEndian: boolean, snaplen: number): number {
    return this.addon.bpfSkipPcap(b, start, end, littleEndian, snaplen, this.program, this.#out);
  }

  readonly keep: RecordFilter = (b, o, caplen, wirelen) => this.addon.bpfRun(b, o, caplen, wirelen, this.program);
}

/** `program` (encodeBpf's bytes) run by the addon, or null when the addon is not there. */
export function nativeBpf(program: Uint8Array): { keep: RecordFilter; scan: RecordScanner } | null {
  let addon: NativeAddon;
  try {
    addon = native();
  } catch (err) {
    if (err instanceof UnsupportedPlatformError) return null;
    throw err;
  }
  // A fresh, aligned copy: the addon reads it as struct sock_filter.
  const scanner = new NativeScanner(addon, new Uint8Array(program));
  return { keep: scanner.keep, scan: scanner };
}
