/**
 * Reading a capture file for `weft trace read` and `weft trace stats`:
 * stream the file, dissect each packet into one reused Facts, filter, then
 * print (line, JSON or tree) or count. Constant memory whatever the size.
 */
import { streamFile } from '../io/file-stream.js';
import type { CaptureHandlers, CaptureInterface, CaptureRecord, CaptureWarning } from '../wire/capture-common.js';
import type { PcapngWriter } from '../wire/pcapng.js';
import { CaptureReader } from '../wire/capture-reader.js';
import { LINKTYPE_ETHERNET } from '../wire/capture-common.js';
import { type BpfFunction, bpfToFunction, compileBpf } from './bpf.js';
import { dissect } from './dissect.js';
import { newFacts, type Facts } from './facts.js';
import { type FilterNode, matchFilter } from './filter.js';
import type { LineWriter } from './output.js';
import { decodeLayers, formatTime, formatTree, summarize, writeSummary, writeTime } from './print.js';
import { TraceStats } from './stats.js';

export type PrintFormat = 'line' | 'json' | 'tree';

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
 * The filter's BPF approximation as a function over Ethernet frames: a
 * packet it rejects cannot match, so it is dropped before dissection.
 */
export function prefilter(filter: FilterNode | null): BpfFunction | null {
  const program = compileBpf(filter);
  return program ? bpfToFunction(program) : null;
}

/** Formats one dissected packet for output. */
export function formatPacket(format: PrintFormat, f: Facts, r: { sec: number; nsec: number; tsDigits: number; ifname: string; index: number; caplen: number; origlen: number; comments?: string[] | null }): string {
  const time = formatTime(r.sec, r.nsec, r.tsDigits);
  if (format === 'line') return r.ifname ? `${time} ${r.ifname} ${summarize(f)}` : `${time} ${summarize(f)}`;
  const d = decodeLayers(f.data, f.start, f.end, f.linktype);
  if (format === 'tree') {
    return `${time}${r.ifname ? ` ${r.ifname}` : ''} ${summarize(f)}\n${formatTree(d.layers, d.error)}`;
  }
  const obj: Record<string, unknown> = {
    index: r.index, time: `${r.sec}.${String(r.nsec).padStart(9, '0')}`, interface: r.ifname || undefined,
    caplen: r.caplen, length: r.origlen, layers: d.layers,
  };
  if (d.error) obj.error = d.error;
  if (r.comments) obj.comments = r.comments;
  return JSON.stringify(obj);
}

/** Prints every matching packet of a file to `out`. Throws CaptureError after printing what came before. */
export async function printFile(path: string, format: PrintFormat, out: LineWriter, opts: ReadOptions): Promise<ReadResult> {
  const printer = new FilePrinter(format, out, opts);
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
  readonly #filter: FilterNode | null;
  readonly #pre: BpfFunction | null;
  readonly #count: number;
  readonly #line: boolean;
  readonly #writer: PcapngWriter | undefined;
  /** Output interface id per input interface, when writing. */
  readonly #ifaces: number[] = [];

  constructor(private readonly format: PrintFormat, private readonly out: LineWriter, opts: ReadOptions) {
    this.#writer = opts.writer;
    this.#filter = opts.filter;
    this.#pre = prefilter(opts.filter);
    this.#count = opts.count ?? Infinity;
    this.#line = format === 'line';
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
    if (this.#pre !== null && r.linktype === LINKTYPE_ETHERNET && this.#pre(r.data, r.offset, r.caplen, r.origlen) === 0) return;
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
    if (this.#line) {
      writeTime(t, r.sec, r.nsec, r.tsDigits);
      t.byte(32);
      if (r.ifname) {
        t.text(r.ifname);
        t.byte(32);
      }
      writeSummary(t, facts);
      t.byte(10);
    } else {
      t.text(formatPacket(this.format, facts, r));
      t.byte(10);
    }
    out.endLine();
    if (this.matched >= this.#count) this.done = true;
  }
}

/** Counts a file's packets by protocol, VNI and talker. */
export async function statsFile(path: string, opts: ReadOptions): Promise<TraceStats> {
  const facts = newFacts();
  const stats = new TraceStats();
  const pre = prefilter(opts.filter);
  const reader = new CaptureReader({
    packet: (r) => {
      if (pre !== null && r.linktype === LINKTYPE_ETHERNET && pre(r.data, r.offset, r.caplen, r.origlen) === 0) return;
      dissect(facts, r.data, r.offset, r.offset + r.caplen, r.linktype, r.origlen);
      if (matchFilter(opts.filter, facts)) stats.add(facts);
    },
    ...(opts.warning ? { warning: opts.warning } : {}),
  });
  await streamFile(path, (chunk) => reader.feed(chunk));
  reader.end();
  return stats;
}
