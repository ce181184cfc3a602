/**
 * weft trace read vs tshark -r vs tcpdump -r: read + decode + print one
 * line per packet to /dev/null, packets per second (wall time of the whole
 * process, start-up included). Two 1,000,000-packet pcapng inputs made
 * with weft's writer: "uniform" (ICMP echo, DNS-shaped UDP, TCP, ARP and
 * VXLAN-carried ICMP, in equal parts) and "mixed" (100 shapes: TCP with
 * options and payload, DNS queries and answers with EDNS, ICMP errors,
 * ICMPv6 ND and MLD, ARP, VLAN and QinQ, VXLAN, LLDP, STP, UDP, and a
 * fifth of the frames cut by a 96-byte snap length). Then both tools with
 * a filter that selects 1 % of the mixed capture (filtered_vs_tcpdump).
 * Args: [packets] [tshark-packets] [rounds].
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSink } from '../src/io/file-stream.js';
import { PcapngWriter } from '../src/wire/pcapng.js';
import { type Benchmark, median, ratio } from './lib.js';
import { FILTER_EXTRA, GOLDEN } from '../test/unit/trace-packets.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

const ETH = '0200000000020200000000010800';
function ipv4(proto: number, len: number, src = 'c6120001', dst = 'c6120002'): string {
  return `4500${len.toString(16).padStart(4, '0')}1234400040${proto.toString(16).padStart(2, '0')}0000${src}${dst}`;
}
const icmpPayload = '00'.repeat(56);
const templates: Buffer[] = [
  hex(ETH + ipv4(1, 84) + `0800000000070001${icmpPayload}`),
  hex(ETH + ipv4(17, 57) + `c350003500250000123401000001000000000000076578616d706c6503636f6d0000010001`),
  hex(ETH + ipv4(6, 40) + '9c4000500000000100000000500272100000000'.padEnd(40, '0')),
  hex('ffffffffffff020000000001' + '0806' + '0001080006040001' + '020000000001c6120001' + '000000000000c6120002'),
  hex(ETH + ipv4(17, 134) + `9c4012b500720000` + `0800000000002a00` + '0a00000000020a0000000001' + '0800' + ipv4(1, 84, '0a000001', '0a000002') + `0800000000070001${icmpPayload}`),
];

export function generate(path: string, packets: number, mixed = false): void {
  const sink = new FileSink(path);
  const w = new PcapngWriter(sink.write, { application: 'weft bench' });
  w.addInterface({ linktype: 1, name: 'eth0', tsExponent: 9 });
  const frames = (mixed ? mixedTemplates() : templates).map((t) => Buffer.from(t));
  for (let i = 0; i < packets; i++) {
    const f = frames[i % frames.length]!;
    // Vary the ICMP sequence / DNS id / TCP seq so packets differ.
    f[f.length - 1] = i & 0xff;
    // The mixed capture cuts every fifth frame longer than 96 bytes, as `tcpdump -s 96` would.
    const cut = mixed && i % 5 === 0 && f.length > 96 ? 96 : f.length;
    w.packet(0, 1700000000 + Math.floor(i / 1000), (i % 1000) * 1000000, f.subarray(0, cut), f.length);
  }
  w.flush();
  sink.close();
}

/** The one host that 1 frame in 100 of the mixed capture talks to: `host 198.18.7.7` selects 1 %. */
export const RARE_FILTER = 'host 198.18.7.7';

/** 100 frames of many protocols (test/unit/trace-packets.ts shapes); exactly one involves 198.18.7.7. */
function mixedTemplates(): Buffer[] {
  const shapes = [...GOLDEN, ...FILTER_EXTRA].filter((p) => p.caplen === undefined).map((p) => Buffer.from(p.data));
  const out: Buffer[] = [];
  for (let i = 0; out.length < 99; i++) out.push(shapes[i % shapes.length]!);
  const rare = Buffer.from(shapes[0]!);
  rare.set([198, 18, 7, 7], 30);
  out.splice(50, 0, rare);
  return out;
}

/** CPU time (user + system, all threads) of the waited-for children so far, in ms (/proc/self/stat cutime + cstime). */
function childCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}

function timed(argv: string[]): { ms: number; cpu: number; ok: boolean; err: string } {
  const c0 = childCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, cpu: childCpuMs() - c0, ok: r.status === 0, err: String(r.stderr ?? '').slice(0, 200) };
}

interface Tool {
  tool: string;
  capture: string;
  argv: string[];
  packets: number;
  /** tshark exits non-zero as root after printing everything; its warning mentions root. */
  okIf?: (r: { ok: boolean; err: string }) => boolean;
  ms: number[];
  cpu: number[];
  failed?: string;
}

const bench: Benchmark = {
  description: 'read + decode + print a pcapng to /dev/null: weft trace read vs tshark -r vs tcpdump -r (packets/s)',
  async run(args) {
    const n = Number(args[0] ?? 1_000_000);
    const tsharkN = Number(args[1] ?? 200_000);
    const reps = Math.max(1, Number(args[2] ?? 5));
    const dir = mkdtempSync(join(tmpdir(), 'weft-bench-trace-'));
    const notes: string[] = [];
    try {
      const full = join(dir, 'full.pcapng');
      const mixed = join(dir, 'mixed.pcapng');
      const t0 = Date.now();
      generate(full, n);
      generate(mixed, n, true);
      notes.push(`generated ${n} packets each, uniform (${statSync(full).size} bytes) and mixed (${statSync(mixed).size} bytes), with PcapngWriter in ${Date.now() - t0} ms`);
      const prefix = join(dir, 'prefix.pcapng');
      const mixedPrefix = join(dir, 'mixed-prefix.pcapng');
      const tsharkCount = Math.min(n, tsharkN);
      generate(prefix, tsharkCount);
      generate(mixedPrefix, tsharkCount, true);
      // The filtered read again on a capture five times as large: where start-up stops mattering.
      const large = join(dir, 'mixed-large.pcapng');
      const largeN = 5 * n;
      generate(large, largeN, true);
      notes.push(`and a mixed capture of ${largeN} packets (${statSync(large).size} bytes) for the filtered read at size`);
      const tsharkOk = (r: { ok: boolean; err: string }) => r.ok || /root/.test(r.err);
      const filtered = `mixed, filter '${RARE_FILTER}'`;
      const filteredX5 = `mixed x5, filter '${RARE_FILTER}'`;
      const tools: Tool[] = [
        { tool: 'weft trace read', capture: 'uniform', argv: [process.execPath, cli, 'trace', 'read', full], packets: n, ms: [], cpu: [] },
        { tool: 'tcpdump -n -r', capture: 'uniform', argv: ['tcpdump', '-n', '-r', full], packets: n, ms: [], cpu: [] },
        { tool: 'tshark -n -r', capture: 'uniform', argv: ['tshark', '-n', '-r', prefix], packets: tsharkCount, ms: [], cpu: [], okIf: tsharkOk },
        { tool: 'weft trace read', capture: 'mixed', argv: [process.execPath, cli, 'trace', 'read', mixed], packets: n, ms: [], cpu: [] },
        { tool: 'tcpdump -n -r', capture: 'mixed', argv: ['tcpdump', '-n', '-r', mixed], packets: n, ms: [], cpu: [] },
        { tool: 'tshark -n -r', capture: 'mixed', argv: ['tshark', '-n', '-r', mixedPrefix], packets: tsharkCount, ms: [], cpu: [], okIf: tsharkOk },
        { tool: 'weft trace read', capture: filtered, argv: [process.execPath, cli, 'trace', 'read', mixed, RARE_FILTER], packets: n, ms: [], cpu: [] },
        { tool: 'tcpdump -n -r', capture: filtered, argv: ['tcpdump', '-n', '-r', mixed, RARE_FILTER], packets: n, ms: [], cpu: [] },
        { tool: 'weft trace read', capture: filteredX5, argv: [process.execPath, cli, 'trace', 'read', large, RARE_FILTER], packets: largeN, ms: [], cpu: [] },
        { tool: 'tcpdump -n -r', capture: filteredX5, argv: ['tcpdump', '-n', '-r', large, RARE_FILTER], packets: largeN, ms: [], cpu: [] },
      ];
      // Both select the same packets (1 %).
      const selected = (argv: string[]) => String(spawnSync(argv[0]!, argv.slice(1), { maxBuffer: 1 << 26 }).stdout).split('\n').filter(Boolean).length;
      for (const at of [6, 8]) {
        const [w, t] = [selected(tools[at]!.argv), selected(tools[at + 1]!.argv)];
        if (w !== t) throw new Error(`${tools[at]!.capture}: weft selects ${w} packets, tcpdump ${t}`);
        const of = tools[at]!.packets;
        notes.push(`'${RARE_FILTER}' selects ${w} of ${of} packets (${((100 * w) / of).toFixed(2)} %) for both tools; weft runs the filter's BPF form (in the native addon) before dissecting`);
      }
      // One discarded run of each on a small file: binaries, libraries and the CLI's modules in the page cache.
      const warm = join(dir, 'warm.pcapng');
      generate(warm, 1000);
      for (const t of tools) timed(t.argv.map((x) => (x.endsWith('.pcapng') ? warm : x)));
      const load = loadavg()[0]!.toFixed(2);
      // Rounds interleave the tools, so load from other work on the machine hits all of them alike.
      for (let round = 0; round < reps; round++) {
        for (const t of tools) {
          if (t.failed) continue;
          const r = timed(t.argv);
          if (!(t.okIf ?? ((x) => x.ok))(r)) t.failed = r.err;
          else {
            t.ms.push(r.ms);
            t.cpu.push(r.cpu);
          }
        }
      }
      const loadEnd = loadavg()[0]!.toFixed(2);
      const rows: { tool: string; capture: string; packets: number; ms: number; pps: number; runs: string; cpu_ms: number }[] = [];
      for (const t of tools) {
        if (t.tool.startsWith('weft') && t.failed) throw new Error(`weft failed: ${t.failed}`);
        if (t.failed) {
          notes.push(`${t.tool.split(' ')[0]} (${t.capture}) failed: ${t.failed}`);
          continue;
        }
        const ms = median(t.ms);
        rows.push({ tool: t.tool, capture: t.capture, packets: t.packets, ms: Math.round(ms), pps: Math.round(t.packets / (ms / 1000)), runs: t.ms.map((x) => Math.round(x)).join('/'), cpu_ms: median(t.cpu) });
      }
      notes.push(`a discarded warm-up run of each tool on 1000 packets, then ${reps} interleaved rounds of all ten; ms and pps are medians, runs lists each round's ms, cpu_ms is the median CPU time (user + system, all threads) of the process; 1-minute load average ${load} at the start, ${loadEnd} at the end`);
      if (tsharkCount < n) notes.push(`tshark measured on a ${tsharkCount}-packet prefix (same packet mix) to keep the run bounded on 2 cores`);
      notes.push('wall time of each whole process, start-up included; output to /dev/null; all three print one line per packet (tcpdump two for VXLAN)');
      notes.push("weft's wall time moves more with other load on the 2 shared cores than tshark's (JIT compilation and GC helpers want the second core): compare ratios from the same run, not across runs");
      notes.push("the filtered read: the filter's BPF form runs in the native addon (native/bpf-scan.c, an interpreter of the few opcodes compileBpf emits, ~20-30 ns a record) inside a C loop that walks the plain pcapng/pcap records in the read buffer and only counts those it rejects; the JavaScript parser sees the first record of each run that is kept or not plain (options, another link type, anything to warn about). The BPF also judges 802.3 frames whose SNAP header carries IPv4/IPv6/ARP (before, the 4 % SNAP frames of this capture were all kept and dissected), so only the 1 % that match reach dissect, the exact filter and the printer; without the addon the same walk runs in JavaScript (pcapng/pcap #skipRun)");
      notes.push("what limits weft with the 1 % filter on 1M packets (filtered_vs_tcpdump, goal 1, not reached), measured at load ~1: a fixed ~80 ms before the first record (the same command on a 10-packet file), of which Node's own start-up is ~50 (~10 without NODE_EXTRA_CA_CERTS, which this machine's environment sets: every Node process parses that 144-certificate bundle at start-up; the bench keeps the environment as it is) and loading and compiling the CLI's ~36 ES modules most of the rest; then ~47 ns a record once running (filtered_steady_vs_tcpdump: the extra 4M packets of the x5 capture over the extra time, start-up cancelled out), with the first few thousand matches printed by code V8 has not compiled yet. tcpdump starts in a few ms, so weft's start-up alone is most of tcpdump's whole run on 1M packets; on 5M packets the two are level (filtered_x5_vs_tcpdump) and larger captures favour weft. Measured, not adopted: bundling the trace command into one file (esbuild: a new dev dependency, and a bundle breaks the import.meta.url lookups of the daemon's worker and version) saved ~100 ms of CPU at load ~20; a V8 code cache for that bundle (vm.Script cachedData) saved nothing measurable; --max-opt, --maglev and interrupt-budget flags moved the cold print path by <= 80 ms at load ~20 and need flags on node's command line, as would a start-up snapshot (--snapshot-blob)");
      notes.push("was: 0.272 (JavaScript skip loop and 4 % of SNAP frames dissected), then 0.386 at load ~4 with the native prefilter; this run at load ~1");
      notes.push("what limits weft without a filter: printing (one line per packet formatted byte-wise into a reused buffer) and dissecting; the mixed capture costs more per packet than the uniform one (TCP options, DNS answers, ICMP errors, LLC/STP/LLDP lines); tshark's cost grows much more on the mixed capture (it dissects every protocol in full)");
      notes.push(`1-minute load ${load} at the start, ${loadEnd} at the end, on 2 cores: other load slows every tool and tshark's rate moves most with it (pps_vs_tshark 16-21 at load 4-18, 22 at load 1, with the same weft read path); ratios come from interleaved rounds and medians`);
      const row = (tool: string, capture: string) => rows.find((r) => r.tool.startsWith(tool) && r.capture === capture);
      const pps = (tool: string, capture: string) => row(tool, capture)?.pps;
      const cpuMs = (tool: string, capture: string) => row(tool, capture)?.cpu_ms;
      const steady = (tool: string) => {
        const [a, b] = [row(tool, filtered), row(tool, filteredX5)];
        return a && b && b.ms > a.ms ? Math.round((b.packets - a.packets) / ((b.ms - a.ms) / 1000)) : undefined;
      };
      return {
        rows,
        ratios: {
          pps_vs_tshark: ratio(pps('weft', 'uniform'), pps('tshark', 'uniform')),
          pps_vs_tcpdump: ratio(pps('weft', 'uniform'), pps('tcpdump', 'uniform')),
          mixed_pps_vs_tshark: ratio(pps('weft', 'mixed'), pps('tshark', 'mixed')),
          mixed_pps_vs_tcpdump: ratio(pps('weft', 'mixed'), pps('tcpdump', 'mixed')),
          filtered_vs_tcpdump: ratio(pps('weft', filtered), pps('tcpdump', filtered)),
          // The same on a capture five times as large (start-up is a smaller share).
          filtered_x5_vs_tcpdump: ratio(pps('weft', filteredX5), pps('tcpdump', filteredX5)),
          // Packets per second once running: the extra packets over the extra time between the two sizes.
          filtered_steady_vs_tcpdump: ratio(steady('weft'), steady('tcpdump')),
          // CPU time, tcpdump ÷ weft (>1 better): less moved by waiting for a core than wall time.
          filtered_cpu_vs_tcpdump: ratio(cpuMs('tcpdump', filtered), cpuMs('weft', filtered)),
        },
        notes,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
