/**
 * `npm run bench -- vxlan`: the VXLAN data path.
 *
 * Sections (each adds rows; `section` names it):
 *  - codec: VXLAN encap (write the 8-byte header in front of an inner frame
 *    already in a slot, with a source-port hash) + decap (strict check,
 *    VNI read, inner offset) of N frames, against Buffer.copy of the same
 *    bytes (the floor any userspace VTEP pays per frame). Ratio
 *    `codec_vs_memcpy` = memcpy time / codec time (above 1: the codec costs
 *    less than one copy).
 *  - vtep: weft's userspace VTEP (lab host a) with 1 worker and with N
 *    workers, each sending through its UDP sockets and with tunnel offload
 *    (UDP-tunnel GSO packets through an underlay TAP), to and from a
 *    kernel vxlan (host b), against kernel vxlan ↔ kernel vxlan (hosts k1,
 *    k2): TCP Gbit/s with 1 and P streams each way, and 64-byte UDP
 *    received packets/s with iperf3. Ratios (weft ÷ kernel) of the N-worker
 *    tunnel-offload VTEP: `vtep_gbps_vs_kernel` (sending),
 *    `vtep_gbps_rx_vs_kernel` (receiving), `vtep_pps_vs_kernel`; the same
 *    for the socket path (`*_socket_*`), and single-stream and
 *    single-worker variants.
 *
 * Args: `--frames N` (default 1,000,000), `--size BYTES` inner frame size
 * (default 1400), `--seconds N` per iperf3 run (default 5), `--workers N`
 * (default 2), `--streams P` (default 4).
 */
import { readFileSync } from 'node:fs';
import { median, ratio, type Benchmark, type BenchResult, type Row } from './lib.js';
import * as vxlan from '../src/wire/vxlan.js';
import { VxlanView } from '../src/wire/vxlan.js';
import { rootSkipReason, type LabHost } from '../test/support/lab.js';
import { have, run } from '../test/support/exec.js';
import { IP_B, vtepPair } from '../test/integration/vtep-lab.js';
import { Rtnl } from '../src/netlink/rtnetlink/handle.js';
import { addLink, setLink } from '../src/netlink/rtnetlink/link-ops.js';
import { addAddress } from '../src/netlink/rtnetlink/addr.js';
import { addNeighbour } from '../src/netlink/rtnetlink/neigh.js';
import { addFdb } from '../src/netlink/rtnetlink/fdb.js';

interface Ctx {
  frames: number;
  size: number;
  seconds: number;
  workers: number;
  streams: number;
  rows: Row[];
  ratios: Record<string, number | null>;
  notes: string[];
}

const SLOTS = 256;
const REPEATS = 5;
const REPEATS_NET = 3;

function codec(ctx: Ctx): void {
  const slot = vxlan.HEADER_LENGTH + ctx.size;
  const ring = new Uint8Array(SLOTS * slot);
  for (let i = 0; i < ring.length; i++) ring[i] = (i * 131) & 0xff;
  for (let s = 0; s < SLOTS; s++) {
    const o = s * slot + vxlan.HEADER_LENGTH;
    ring[o + 12] = 0x08; // inner EtherType IPv4, so the hash reads addresses
    ring[o + 13] = 0x00;
    ring[o + 14] = 0x45;
  }
  const view = new VxlanView(vxlan.encode({ vni: 1, payload: new Uint8Array(64) }));
  let sink = 0;
  const runCodec = () => {
    for (let i = 0; i < ctx.frames; i++) {
      const o = (i & (SLOTS - 1)) * slot;
      // encap: header in front of the inner frame, outer source port from the inner flow
      vxlan.encodeHeader(i & 0xffffff, ring, o);
      sink += vxlan.sourcePort(ring, o + vxlan.HEADER_LENGTH, ctx.size);
      // decap: strict check without throwing, then VNI and inner offset
      if (view.reset(ring, o, slot) === null) sink += view.vni + view.payloadOffset;
    }
  };
  const src = Buffer.from(ring.buffer, ring.byteOffset, ring.byteLength);
  const dst = Buffer.alloc(slot * SLOTS);
  const runCopy = () => {
    for (let i = 0; i < ctx.frames; i++) {
      const o = (i & (SLOTS - 1)) * slot;
      sink += src.copy(dst, o, o, o + slot);
    }
  };
  const time = (fn: () => void) => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  runCodec(); // warm-up (JIT)
  runCopy();
  const codecMs: number[] = [];
  const copyMs: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    codecMs.push(time(runCodec));
    copyMs.push(time(runCopy));
  }
  const c = median(codecMs);
  const m = median(copyMs);
  ctx.rows.push(
    { section: 'codec', case: 'weft encap+decap', frames: ctx.frames, inner_bytes: ctx.size, ms: Math.round(c * 10) / 10, mpps: Math.round((ctx.frames / c / 1e3) * 100) / 100, ns_per_frame: Math.round((c * 1e6) / ctx.frames) },
    { section: 'codec', case: 'Buffer.copy (memcpy)', frames: ctx.frames, inner_bytes: ctx.size, ms: Math.round(m * 10) / 10, mpps: Math.round((ctx.frames / m / 1e3) * 100) / 100, ns_per_frame: Math.round((m * 1e6) / ctx.frames) },
  );
  ctx.ratios.codec_vs_memcpy = ratio(m, c);
  ctx.notes.push(`codec: median of ${REPEATS} runs after a warm-up; one JS thread; ${SLOTS} slots of ${slot} bytes reused (stays in cache) (sink ${sink & 1})`);
}

interface IperfRun {
  gbps?: number;
  pps?: number;
  sentPps?: number;
  loss?: number;
}

/** One iperf3 run, tried up to 3 times: on a busy host the server may not be listening in time. */
async function iperf(server: string, client: string, serverIp: string, mode: 'tcp' | 'tcp-reverse' | 'udp64', seconds: number, streams: number): Promise<IperfRun> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await iperfOnce(server, client, serverIp, mode, seconds, streams);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** One iperf3 run: server in `server` netns on serverIp, client in `client`; resolves receiver-side figures. */
async function iperfOnce(server: string, client: string, serverIp: string, mode: 'tcp' | 'tcp-reverse' | 'udp64', seconds: number, streams: number): Promise<IperfRun> {
  const port = String(5201 + Math.floor(Math.random() * 500));
  const srv = run(['ip', 'netns', 'exec', server, 'timeout', String(seconds + 15), 'iperf3', '-s', '-1', '-B', serverIp, '-p', port], { timeoutMs: (seconds + 20) * 1000 });
  await new Promise((r) => setTimeout(r, 400));
  const args = mode === 'tcp' ? [] : mode === 'tcp-reverse' ? ['-R'] : ['-u', '-l', '64', '-b', '0'];
  const r = await run(['ip', 'netns', 'exec', client, 'timeout', String(seconds + 10), 'iperf3', '-c', serverIp, '-p', port, '-t', String(seconds), '-P', String(streams), '-J', ...args], { timeoutMs: (seconds + 15) * 1000 });
  await srv;
  if (r.code !== 0) throw new Error(`iperf3 ${mode} failed: ${r.stdout.slice(0, 300)} ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second: number }; sum?: { packets: number; lost_packets: number; seconds: number } } };
  const received = j.end?.sum_received;
  const s = j.end?.sum;
  if (mode !== 'udp64') {
    if (!received) throw new Error(`iperf3 ${mode} gave no result: ${r.stdout.slice(0, 300)}`);
    return { gbps: received.bits_per_second / 1e9 };
  }
  if (!s) throw new Error(`iperf3 ${mode} gave no result: ${r.stdout.slice(0, 300)}`);
  return { pps: (s.packets - s.lost_packets) / s.seconds, sentPps: s.packets / s.seconds, loss: s.lost_packets / Math.max(1, s.packets) };
}

/** Kernel vxlan on both ends (the reference), between lab hosts k1 and k2. */
async function kernelPeer(host: LabHost, other: LabHost, ip: string, mac: string, otherIp: string, otherMac: string): Promise<void> {
  const rtnl = Rtnl.open({ netns: host.netns });
  try {
    await addLink(rtnl, { name: 'vx0', kind: 'vxlan', mtu: 1450, address: mac, vxlan: { id: 42, port: 4789, local: host.address, dev: 'eth0', learning: false } });
    await addAddress(rtnl, { dev: 'vx0', address: `${ip}/24` });
    await setLink(rtnl, 'vx0', { up: true });
    await addFdb(rtnl, { dev: 'vx0', mac: otherMac, dst: other.address, self: true });
    await addNeighbour(rtnl, { dev: 'vx0', dst: otherIp, lladdr: otherMac, state: 'permanent' });
  } finally {
    rtnl.close();
  }
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** One measured case: who sends to whom, how. */
interface Case {
  key: string;
  label: string;
  server: () => string;
  client: () => string;
  ip: string;
  mode: 'tcp' | 'tcp-reverse' | 'udp64';
  streams: number;
}

/**
 * Userspace VTEP (host a, weft, in this process; one pair with 1 worker,
 * one with N) ↔ kernel vxlan (host b), against kernel vxlan (k1) ↔ kernel
 * vxlan (k2); iperf3 clients on a (or k1), REPEATS_NET rounds with every
 * case once per round (interleaved), medians. Needs root and iperf3.
 */
async function vtep(ctx: Ctx): Promise<void> {
  ctx.ratios.vtep_pps_vs_kernel = null;
  ctx.ratios.vtep_gbps_vs_kernel = null;
  const why = rootSkipReason() ?? (!(await have('iperf3')) ? 'iperf3 not installed' : undefined);
  if (why) {
    ctx.notes.push(`vtep: skipped (${why})`);
    return;
  }
  const n = ctx.workers;
  const load0 = loadavg();
  const one = await vtepPair({ workers: 1 });
  const many = await vtepPair({ workers: n }, ['k1', 'k2']);
  const oneT = await vtepPair({ workers: 1, tunnelOffload: true });
  const manyT = await vtepPair({ workers: n, tunnelOffload: true });
  try {
    const [k1, k2] = many.others as [LabHost, LabHost];
    await kernelPeer(k1, k2, '198.19.1.1', '02:42:c6:13:01:01', '198.19.1.2', '02:42:c6:13:01:02');
    await kernelPeer(k2, k1, '198.19.1.2', '02:42:c6:13:01:02', '198.19.1.1', '02:42:c6:13:01:01');
    for (const p of [one, many, oneT, manyT]) await run(['ip', 'netns', 'exec', p.a.netns, 'busybox', 'ping', '-c', '1', '-W', '2', IP_B]);
    const tunnelOff = manyT.vtep.stats().offload;
    if (!tunnelOff.tunnel) throw new Error(`tunnel offload unavailable: ${tunnelOff.tunnelUnavailable ?? '?'}`);
    const P = ctx.streams;
    const weft = [
      { id: 'w1', pair: one, what: 'weft VTEP 1 worker, UDP socket' },
      { id: 'wn', pair: many, what: `weft VTEP ${n} workers, UDP socket` },
      { id: 't1', pair: oneT, what: 'weft VTEP 1 worker, tunnel offload' },
      { id: 'tn', pair: manyT, what: `weft VTEP ${n} workers, tunnel offload` },
    ];
    const cases: Case[] = [];
    for (const [dir, mode] of [['->', 'tcp'], ['<-', 'tcp-reverse']] as const) {
      for (const streams of [1, P]) {
        const what = dir === '->' ? 'sends' : 'receives (iperf3 -R)';
        cases.push({ key: `k${mode}${streams}`, label: `TCP Gbit/s, kernel vxlan ${what}, ${streams} stream(s)`, server: () => k2.netns, client: () => k1.netns, ip: '198.19.1.2', mode, streams });
        for (const w of weft) cases.push({ key: `${w.id}${mode}${streams}`, label: `TCP Gbit/s, ${w.what} ${what}, ${streams} stream(s)`, server: () => w.pair.b.netns, client: () => w.pair.a.netns, ip: IP_B, mode, streams });
      }
    }
    cases.push({ key: 'kudp', label: `UDP 64 B received kpps, kernel vxlan sends, ${P} streams`, server: () => k2.netns, client: () => k1.netns, ip: '198.19.1.2', mode: 'udp64', streams: P });
    for (const w of weft) cases.push({ key: `${w.id}udp`, label: `UDP 64 B received kpps, ${w.what} sends, ${P} streams`, server: () => w.pair.b.netns, client: () => w.pair.a.netns, ip: IP_B, mode: 'udp64', streams: P });
    const res = new Map<string, IperfRun[]>(cases.map((c) => [c.key, []]));
    for (let i = 0; i < REPEATS_NET; i++) {
      for (const c of cases) res.get(c.key)!.push(await iperf(c.server(), c.client(), c.ip, c.mode, ctx.seconds, c.streams));
    }
    const load1 = loadavg();
    const med = (k: string, f: keyof IperfRun) => median(res.get(k)!.map((r) => r[f] ?? NaN));
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const kp = (x: number) => Math.round(x / 100) / 10;
    for (const c of cases) {
      const udp = c.mode === 'udp64';
      const f = udp ? 'pps' : 'gbps';
      const fmt = udp ? kp : r2;
      ctx.rows.push({
        section: 'vtep', case: c.label, runs: res.get(c.key)!.map((r) => fmt(r[f] ?? NaN)).join('/'), median: fmt(med(c.key, f)),
        ...(udp ? { sent_kpps: kp(med(c.key, 'sentPps')) } : {}),
      });
    }
    const best = (ids: string[], mode: string, s: number) => Math.max(...ids.map((id) => med(`${id}${mode}${s}`, 'gbps')));
    ctx.ratios.vtep_gbps_vs_kernel = ratio(med(`tntcp${P}`, 'gbps'), med(`ktcp${P}`, 'gbps'));
    ctx.ratios.vtep_gbps_rx_vs_kernel = ratio(med(`tntcp-reverse${P}`, 'gbps'), med(`ktcp-reverse${P}`, 'gbps'));
    ctx.ratios.vtep_pps_vs_kernel = ratio(med('tnudp', 'pps'), med('kudp', 'pps'));
    ctx.ratios.vtep_gbps_1stream_vs_kernel = ratio(best(['t1', 'tn'], 'tcp', 1), med('ktcp1', 'gbps'));
    ctx.ratios.vtep_gbps_1stream_rx_vs_kernel = ratio(best(['t1', 'tn'], 'tcp-reverse', 1), med('ktcp-reverse1', 'gbps'));
    ctx.ratios.vtep_gbps_1worker_vs_kernel = ratio(med(`t1tcp${P}`, 'gbps'), med(`ktcp${P}`, 'gbps'));
    ctx.ratios.vtep_gbps_socket_vs_kernel = ratio(med(`wntcp${P}`, 'gbps'), med(`ktcp${P}`, 'gbps'));
    ctx.ratios.vtep_gbps_rx_socket_vs_kernel = ratio(med(`wntcp-reverse${P}`, 'gbps'), med(`ktcp-reverse${P}`, 'gbps'));
    ctx.ratios.vtep_pps_socket_vs_kernel = ratio(med('wnudp', 'pps'), med('kudp', 'pps'));
    const c = many.vtep.stats();
    const t = manyT.vtep.stats();
    const perWorker = (s: typeof c) => s.perWorker!.map((w) => `${w.counters.tx_packets}/${w.counters.rx_packets}`).join(', ');
    const off = c.offload;
    ctx.notes.push(
      `vtep: iperf3 ${ctx.seconds} s per run, ${REPEATS_NET} rounds with every case once per round (interleaved), medians; clients on the sending host; UDP pps = packets the iperf3 server received per second`,
      `vtep: machine load (1/5/15 min loadavg) before ${load0}, after ${load1}`,
      `vtep: the main ratios (vtep_gbps_vs_kernel, vtep_gbps_rx_vs_kernel, vtep_pps_vs_kernel) are the ${n}-worker VTEP with tunnel offload (--tunnel-offload) and ${P} streams (UDP: ${P} streams of 64 B datagrams) against the kernel with ${P} streams; *_socket_* the same VTEP sending through its UDP sockets (the default); *_1stream_* take the better of 1 and ${n} tunnel-offload workers with one stream; vtep_gbps_1worker_vs_kernel is 1 tunnel-offload worker, ${P} streams`,
      `vtep: offloads in use: TAP TUN_F_* 0x${off.tap.toString(16)}, UDP GSO ${off.udpGso}, TCP coalescing on TAP writes ${off.coalesce}, UDP_GRO ${off.udpGro}; tunnel offload through ${tunnelOff.underlayTap} (virtio_net_hdr of 24 bytes, GSO_UDP_TUNNEL_IPV4)`,
      `vtep: ${n}-worker socket-path counters after the runs: tx ${c.counters.tx_packets} datagrams (${c.counters.tx_gso} TSO super-frames), rx ${c.counters.rx_packets} (${c.counters.rx_coalesced} merged), tx_socket_full ${c.counters.tx_socket_full}, tx_errors ${c.counters.tx_errors}, rx_tap_full ${c.counters.rx_tap_full}, tx_bad_offload ${c.counters.tx_bad_offload}; per worker tx/rx: ${perWorker(c)}`,
      `vtep: ${n}-worker tunnel-offload counters: tx ${t.counters.tx_packets} segments (${t.counters.tx_gso} super-packets), rx ${t.counters.rx_packets}, tx_socket_full ${t.counters.tx_socket_full}, tx_errors ${t.counters.tx_errors}, tx_bad_offload ${t.counters.tx_bad_offload}; per worker tx/rx: ${perWorker(t)}`,
      `vtep: syscalls per packet, sending: socket path, one TAP read per TSO super-frame of ~${Math.round(c.counters.tx_packets / Math.max(1, c.counters.tx_gso))} datagrams, segmented and checksummed in JavaScript, which leave as one UDP GSO message (up to 64 messages per sendmmsg) and are split again by the receiving kernel; tunnel offload, one TAP read and one write(2) to the underlay TAP per super-frame of ~${Math.round(t.counters.tx_packets / Math.max(1, t.counters.tx_gso))} segments (one copy of the frame behind 74 bytes of headers), no segmentation or checksum in userspace, and the super-packet crosses the veth underlay and the peer's vxlan whole, as between two kernel VTEPs. Receiving (both): recvmmsg of up to 64 single datagrams (the veth underlay does no GRO), ${Math.round((100 * c.counters.rx_coalesced) / Math.max(1, c.counters.rx_packets))} % merged by gro.ts, one TAP write per merged frame. Allocations: none per packet (every buffer is made once per worker; counters are copied to shared memory once per batch)`,
      'vtep: what limits it now: CPU. Both lab hosts, iperf3 client and server and the VTEP threads share 2 vCPUs, so a second worker only helps while a core is idle; and one TCP stream stays on one worker by design (no reordering), so single-stream rows cannot gain from workers at all',
      "vtep: with tunnel offload only super-frames take the underlay TAP; single frames (the 64 B UDP rows, TCP ACKs) keep the socket's sendmmsg batches, because one write(2) and one forwarding decision per small frame measured 0.84x the kernel's 64 B rate in an earlier run of this bench where every frame took the TAP",
      'vtep: what limits kernel -> weft: about 1.5 us per received datagram in recvmmsg plus one TAP write (the local TCP receive runs inside it) per merged frame; UDP_GRO on the socket would cut the first only when the underlay runs GRO (off on veth by default)',
    );
  } finally {
    for (const p of [one, many, oneT, manyT]) await p.close();
  }
}

const SECTIONS: ((ctx: Ctx) => void | Promise<void>)[] = [codec, vtep];

function flag(args: string[], name: string, def: number, min: number, max: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer ${min}..${max}`);
  return v;
}

const bench: Benchmark = {
  description: 'VXLAN codec (encap+decap vs memcpy) and the userspace VTEP vs the kernel vxlan device',
  async run(args: string[]): Promise<BenchResult> {
    const ctx: Ctx = {
      frames: flag(args, '--frames', 1_000_000, 1, 100_000_000),
      size: flag(args, '--size', 1400, 15, 9000),
      seconds: flag(args, '--seconds', 5, 1, 60),
      workers: flag(args, '--workers', 2, 2, 16),
      streams: flag(args, '--streams', 4, 2, 64),
      rows: [],
      ratios: {},
      notes: [],
    };
    for (const s of SECTIONS) await s(ctx);
    return { rows: ctx.rows, ratios: ctx.ratios, notes: ctx.notes };
  },
};

export default bench;
