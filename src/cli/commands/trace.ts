/**
 * weft trace: read, capture, count and follow packets.
 *
 *   weft trace read FILE [FILTER] [--json] [-v] [-c N] [-w OUT.pcapng]
 *   weft trace stats FILE [FILTER] [--json] [--top N]
 *   weft trace capture -i IFACE [--netns NS] [FILTER] [-w FILE] [-c N] [--duration S] [--json] [-v]
 *   weft trace follow --hop NAME=NETNS:IFACE ... [FILTER] [--duration S] [-c N] [--json]
 *
 * FILTER: tcpdump's filter language plus vni and inner (src/trace/filter.ts). Exit codes: 0 ok, 1 unreadable or corrupt file,
 * 2 bad arguments or filter, 3 file truncated (packets before it printed).
 */
import { CaptureError, FilterSyntaxError, InvalidArgumentError, WeftError } from '../../errors.js';
import { FileSink } from '../../io/file-stream.js';
import { PcapngWriter } from '../../wire/pcapng.js';
import { innermostIp } from '../../trace/dissect.js';
import { type FilterNode, matchFilter, parseFilter } from '../../trace/filter.js';
import { LineWriter } from '../../trace/output.js';
import { type PrintFormat, printFile, statsFile } from '../../trace/read.js';
import { commonFlags, intArg } from '../args.js';

type LiveSourceType = import('../../trace/live.js').LiveSource;

// Each subcommand loads what only it needs (live capture: netlink, AF_PACKET, the native addon).
const live = async () => import('../../trace/live.js');

export const summary = 'read, capture, count and follow packets (pcap/pcapng, VXLAN-aware)';

const USAGE = 'usage: weft trace {read FILE | stats FILE | capture -i IFACE | follow --hop NAME=NETNS:IFACE ...} [FILTER] [options]';

interface Parsed {
  positional: string[];
  filterText: string;
  opts: Map<string, string[]>;
  flags: Set<string>;
  json: boolean;
  netns?: string;
}

const VALUE_OPTS = new Set(['-i', '--interface', '-w', '--write', '-c', '--count', '--duration', '--hop', '--top']);
const FLAG_OPTS = new Set(['-v', '--verbose', '-q', '--quiet']);

function parse(args: string[], positionals: number): Parsed {
  const common = commonFlags(args);
  const opts = new Map<string, string[]>();
  const flags = new Set<string>();
  const positional: string[] = [];
  const words: string[] = [];
  const rest = common.rest;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (VALUE_OPTS.has(a)) {
      const v = rest[++i];
      if (v === undefined) throw new InvalidArgumentError(`${a} needs a value`);
      const key = a === '--interface' ? '-i' : a === '--write' ? '-w' : a === '--count' ? '-c' : a;
      opts.set(key, [...(opts.get(key) ?? []), v]);
    } else if (FLAG_OPTS.has(a)) flags.add(a === '--verbose' ? '-v' : a === '--quiet' ? '-q' : a);
    else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) throw new InvalidArgumentError(`unknown option ${a}`);
    else if (positional.length < positionals) positional.push(a);
    else words.push(a);
  }
  const p: Parsed = { positional, filterText: words.join(' '), opts, flags, json: common.json };
  if (common.netns !== undefined) p.netns = common.netns;
  return p;
}

function one(p: Parsed, key: string): string | undefined {
  const v = p.opts.get(key);
  if (v && v.length > 1) throw new InvalidArgumentError(`${key} given more than once`);
  return v?.[0];
}

function fail(message: string, code: number): number {
  process.stderr.write(`weft: trace: ${message.split('\n')[0]}\n`);
  return code;
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'read':
        return await read(rest);
      case 'stats':
        return await stats(rest);
      case 'capture':
        return await capture(rest);
      case 'follow':
        return await follow(rest);
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        return sub === undefined ? 2 : 0;
      default:
        return fail(`unknown subcommand '${sub}' (${USAGE})`, 2);
    }
  } catch (err) {
    if (err instanceof FilterSyntaxError) return fail(err.message, 2);
    if (err instanceof CaptureError) return fail(err.message, err.code === 'ERR_WEFT_CAPTURE_TRUNCATED' ? 3 : 1);
    if (err instanceof WeftError && err.code === 'ERR_WEFT_INVALID_ARGUMENT') return fail(err.message, 2);
    if (err instanceof WeftError) return fail(`${err.message} [${err.code}]`, 1);
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') return fail(e.message, 1);
    throw err;
  }
}

function format(p: Parsed): PrintFormat {
  return p.json ? 'json' : p.flags.has('-v') ? 'tree' : 'line';
}

function warn(w: { message: string; offset: number }): void {
  process.stderr.write(`weft: trace: warning: ${w.message} (offset ${w.offset})\n`);
}

async function read(args: string[]): Promise<number> {
  const p = parse(args, 1);
  const file = p.positional[0];
  if (!file) throw new InvalidArgumentError('trace read needs a FILE');
  const filter = parseFilter(p.filterText);
  const count = one(p, '-c');
  const writePath = one(p, '-w');
  const out = new LineWriter(process.stdout, 1 << 20, true);
  const sink = writePath ? new FileSink(writePath) : undefined;
  const writer = sink ? new PcapngWriter(sink.write, { application: 'weft trace read' }) : undefined;
  try {
    await printFile(file, format(p), out, { filter, warning: warn, ...(writer ? { writer } : {}), ...(count ? { count: intArg('-c', count, 1, 2 ** 31) } : {}) });
  } finally {
    writer?.flush();
    sink?.close();
    await out.flush();
  }
  return 0;
}

async function stats(args: string[]): Promise<number> {
  const p = parse(args, 1);
  const file = p.positional[0];
  if (!file) throw new InvalidArgumentError('trace stats needs a FILE');
  const filter = parseFilter(p.filterText);
  const top = one(p, '--top');
  const s = await statsFile(file, { filter, warning: warn });
  const { formatStats } = await import('../../trace/stats.js');
  const report = s.report(top ? intArg('--top', top, 1, 10000) : 10);
  process.stdout.write(p.json ? `${JSON.stringify(report)}\n` : `${formatStats(report)}\n`);
  return 0;
}

/** Resolves when SIGINT arrives, the duration passes, or `done()` is called. */
function stopper(durationSec: number | undefined): { promise: Promise<void>; done: () => void } {
  let done!: () => void;
  const promise = new Promise<void>((resolve) => (done = resolve));
  const onSig = (): void => done();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const timer = durationSec !== undefined ? setTimeout(done, durationSec * 1000) : undefined;
  void promise.then(() => {
    process.removeListener('SIGINT', onSig);
    process.removeListener('SIGTERM', onSig);
    if (timer) clearTimeout(timer);
  });
  return { promise, done };
}

async function capture(args: string[]): Promise<number> {
  const p = parse(args, 0);
  const iface = one(p, '-i');
  if (!iface) throw new InvalidArgumentError('trace capture needs -i IFACE');
  const filter = parseFilter(p.filterText);
  const countArg = one(p, '-c');
  const count = countArg ? intArg('-c', countArg, 1, 2 ** 31) : undefined;
  const durArg = one(p, '--duration');
  const duration = durArg ? intArg('--duration', durArg, 1, 86400 * 365) : undefined;
  const writePath = one(p, '-w');
  const { LiveSource } = await live();
  const { formatPacket } = await import('../../trace/print-layers.js');
  const src = await LiveSource.open({ iface, ...(p.netns ? { netns: p.netns } : {}), filter });
  const out = new LineWriter(process.stdout, 1, true);
  let sink: FileSink | undefined;
  let writer: PcapngWriter | undefined;
  let ifId = 0;
  if (writePath) {
    sink = new FileSink(writePath);
    writer = new PcapngWriter(sink.write, { application: 'weft trace capture' });
    ifId = writer.addInterface({ linktype: src.linktype, name: iface, tsExponent: 9 });
  }
  const fmt = format(p);
  let captured = 0;
  const stop = stopper(duration);
  let index = 0;
  src.start((pkt) => {
    if (count !== undefined && captured >= count) return;
    if (!matchFilter(filter, pkt.facts)) return;
    captured++;
    if (writer) {
      writer.packet(ifId, pkt.sec, pkt.nsec, pkt.data.subarray(pkt.offset, pkt.offset + pkt.caplen));
      if (p.flags.has('-v')) out.line(formatPacket('line', pkt.facts, { ...pkt, tsDigits: 6, ifname: iface, index: index++, origlen: pkt.caplen }));
    } else if (!p.flags.has('-q')) {
      out.line(formatPacket(fmt, pkt.facts, { sec: pkt.sec, nsec: pkt.nsec, tsDigits: 6, ifname: iface, index: index++, caplen: pkt.caplen, origlen: pkt.caplen }));
    }
    if (count !== undefined && captured >= count) stop.done();
  });
  process.stderr.write(`weft: trace: capturing on ${iface}${p.netns ? ` in ${p.netns}` : ''}${src.kernelFilter ? ' (kernel filter attached)' : ''}\n`);
  await stop.promise;
  const st = src.close();
  writer?.flush();
  sink?.close();
  await out.flush();
  process.stderr.write(`${captured} packets captured\n${st.received} packets received by filter\n${st.dropped} packets dropped by kernel\n`);
  return 0;
}

interface Hop {
  name: string;
  netns?: string;
  iface: string;
}

function parseHop(text: string): Hop {
  const m = /^([^=]+)=(?:([^:]*):)?([^:]+)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`--hop needs NAME=NETNS:IFACE, got ${JSON.stringify(text)}`);
  return m[2] ? { name: m[1]!, netns: m[2], iface: m[3]! } : { name: m[1]!, iface: m[3]! };
}

async function follow(args: string[]): Promise<number> {
  const p = parse(args, 0);
  const hops = (p.opts.get('--hop') ?? []).map(parseHop);
  if (hops.length < 2) throw new InvalidArgumentError('trace follow needs at least two --hop NAME=NETNS:IFACE');
  if (new Set(hops.map((h) => h.name)).size !== hops.length) throw new InvalidArgumentError('--hop names must be unique');
  const filter: FilterNode | null = parseFilter(p.filterText);
  const durArg = one(p, '--duration');
  const duration = durArg ? intArg('--duration', durArg, 1, 3600) : 10;
  // -c N: follow the first N distinct packets; stop early once each was seen at every hop.
  const countArg = one(p, '-c');
  const limit = countArg ? intArg('-c', countArg, 1, 1_000_000) : undefined;
  const { LiveSource } = await live();
  const { FollowMatcher, formatPaths } = await import('../../trace/follow.js');
  const matcher = new FollowMatcher(hops.map((h) => h.name), limit !== undefined ? { limit } : {});
  const sources: LiveSourceType[] = [];
  try {
    for (const h of hops) sources.push(await LiveSource.open({ iface: h.iface, ...(h.netns ? { netns: h.netns } : {}), filter: null }));
  } catch (err) {
    for (const s of sources) s.close();
    throw err;
  }
  const stop = stopper(duration);
  sources.forEach((s, i) => s.start((pkt) => {
    // The filter describes the packet as the endpoints see it: its innermost IP level.
    const level = innermostIp(pkt.facts);
    if (level < 0 || !matchFilter(filter, pkt.facts, level)) return;
    if (matcher.observe(i, pkt.facts, pkt.sec, pkt.nsec, pkt.packetType) && matcher.done) stop.done();
  }));
  process.stderr.write(`weft: trace: following on ${hops.map((h) => h.name).join(', ')} for ${duration}s${limit !== undefined ? ` or until ${limit} packet(s) crossed every hop` : ''}\n`);
  await stop.promise;
  const dropped = sources.map((s) => s.close().dropped).reduce((a, b) => a + b, 0);
  const reports = matcher.report();
  if (p.json) process.stdout.write(`${JSON.stringify({ hops: hops.map((h) => h.name), packets: reports, kernelDrops: dropped })}\n`);
  else process.stdout.write(`${formatPaths(reports)}\n${reports.length} packets followed, ${dropped} dropped by the kernel at capture\n`);
  return 0;
}
