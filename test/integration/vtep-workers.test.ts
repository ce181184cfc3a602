/**
 * The userspace VTEP with 2 worker threads (multi-queue TAP, one
 * SO_REUSEPORT socket per worker) against the kernel's vxlan: ping both
 * ways, iperf3 TCP both ways, no reordering within a flow (16 UDP streams
 * each way; iperf3's receiver counts every datagram that arrives after a
 * later one of its stream), counters that add up across the workers, and
 * a shutdown that leaves no TAP, queue fd or socket behind. Twice: sending
 * through the UDP sockets, and with tunnel offload (unicast written as
 * UDP-tunnel GSO packets to a multi-queue underlay TAP, vtep-tunnel.ts),
 * where a TCP super-frame must also reach B's underlay as one packet.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { rootSkipReason } from '../support/lab.js';
import { have, run, sh } from '../support/exec.js';
import { IP_A, IP_B, VNI, vtepPair, type VtepPair } from './vtep-lab.js';
import { UserspaceVtep } from '../../src/dataplane/vtep-runtime.js';

const skip = rootSkipReason();
const noIperf = !(await have('iperf3')) && 'iperf3 not installed';
if (skip) console.log(`# skipping vtep-workers: ${skip}`);

const WORKERS = 2;

interface IperfEnd {
  sum_received?: { bits_per_second: number };
  sum?: { packets: number; lost_packets: number };
  streams?: { udp?: { out_of_order: number; packets: number } }[];
}

async function iperf(server: VtepPair['a'], client: VtepPair['a'], serverIp: string, args: string[]): Promise<IperfEnd> {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = String(5300 + Math.floor(Math.random() * 200));
    const srv = run(['ip', 'netns', 'exec', server.netns, 'timeout', '25', 'iperf3', '-s', '-1', '-B', serverIp, '-p', port], { timeoutMs: 30_000 });
    for (let i = 0; i < 50; i++) {
      if ((await run(['ip', 'netns', 'exec', server.netns, 'ss', '-Hltn', `sport = :${port}`])).stdout.trim()) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = await run(['ip', 'netns', 'exec', client.netns, 'timeout', '20', 'iperf3', '-c', serverIp, '-p', port, '-t', '2', '-J', ...args], { timeoutMs: 25_000 });
    await srv;
    last = out.stdout || out.stderr;
    try {
      const j = JSON.parse(out.stdout) as { end?: IperfEnd };
      if (j.end && (j.end.sum_received || j.end.sum)) return j.end;
    } catch {
      // not JSON: try again
    }
  }
  throw new Error(`iperf3 gave no result: ${last.slice(0, 500)}`);
}

/**
 * Workers publish their counters after each batch, a moment after its
 * packets left (the receiver may run first): wait until `ok` holds.
 */
async function settled(vtep: VtepPair['vtep'], ok: (s: ReturnType<VtepPair['vtep']['stats']>) => boolean): Promise<ReturnType<VtepPair['vtep']['stats']>> {
  for (let i = 0; i < 100; i++) {
    const s = vtep.stats();
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  return vtep.stats();
}

function tunFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === '/dev/net/tun') n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Packets B's underlay veth has received. */
async function underlayRxPackets(p: VtepPair): Promise<number> {
  const [link] = JSON.parse(await sh(['ip', '-n', p.b.netns, '-s', '-j', 'link', 'show', p.b.underlay])) as { stats64: { rx: { packets: number } } }[];
  return link!.stats64.rx.packets;
}

for (const tunnel of [false, true]) describe(`userspace VTEP with worker threads ↔ kernel vxlan${tunnel ? ', tunnel offload' : ''}`, { skip }, () => {
  let p: VtepPair;
  const tunBefore = tunFds();
  const fdsPerWorker = tunnel ? 2 : 1;

  before(async () => {
    p = await vtepPair({ workers: WORKERS, tunnelOffload: tunnel });
  });

  after(async () => {
    await p?.close();
  });

  it('runs one TAP queue and one socket per worker', async () => {
    assert.equal(p.vtep.workers, WORKERS);
    assert.equal(tunFds() - tunBefore, WORKERS * fdsPerWorker);
    const offload = p.vtep.stats().offload;
    assert.equal(offload.tunnel, tunnel, JSON.stringify(offload));
    if (tunnel) {
      assert.equal(offload.underlayTap, 'wt0-u');
      assert.equal((await sh(['ip', 'netns', 'exec', p.a.netns, 'cat', '/proc/sys/net/ipv4/conf/wt0-u/forwarding'])).trim(), '1');
    }
    const ss = await sh(['ip', 'netns', 'exec', p.a.netns, 'ss', '-Huan', 'sport = :4789']);
    assert.equal(ss.trim().split('\n').filter(Boolean).length, WORKERS, ss);
  });

  it('pings both ways; A resolves B through the proxy on the TAP', async () => {
    for (const [ns, to] of [[p.a.netns, IP_B], [p.b.netns, IP_A]] as const) {
      assert.match(await sh(['ip', 'netns', 'exec', ns, 'busybox', 'ping', '-c', '3', '-W', '2', to], { timeoutMs: 20_000 }), /3 packets received/);
    }
    const s = await settled(p.vtep, (x) => x.counters.tx_packets >= 6 && x.counters.rx_packets >= 6);
    assert.ok(s.counters.tx_packets >= 6 && s.counters.rx_packets >= 6, JSON.stringify(s.counters));
    assert.ok(s.proxy.arp_replies >= 1);
  });

  it('carries TCP both ways (iperf3, 4 streams)', { skip: noIperf }, async () => {
    for (const args of [['-P', '4'], ['-P', '4', '-R']]) {
      const before = p.vtep.stats().counters;
      const rxBefore = await underlayRxPackets(p);
      const r = await iperf(p.b, p.a, IP_B, args);
      assert.ok(r.sum_received!.bits_per_second > 1e6, `throughput ${r.sum_received!.bits_per_second}`);
      if (tunnel && args.length === 2) {
        // A's TCP segments left as super-packets: B's underlay saw far fewer packets than the VTEP sent segments.
        const after = await settled(p.vtep, (x) => x.counters.tx_gso > before.tx_gso);
        const segments = after.counters.tx_packets - before.tx_packets;
        const packets = (await underlayRxPackets(p)) - rxBefore;
        assert.ok(after.counters.tx_gso > before.tx_gso, JSON.stringify(after.counters));
        assert.ok(packets * 4 < segments, `B's underlay received ${packets} packets for ${segments} segments`);
        assert.equal(after.counters.tx_errors, 0);
      }
    }
  });

  it('keeps every flow in order, spreads flows over the workers, and its counters add up', { skip: noIperf }, async () => {
    const udp = ['-u', '-b', '20M', '-l', '1000', '-P', '16'];
    const before = p.vtep.stats();
    const fromB = await iperf(p.a, p.b, IP_A, udp);
    const got = fromB.sum!.packets - fromB.sum!.lost_packets;
    const mid = await settled(p.vtep, (x) => x.counters.rx_packets - before.counters.rx_packets >= got);
    const fromA = await iperf(p.b, p.a, IP_B, udp);
    const end = await settled(p.vtep, (x) => x.counters.tx_packets - mid.counters.tx_packets >= fromA.sum!.packets - fromA.sum!.lost_packets);
    for (const r of [fromB, fromA]) {
      const ooo = r.streams!.reduce((n, s) => n + (s.udp?.out_of_order ?? 0), 0);
      assert.equal(ooo, 0, 'datagrams out of order within a stream');
    }
    // Every datagram the iperf3 server in A got came through a worker, and none was counted twice. The slack is
    // for other frames from B in the same window (iperf3's control connections, the previous case's last
    // segments) and iperf3's own count: 539 over 79,968 sent was seen once in CI.
    const rx = mid.counters.rx_packets - before.counters.rx_packets;
    assert.ok(rx >= got && rx <= fromB.sum!.packets * 1.02 + 200, `rx ${rx} vs iperf3 sent ${fromB.sum!.packets} received ${got}`);
    const perWorkerRx = mid.perWorker!.map((w, i) => w.counters.rx_packets - before.perWorker![i]!.counters.rx_packets);
    assert.ok(perWorkerRx.filter((n) => n > 100).length >= 2, `16 flows spread over the workers: ${perWorkerRx.join(',')}`);
    const tx = end.counters.tx_packets - mid.counters.tx_packets;
    assert.ok(tx >= fromA.sum!.packets - fromA.sum!.lost_packets, `tx ${tx} vs ${JSON.stringify(fromA.sum)}`);
    for (const k of Object.keys(end.counters) as (keyof typeof end.counters)[]) {
      assert.equal(end.perWorker!.reduce((n, w) => n + w.counters[k], 0), end.counters[k], k);
    }
  });

  if (tunnel) it('falls back to the socket, and says why, where strict reverse-path filtering would drop its frames', async () => {
    await sh(['ip', 'netns', 'exec', p.a.netns, 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=1']);
    try {
      const v = await UserspaceVtep.open({ netns: p.a.netns, tap: 'wt9', vni: VNI, local: p.a.address, port: 4790, tunnelOffload: true });
      try {
        const offload = v.stats().offload;
        assert.equal(offload.tunnel, false);
        assert.match(offload.tunnelUnavailable ?? '', /rp_filter/);
        assert.notEqual((await run(['ip', '-n', p.a.netns, 'link', 'show', 'wt9-u'])).code, 0, 'no underlay TAP made');
      } finally {
        await v.close();
      }
    } finally {
      await sh(['ip', 'netns', 'exec', p.a.netns, 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']);
    }
  });

  it('closes every queue and socket: the TAP is gone', async () => {
    await p.vtep.close();
    assert.equal(tunFds(), tunBefore);
    for (const name of tunnel ? ['wt0', 'wt0-u'] : ['wt0']) {
      const link = await run(['ip', '-n', p.a.netns, 'link', 'show', name]);
      assert.notEqual(link.code, 0, `${name} still exists`);
    }
    assert.equal((await sh(['ip', 'netns', 'exec', p.a.netns, 'ss', '-Huan', 'sport = :4789'])).trim(), '');
  });
});
