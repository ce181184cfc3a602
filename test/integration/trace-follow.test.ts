/**
 * Live capture and `weft trace follow` in a lab overlay built with ip(8):
 * two hosts, each with a bridge, a kernel VXLAN device (VNI 42, static FDB,
 * no learning) and an endpoint namespace; ping between the endpoints. With
 * an FDB entry removed, follow names the hop after which the packet died.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { have, run, sh } from '../support/exec.js';

const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
const skip = rootSkipReason();
const MAC1 = '02:00:00:00:01:01';
const MAC2 = '02:00:00:00:02:02';

/** Runs a weft command in the background until it exits; `started` resolves at its first stderr line. */
function weft(args: string[]): { started: Promise<void>; done: Promise<{ code: number; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ready!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    if (/capturing|following/.test(stderr)) ready();
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => {
    ready();
    resolve({ code: code ?? 1, stdout, stderr });
  }));
  return { started, done };
}

interface Report { packets: { summary: string; direction: string; delivered: boolean; droppedAfter?: string; seen: { hop: string; vni?: number }[] }[] }

describe('weft trace capture and follow on a VXLAN overlay', { skip }, () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let ep1 = '';
  let ep2 = '';
  const dir = mkdtempSync(join(tmpdir(), 'weft-trace-follow-'));

  before(async () => {
    lab = await Lab.create();
    h1 = await lab.host('h1');
    h2 = await lab.host('h2');
    ep1 = await lab.netns('ep1');
    ep2 = await lab.netns('ep2');
    for (const [h, peer, ep, mac, addr] of [[h1, h2, ep1, MAC1, '198.19.0.1'], [h2, h1, ep2, MAC2, '198.19.0.2']] as const) {
      await sh(['ip', '-n', h.netns, 'link', 'add', 'br0', 'type', 'bridge']);
      await sh(['ip', '-n', h.netns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', h.address, 'dstport', '4789', 'dev', 'eth0', 'nolearning']);
      await sh(['ip', '-n', h.netns, 'link', 'set', 'vx0', 'master', 'br0', 'up']);
      await sh(['ip', '-n', h.netns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ep]);
      await sh(['ip', '-n', h.netns, 'link', 'set', 'v0', 'master', 'br0', 'up']);
      await sh(['ip', '-n', h.netns, 'link', 'set', 'br0', 'up']);
      await sh(['ip', '-n', ep, 'link', 'set', 'eth0', 'address', mac, 'up']);
      await sh(['ip', '-n', ep, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      const other = mac === MAC1 ? MAC2 : MAC1;
      await sh(['bridge', '-n', h.netns, 'fdb', 'append', other, 'dev', 'vx0', 'dst', peer.address]);
    }
    await sh(['ip', '-n', ep1, 'neigh', 'replace', '198.19.0.2', 'lladdr', MAC2, 'dev', 'eth0', 'nud', 'permanent']);
    await sh(['ip', '-n', ep2, 'neigh', 'replace', '198.19.0.1', 'lladdr', MAC1, 'dev', 'eth0', 'nud', 'permanent']);
    // The underlay: resolve each other's MAC once so the first VXLAN packet is not held by ARP.
    await h1.exec(['busybox', 'ping', '-c', '1', '-W', '2', h2.address]);
  });

  after(async () => {
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const hops = () => [
    `ep1=${ep1}:eth0`, `h1-vx=${h1.netns}:vx0`, `h1-ul=${h1.netns}:eth0`, `h2-ul=${h2.netns}:eth0`, `h2-vx=${h2.netns}:vx0`, `ep2=${ep2}:eth0`,
  ].flatMap((h) => ['--hop', h]);

  it('captures N packets in another namespace with a kernel filter and writes pcapng', async () => {
    const file = join(dir, 'cap.pcapng');
    const w = weft(['trace', 'capture', '-i', 'eth0', '--netns', ep1, '-c', '2', '-w', file, '--duration', '20', 'icmp', 'and', 'host', '198.19.0.2']);
    await w.started;
    await run(['ip', 'netns', 'exec', ep1, 'busybox', 'ping', '-c', '2', '198.19.0.2']);
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /kernel filter attached/);
    assert.match(r.stderr, /2 packets captured/);
    assert.match(r.stderr, /\d+ packets dropped by kernel/);
    const read = await run([process.execPath, cli, 'trace', 'read', file]);
    assert.equal(read.code, 0, read.stderr);
    const lines = read.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, / eth0 02:00:00:00:01:01 > 02:00:00:00:02:02, IP 198\.19\.0\.1 > 198\.19\.0\.2: ICMP echo request/);
    if (await have('tshark')) {
      const ts = await run(['tshark', '-n', '-r', file]);
      assert.equal(ts.code, 0, ts.stderr);
      assert.equal(ts.stdout.trim().split('\n').length, 2);
    }
  });

  it('follows pings hop by hop, through the VXLAN underlay and back', async () => {
    const f = weft(['trace', 'follow', ...hops(), '--duration', '4', '--json', 'icmp']);
    await f.started;
    await run(['ip', 'netns', 'exec', ep1, 'busybox', 'ping', '-c', '2', '198.19.0.2']);
    const r = await f.done;
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    const requests = rep.packets.filter((p) => /request/.test(p.summary));
    const replies = rep.packets.filter((p) => /reply/.test(p.summary));
    assert.equal(requests.length, 2, r.stdout);
    assert.equal(replies.length, 2, r.stdout);
    for (const p of requests) {
      assert.equal(p.direction, 'forward');
      assert.equal(p.delivered, true, JSON.stringify(p));
      assert.deepEqual(p.seen.map((s) => s.hop), ['ep1', 'h1-vx', 'h1-ul', 'h2-ul', 'h2-vx', 'ep2']);
      assert.deepEqual(p.seen.map((s) => s.vni ?? null), [null, null, 42, 42, null, null]);
    }
    for (const p of replies) {
      assert.equal(p.direction, 'reverse');
      assert.equal(p.delivered, true, JSON.stringify(p));
    }
  });

  it('with -c 1 follows one packet and stops as soon as it crossed every hop', async () => {
    const t0 = Date.now();
    const f = weft(['trace', 'follow', ...hops(), '--duration', '30', '-c', '1', '--json', 'icmp']);
    await f.started;
    await run(['ip', 'netns', 'exec', ep1, 'busybox', 'ping', '-c', '1', '198.19.0.2']);
    const r = await f.done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 20000, 'stopped well before --duration');
    const rep = JSON.parse(r.stdout) as Report;
    assert.equal(rep.packets.length, 1, r.stdout);
    assert.match(rep.packets[0]!.summary, /request/);
    assert.equal(rep.packets[0]!.delivered, true);
  });

  it('names the hop after which a packet is dropped when an FDB entry is missing', async () => {
    await sh(['bridge', '-n', h1.netns, 'fdb', 'del', MAC2, 'dev', 'vx0', 'dst', h2.address]);
    const f = weft(['trace', 'follow', ...hops(), '--duration', '4', 'icmp']);
    await f.started;
    await run(['ip', 'netns', 'exec', ep1, 'busybox', 'ping', '-c', '2', '-W', '1', '198.19.0.2']);
    const r = await f.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /198\.19\.0\.1 > 198\.19\.0\.2 ICMP echo request id \d+ seq 0 \(forward\): DROPPED after h1-vx/);
    assert.doesNotMatch(r.stdout, /reply/);
    // Also through --json.
    await sh(['bridge', '-n', h1.netns, 'fdb', 'append', MAC2, 'dev', 'vx0', 'dst', h2.address]);
  });
});
