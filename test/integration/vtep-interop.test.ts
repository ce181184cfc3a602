/**
 * Interop with the kernel: host A runs weft's userspace VTEP, host B a
 * kernel vxlan device with the same VNI. Ping both ways (A resolves B
 * through weft's proxy ARP on the TAP), TCP with iperf3 both ways, path
 * MTU 1450 (a DF datagram filling 1450 IP bytes passes, one byte more is
 * refused locally with EMSGSIZE, and a 1423-byte ping without DF is
 * fragmented like on the kernel side), and tshark on the underlay decodes
 * the traffic as valid VXLAN.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rootSkipReason } from '../support/lab.js';
import { have, run, sh } from '../support/exec.js';
import { native } from '../../src/io/native.js';
import { UdpSocket } from '../../src/io/udp.js';
import { SysError } from '../../src/errors.js';
import { IP_A, IP_B, VNI, vtepPair, type VtepPair } from './vtep-lab.js';

const skip = rootSkipReason();
const noIperf = !(await have('iperf3')) && 'iperf3 not installed';
const noTshark = !(await have('tshark')) && 'tshark not installed';
if (skip) console.log(`# skipping vtep-interop: ${skip}`);

const IPPROTO_IP = 0;
const IP_MTU_DISCOVER = 10;
const IP_PMTUDISC_DO = 2;

async function ping(ns: string, to: string, size = 56, count = 3): Promise<string> {
  return sh(['ip', 'netns', 'exec', ns, 'busybox', 'ping', '-c', String(count), '-W', '2', '-s', String(size), to], { timeoutMs: 20_000 });
}

/** Sends one DF datagram of `payload` bytes from fromNs to toIp:port; resolves what arrived (or null). */
async function dfDatagram(fromNs: string, fromIp: string, toNs: string, toIp: string, payload: number): Promise<number | null | 'EMSGSIZE'> {
  const rx = UdpSocket.open({ address: toIp, port: 0, netns: toNs, slotSize: 4096 });
  const tx = UdpSocket.open({ address: fromIp, port: 0, netns: fromNs });
  try {
    native().setsockoptInt(tx.fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
    const port = rx.localAddress().port;
    try {
      tx.sendTo(Buffer.alloc(payload, 7), 0, payload, toIp, port);
    } catch (err) {
      if (err instanceof SysError && err.code === 'ERR_WEFT_SYSCALL' && err.errno === 'EMSGSIZE') return 'EMSGSIZE';
      throw err;
    }
    for (let i = 0; i < 100; i++) {
      const v = rx.receiveBatch();
      if (v.count > 0) return v.length(0);
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  } finally {
    tx.close();
    rx.close();
  }
}

async function iperf(server: VtepPair['a'], client: VtepPair['a'], serverIp: string, reverse: boolean): Promise<{ bps: number }> {
  // On a busy machine (the kernel lab runs beside this test) the server can
  // be slow to listen, or a run can end without a result: wait for the
  // listener, and give each direction up to three attempts.
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const srv = run(['ip', 'netns', 'exec', server.netns, 'timeout', '20', 'iperf3', '-s', '-1', '-B', serverIp, '-p', '5201'], { timeoutMs: 25_000 });
    for (let i = 0; i < 50; i++) {
      const ss = await run(['ip', 'netns', 'exec', server.netns, 'ss', '-Hltn', 'sport = :5201']);
      if (ss.stdout.trim()) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = await run(['ip', 'netns', 'exec', client.netns, 'timeout', '15', 'iperf3', '-c', serverIp, '-p', '5201', '-t', '2', '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: 20_000 });
    await srv;
    last = out.stdout || out.stderr;
    try {
      const j = JSON.parse(out.stdout) as { end?: { sum_received?: { bits_per_second: number } } };
      if (j.end?.sum_received) return { bps: j.end.sum_received.bits_per_second };
    } catch {
      // not JSON: try again
    }
  }
  throw new Error(`iperf3 gave no result: ${last.slice(0, 500)}`);
}

describe('userspace VTEP ↔ kernel vxlan', { skip }, () => {
  let p: VtepPair;

  before(async () => {
    p = await vtepPair();
  });

  after(async () => {
    await p?.close();
  });

  it('pings both ways; A resolves B through the proxy on the TAP', async () => {
    assert.match(await ping(p.a.netns, IP_B), /3 packets received/);
    assert.match(await ping(p.b.netns, IP_A), /3 packets received/);
    const s = p.vtep.stats();
    assert.ok(s.counters.tx_packets >= 6 && s.counters.rx_packets >= 6);
    assert.ok(s.proxy.arp_replies >= 1);
  });

  it('respects path MTU 1450: DF 1422+28 passes, 1423+28 is refused, non-DF 1423 is fragmented', async () => {
    // A UDP datagram of 1422 bytes is an IP packet of 1450, the size of a DF ping -s 1422.
    assert.equal(await dfDatagram(p.a.netns, IP_A, p.b.netns, IP_B, 1422), 1422, JSON.stringify(p.vtep.stats()));
    assert.equal(await dfDatagram(p.a.netns, IP_A, p.b.netns, IP_B, 1423), 'EMSGSIZE');
    assert.equal(await dfDatagram(p.b.netns, IP_B, p.a.netns, IP_A, 1422), 1422);
    assert.equal(await dfDatagram(p.b.netns, IP_B, p.a.netns, IP_A, 1423), 'EMSGSIZE');
    assert.match(await ping(p.a.netns, IP_B, 1422, 2), /2 packets received/);
    assert.match(await ping(p.a.netns, IP_B, 1423, 2), /2 packets received/);
    assert.match(await ping(p.b.netns, IP_A, 1423, 2), /2 packets received/);
    assert.equal(p.vtep.stats().counters.tx_too_big, 0);
    assert.equal(p.vtep.stats().counters.jumbo, 0);
  });

  it('carries TCP both ways (iperf3)', { skip: noIperf }, async () => {
    const up = await iperf(p.b, p.a, IP_B, false);
    const down = await iperf(p.b, p.a, IP_B, true);
    const fromB = await iperf(p.a, p.b, IP_A, false);
    for (const r of [up, down, fromB]) assert.ok(r.bps > 1e6, `throughput ${r.bps}`);
  });

  it('is decoded by tshark on the underlay as valid VXLAN', { skip: noTshark }, async () => {
    const cap = run(['ip', 'netns', 'exec', p.b.netns, 'timeout', '40', 'tshark', '-n', '-i', 'eth0', '-a', 'duration:6', '-f', 'udp port 4789',
      '-T', 'fields', '-E', 'separator=,', '-E', 'occurrence=f', '-e', 'ip.src', '-e', 'udp.dstport', '-e', 'vxlan.flags', '-e', 'vxlan.vni', '-e', 'icmp.type', '-e', '_ws.malformed', '-e', '_ws.expert.severity'], { timeoutMs: 45_000 });
    // tshark may take seconds to start on a busy machine: keep pinging until the capture ends.
    let done = false;
    const out = await Promise.all([cap.finally(() => (done = true)), (async () => {
      while (!done) await run(['ip', 'netns', 'exec', p.a.netns, 'busybox', 'ping', '-c', '1', '-W', '1', IP_B]);
    })()]).then(([o]) => o);
    const lines = out.stdout.trim().split('\n').filter(Boolean).map((l) => l.split(','));
    const fromA = lines.filter((f) => f[0] === p.a.address);
    assert.ok(fromA.length >= 2, `captured from A: ${out.stdout} ${out.stderr}`);
    for (const f of fromA) {
      assert.equal(f[1], '4789');
      assert.equal(Number(f[3]), VNI);
      assert.equal(f[4], '8', 'inner ICMP echo request');
      assert.equal(f[5], '', 'not malformed');
    }
    // The kernel's replies decode the same way.
    assert.ok(lines.some((f) => f[0] === p.b.address && Number(f[3]) === VNI && f[4] === '0'));
  });
});
