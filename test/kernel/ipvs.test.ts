/**
 * The IPVS client against the real kernel (kernel lab only: the host kernel
 * has no IPVS), every operation checked against `ipvsadm -Ln [--stats]`,
 * all inside lab namespaces.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { IpvsClient } from '../../src/netlink/ipvs/client.js';
import type { IpvsService, IpvsServiceKey } from '../../src/netlink/ipvs/types.js';
import { NetlinkError } from '../../src/errors.js';
import { probeMeshBackend } from '../../src/dataplane/mesh.js';
import { sh } from '../support/exec.js';
import { Lab } from '../support/lab.js';
import { connectMany } from '../integration/mesh-lab.js';
import { spawn, type ChildProcess } from 'node:child_process';

const skip = process.env.WEFT_KLAB === '1' ? undefined : 'runs only inside the kernel lab (WEFT_KLAB=1)';

let lab: Lab | undefined;
let ns = '';
let ipvs: IpvsClient | undefined;
before(async () => {
  if (skip) return;
  lab = await Lab.create();
  ns = await lab.netns('ipvs');
  ipvs = await IpvsClient.open({ netns: ns });
});
after(async () => {
  ipvs?.close();
  await lab?.destroy();
});

const ipvsadm = (...args: string[]) => sh(['ip', 'netns', 'exec', ns, 'ipvsadm', ...args]);

interface Listed { key: string; sched: string; flags: string; dests: string[] }

/** `ipvsadm -Ln` as {key: 'TCP 1.2.3.4:80' | 'FWM 256', sched, flags, dests: ['addr:port Masq 3']}. */
async function listed(): Promise<Listed[]> {
  const out: Listed[] = [];
  for (const line of (await ipvsadm('-Ln')).split('\n').slice(3)) {
    const svc = /^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (svc) {
      out.push({ key: `${svc[1]} ${svc[2]}`, sched: svc[3]!, flags: svc[4]!.trim(), dests: [] });
      continue;
    }
    const d = /^\s+->\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (d) out[out.length - 1]!.dests.push(`${d[1]} ${d[2]} ${d[3]}`);
  }
  return out;
}

const FWD: Record<string, string> = { masq: 'Masq', droute: 'Route', tunnel: 'Tunnel', local: 'Local' };

/** Our view in ipvsadm's shape. */
async function ours(): Promise<Listed[]> {
  const svcs = await ipvs!.services();
  const out: Listed[] = [];
  for (const s of svcs) {
    const key: IpvsServiceKey = s.fwmark ? { fwmark: s.fwmark } : { protocol: s.protocol as 'tcp', address: s.address!, port: s.port! };
    const dests = (await ipvs!.dests(key)).map((d) => `${d.address}:${d.port} ${FWD[d.forward]} ${d.weight}`);
    out.push({ key: keyOf(s), sched: s.scheduler, flags: '', dests });
  }
  return out;
}

function keyOf(s: IpvsService): string {
  return s.fwmark ? `FWM ${s.fwmark}` : `${String(s.protocol).toUpperCase()} ${s.address}:${s.port}`;
}

async function agree(): Promise<Listed[]> {
  const theirs = (await listed()).map((l) => ({ ...l, flags: '', dests: [...l.dests].sort() })).sort((a, b) => a.key.localeCompare(b.key));
  const mine = (await ours()).map((l) => ({ ...l, dests: [...l.dests].sort() })).sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(mine, theirs);
  return mine;
}

test('probe picks IPVS in the lab kernel', { skip }, async () => {
  assert.equal(await probeMeshBackend(ns), 'ipvs');
  const info = await ipvs!.info();
  assert.match(await ipvsadm('-Ln'), new RegExp(`version ${info.version.replaceAll('.', '\\.')} \\(size=${info.connTableSize}\\)`));
});

test('services by VIP:port/proto and fwmark with every scheduler; destinations masq and droute with weights', { skip }, async () => {
  await ipvs!.addService({ protocol: 'tcp', address: '198.18.10.1', port: 80, scheduler: 'rr' });
  await ipvs!.addService({ protocol: 'udp', address: '198.18.10.1', port: 53, scheduler: 'wrr' });
  await ipvs!.addService({ fwmark: 256, scheduler: 'lc' });
  await ipvs!.addService({ protocol: 'tcp', address: '198.18.10.2', port: 443, scheduler: 'sh' });
  await ipvs!.addDest({ protocol: 'tcp', address: '198.18.10.1', port: 80 }, { address: '198.18.11.2', port: 8080, weight: 3, forward: 'masq' });
  await ipvs!.addDest({ protocol: 'tcp', address: '198.18.10.1', port: 80 }, { address: '198.18.11.3', port: 8080, weight: 1, forward: 'masq' });
  await ipvs!.addDest({ protocol: 'udp', address: '198.18.10.1', port: 53 }, { address: '198.18.11.4', port: 53, weight: 7 });
  await ipvs!.addDest({ fwmark: 256 }, { address: '198.18.11.5', port: 0, weight: 2, forward: 'droute' });
  await ipvs!.addDest({ protocol: 'tcp', address: '198.18.10.2', port: 443 }, { address: '198.18.11.6', port: 443, forward: 'tunnel' });
  const all = await agree();
  assert.equal(all.length, 4);
  assert.deepEqual(all.find((s) => s.key === 'FWM 256'), { key: 'FWM 256', sched: 'lc', flags: '', dests: ['198.18.11.5:0 Route 2'] });
  assert.deepEqual(all.find((s) => s.key === 'TCP 198.18.10.1:80')!.dests, ['198.18.11.2:8080 Masq 3', '198.18.11.3:8080 Masq 1']);
});

test('update scheduler, flags and persistence; update destination weight; idempotent add', { skip }, async () => {
  const key = { protocol: 'tcp' as const, address: '198.18.10.1', port: 80 };
  await ipvs!.updateService({ ...key, scheduler: 'wrr', flags: 0x1, timeout: 120 });
  assert.match(await ipvsadm('-Ln'), /^TCP\s+198\.18\.10\.1:80 wrr persistent 120/m);
  await ipvs!.updateService({ ...key, scheduler: 'sh', flags: 0x8 | 0x10 });
  assert.match(await ipvsadm('-Ln'), /^TCP\s+198\.18\.10\.1:80 sh \(sh-fallback,sh-port\)/m);
  await ipvs!.updateDest(key, { address: '198.18.11.3', port: 8080, weight: 0 });
  await ipvs!.addService({ ...key, scheduler: 'rr' }, { idempotent: true });
  await ipvs!.addDest(key, { address: '198.18.11.2', port: 8080, weight: 9 }, { idempotent: true });
  const all = await agree();
  const s = all.find((x) => x.key === 'TCP 198.18.10.1:80')!;
  assert.equal(s.sched, 'rr');
  assert.deepEqual(s.dests, ['198.18.11.2:8080 Masq 9', '198.18.11.3:8080 Masq 0']);
});

test('delete destination and service; missing objects are typed errors, tolerated when idempotent', { skip }, async () => {
  const key = { protocol: 'tcp' as const, address: '198.18.10.1', port: 80 };
  await ipvs!.deleteDest(key, { address: '198.18.11.3', port: 8080 });
  await assert.rejects(ipvs!.deleteDest(key, { address: '198.18.11.3', port: 8080 }), (e: unknown) => e instanceof NetlinkError && e.code === 'ERR_WEFT_NETLINK' && e.errno === 'ENOENT');
  await ipvs!.deleteDest(key, { address: '198.18.11.3', port: 8080 }, { idempotent: true });
  await ipvs!.deleteService({ fwmark: 256 });
  await assert.rejects(ipvs!.deleteService({ fwmark: 256 }), (e: unknown) => e instanceof NetlinkError && e.code === 'ERR_WEFT_NETLINK' && e.errno === 'ESRCH');
  await ipvs!.deleteService({ fwmark: 256 }, { idempotent: true });
  await assert.rejects(ipvs!.addService({ ...key, scheduler: 'nosuch' }), NetlinkError);
  await assert.rejects(ipvs!.addService(key), (e: unknown) => e instanceof NetlinkError && e.code === 'ERR_WEFT_NETLINK' && e.errno === 'EEXIST');
  const all = await agree();
  assert.equal(all.length, 3);
  await ipvs!.flush();
  assert.deepEqual(await agree(), []);
});

test('timeouts round-trip against ipvsadm -L --timeout', { skip }, async () => {
  const before = await ipvs!.timeouts();
  assert.match(await ipvsadm('-L', '--timeout'), new RegExp(`Timeout \\(tcp tcpfin udp\\): ${before.tcp} ${before.tcpFin} ${before.udp}`));
  await ipvs!.setTimeouts({ tcp: 600, tcpFin: 30, udp: 90 });
  assert.deepEqual(await ipvs!.timeouts(), { tcp: 600, tcpFin: 30, udp: 90 });
  assert.match(await ipvsadm('-L', '--timeout'), /: 600 30 90$/m);
  await ipvs!.setTimeouts({ udp: 300 }); // 0 leaves the others
  assert.deepEqual(await ipvs!.timeouts(), { tcp: 600, tcpFin: 30, udp: 300 });
});

test('stats after real traffic through a NAT service match ipvsadm -Ln --stats', { skip, timeout: 120_000 }, async () => {
  const cl = await lab!.netns('cl');
  const be = await lab!.netns('be');
  const link = async (a: string, b: string, aAddr: string, bAddr: string) => {
    await sh(['ip', '-n', a, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1', 'netns', b]);
    await sh(['ip', '-n', a, 'addr', 'add', aAddr, 'dev', 'v0']);
    await sh(['ip', '-n', b, 'addr', 'add', bAddr, 'dev', 'v1']);
    await sh(['ip', '-n', a, 'link', 'set', 'v0', 'up']);
    await sh(['ip', '-n', b, 'link', 'set', 'v1', 'up']);
  };
  await link(cl, ns, '198.18.21.2/24', '198.18.21.1/24');
  await sh(['ip', '-n', ns, 'link', 'add', 'w0', 'type', 'veth', 'peer', 'name', 'w1', 'netns', be]);
  await sh(['ip', '-n', ns, 'addr', 'add', '198.18.20.1/24', 'dev', 'w0']);
  await sh(['ip', '-n', ns, 'link', 'set', 'w0', 'up']);
  await sh(['ip', '-n', be, 'addr', 'add', '198.18.20.2/24', 'dev', 'w1']);
  await sh(['ip', '-n', be, 'link', 'set', 'w1', 'up']);
  await sh(['ip', '-n', be, 'route', 'add', 'default', 'via', '198.18.20.1']);
  await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const server: ChildProcess = spawn('ip', ['netns', 'exec', be, process.execPath, '-e',
    "require('net').createServer((s)=>s.end('be '+s.remoteAddress+'\\n')).listen(80,'0.0.0.0');console.log('ready')"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => server.stdout!.once('data', r));
    const key = { protocol: 'tcp' as const, address: '198.18.21.1', port: 80 };
    await ipvs!.addService({ ...key, scheduler: 'rr' });
    await ipvs!.addDest(key, { address: '198.18.20.2', port: 80, forward: 'masq' });
    const r = await connectMany(cl, '198.18.21.1', 80, 5);
    assert.deepEqual(r.counts, { be: 5 });
    assert.equal(r.peers.be, '198.18.21.2', 'masquerade (NAT) forwarding keeps the client address');
    // The kernel folds per-CPU counters into the exported stats from its 2 s estimator timer.
    let svc;
    for (let i = 0; i < 40; i++) {
      [svc] = await ipvs!.services();
      if (svc?.stats?.conns === 5n) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const [dest] = await ipvs!.dests(key);
    const stats = await ipvsadm('-Ln', '--stats');
    const row = (re: RegExp) => {
      const m = re.exec(stats);
      assert.ok(m, `no row ${re} in\n${stats}`);
      return m.slice(1).map(Number);
    };
    const svcRow = row(/^TCP\s+198\.18\.21\.1:80\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m);
    const destRow = row(/->\s+198\.18\.20\.2:80\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m);
    for (const [row, s] of [[svcRow, svc!.stats!], [destRow, dest!.stats!]] as const) {
      assert.deepEqual(row, [s.conns, s.inPkts, s.outPkts, s.inBytes, s.outBytes].map(Number));
    }
    assert.equal(svc!.stats!.conns, 5n);
    await ipvs!.zero(key);
    const [zeroed] = await ipvs!.services();
    assert.equal(zeroed!.stats!.conns, 0n);
  } finally {
    server.kill('SIGKILL');
    await ipvs!.flush();
  }
});
