/**
 * Reading a capture file for `weft trace read` and `weft trace stats`:
 * stream the file, dissect each packet into one reused Facts, filter, then
 * print (line, JSON or tree) or count. Constant memory whatever the size.
 */
import { nativeBpf } from '../io/bpf-scan.js';
import { streamFile } from '../io/file-stream.js';
import type { CaptureHandlers, CaptureInterface, CaptureRecord, CaptureWarning } from '../wire/capture-common.js';
import type { PcapngWriter } from '../wire/pcapng.js';
import { CaptureReader } from '../wire/capture-reader.js';
import { LINKTYPE_ETHERNET } from '../wire/capture-common.js';
import { bpfToFunction, compileBpf, encodeBpf } from './bpf.js';
import { dissect } from './dissect.js';
import { newFacts } from './facts.js';
import { type FilterNode, matchFilter } from './filter.js';
import type { LineWriter } from './output.js';
import { writeSummary, writeTime } from './print.js';
import type { PrintFormat, formatPacket } from './print-layers.js';
import type { TraceStats } from './stats.js';

export type { PrintFormat };

export interface ReadOptions {
  filter: FilterNode | null;
  /** Stop after this many matching packets. */
  count?: number;
  warning?: (w: CaptureWarning) => void;
  /** Write the matching packets here (`trace read -w`) instead of printing them. */
  writer?: PcapngWriter;
}

export interface ReadResult {
  packets: number;
  matched: number;
}

/**
 * The filter's BPF approximation over Ethernet frames, for the capture
 * reader: a packet it rejects cannot match, so the reader drops it from its
 * buffer before decoding anything else. The program runs in the native
 * addon when it is built (`native: false`: always in JavaScript).
 */
export function prefilter(filter: FilterNode | null, opts: { native?: boolean } = {}): CaptureHandlers['prefilter'] {
  const program = compileBpf(filter);
  if (!program) return null;
  const fast = opts.native === false ? null : nativeBpf(encodeBpf(program));
  return { linktype: LINKTYPE_ETHERNET, ...(fast ?? { keep: bpfToFunction(program) }) };
}

/** Prints every matching packet of a file to `out`. Throws CaptureError after printing what came before. */
export async function printFile(path: string, format: PrintFormat, out: LineWriter, opts: ReadOptions): Promise<ReadResult> {
  // Only --json and -v need the full layer decoders.
  const full = format === 'line' ? null : (await import('./print-layers.js')).formatPacket;
  const printer = new FilePrinter(format, full, out, opts);
  const reader = new CaptureReader(printer);
  const stop = new AbortController();
  await streamFile(path, (chunk) => {
    reader.feed(chunk);
    if (printer.done || out.closed) {
      stop.abort();
      return undefined;
    }
    return out.backpressure;
  }, { signal: stop.signal, chunkSize: 1 << 20 });
  if (!stop.signal.aborted) reader.end();
  return { packets: reader.count, matched: printer.matched };
}

/** The per-packet work of printFile, as a handler object (no closure per packet). */
class FilePrinter implements CaptureHandlers {
  readonly facts = newFacts();
  readonly warning?: (w: CaptureWarning) => void;
  matched = 0;
  done = false;
  readonly prefilter: CaptureHandlers['prefilter'];
  readonly #filter: FilterNode | null;
  readonly #count: number;
  readonly #writer: PcapngWriter | undefined;
  /** Output interface id per input interface, when writing. */
  readonly #ifaces: number[] = [];

  constructor(private readonly format: PrintFormat, private readonly full: typeof formatPacket | null,
    private readonly out: LineWriter, opts: ReadOptions) {
    this.#writer = opts.writer;
    this.#filter = opts.filter;
    this.prefilter = prefilter(opts.filter);
    this.#count = opts.count ?? Infinity;
    if (opts.warning) this.warning = opts.warning;
  }

  interface(i: CaptureInterface, index: number): void {
    if (!this.#writer) return;
    const o: Parameters<PcapngWriter['addInterface']>[0] = { linktype: i.linktype, snaplen: i.snaplen, tsExponent: 9 };
    if (i.name) o.name = i.name;
    this.#ifaces[index] = this.#writer.addInterface(o);
  }

  packet(r: CaptureRecord): void {
    if (this.done) return;
    const facts = this.facts;
    dissect(facts, r.data, r.offset, r.offset + r.caplen, r.linktype, r.origlen);
    if (this.#filter !== null && !matchFilter(this.#filter, facts)) return;
    this.matched++;
    if (this.#writer) {
      this.#writer.packet(this.#ifaces[r.ifindex] ?? 0, r.sec, r.nsec, r.data.subarray(r.offset, r.offset + r.caplen), r.origlen);
      if (this.matched >= this.#count) this.done = true;
      return;
    }
    const out = this.out;
    const t = out.text;
    if (this.full === null) {
      writeTime(t, r.sec, r.nsec, r.tsDigits);
      t.byte(32);
      if (r.ifname) {
        t.text(r.ifname);
        t.byte(32);
      }
      writeSummary(t, facts);
      t.byte(10);
    } else {
      t.text(this.full(this.format, facts, r));
      t.byte(10);
    }
    out.endLine();
    if (this.matched >= this.#count) this.done = true;
  }
}

/** Counts a file's packets by protocol, VNI and talker. */
export async function statsFile(path: string, opts: ReadOptions): Promise<TraceStats> {
  const facts = newFacts();
  const stats = new (await import('./stats.js')).TraceStats();
  const reader = new CaptureReader({
    prefilter: prefilter(opts.filter),
    packet: (r) => {
      dissect(facts, r.data, r.offset, r.offset + r.caplen, r.linktype, r.origlen);
      if (matchFilter(opts.filter, facts)) stats.add(facts);
    },
    ...(opts.warning ? { warning: opts.warning } : {}),
  });
  await streamFile(path, (chunk) => reader.feed(chunk));
  reader.end();
  return stats;
}
