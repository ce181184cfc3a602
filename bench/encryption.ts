/**
 * Encrypted overlay throughput, in the kernel lab (this host's kernel has no
 * ESP): TCP and UDP goodput between two containers on two lab hosts over
 *  - weft's plain overlay (VXLAN, admission filter),
 *  - weft's encrypted overlay (VXLAN in ESP transport mode, SAs programmed
 *    by weft over NETLINK_XFRM, nft mark + clear-text drop rules),
 *  - the same VXLAN overlay with hand-made `ip xfrm` ESP (same AEAD, no
 *    weft rules) on a second pair of lab hosts,
 * interleaved in rounds in one VM run. Ratios: encrypted ÷ manual ESP (goal
 * ≥ 0.95: weft adds nothing to the kernel's cost) and encrypted ÷ plain.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchResult, type Benchmark, type Row, median, ratio } from './lib.js';
import type { OverlayNetwork } from '../src/dataplane/overlay.js';
import type { OverlaySecurity } from '../src/control/overlay-security.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

type Path = 'plain' | 'encrypted' | 'manual_esp';

/** Goodput in Mbit/s of one transfer of `seconds` from sandbox a to b (server on addr). */
async function goodput(proto: 'tcp' | 'udp', a: string, b: string, addr: string, seconds: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', b, process.execPath, '-e', proto === 'tcp' ? `
    let n = 0, t0 = 0, t1 = 0;
    const s = require('net').createServer((c) => { c.on('data', (d) => { if (!t0) t0 = Date.now(); n += d.length; t1 = Date.now(); }); c.on('end', () => { console.log('R', n, t1 - t0); process.exit(0); }); });
    s.listen(5201, '${addr}', () => console.log('ready'));
    setTimeout(() => process.exit(3), ${(seconds + 60) * 1000});` : `
    let n = 0, t0 = 0, t1 = 0;
    const s = require('dgram').createSocket('udp4');
    s.on('message', (m) => { if (m.length === 1) { console.log('R', n, t1 - t0); process.exit(0); } if (!t0) t0 = Date.now(); n += m.length; t1 = Date.now(); });
    s.bind(5201, '${addr}', () => console.log('ready'));
    setTimeout(() => process.exit(3), ${(seconds + 60) * 1000});`]);
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => server.once('exit', r));
  while (!out.includes('ready') && server.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const client = proto === 'tcp' ? `
    const c = require('net').connect(5201, '${addr}', () => {
      const buf = Buffer.alloc(65536, 0x5a); const end = Date.now() + ${seconds * 1000};
      const pump = () => { while (Date.now() < end) { if (!c.write(buf)) return c.once('drain', pump); } c.end(); };
      pump();
    });` : `
    const s = require('dgram').createSocket('udp4'); const buf = Buffer.alloc(1200, 0x5a); const end = Date.now() + ${seconds * 1000};
    s.connect(5201, '${addr}', () => {
      let inflight = 0;
      const pump = () => { while (Date.now() < end && inflight < 64) { inflight++; s.send(buf, () => { inflight--; pump(); }); } if (Date.now() >= end && inflight === 0) setTimeout(() => s.send(Buffer.alloc(1), () => s.close()), 300); };
      pump();
    });`;
  spawnSync('ip', ['netns', 'exec', a, process.execPath, '-e', client], { timeout: (seconds + 60) * 1000 });
  if (proto === 'udp') setTimeout(() => server.kill(), 5000);
  await exited;
  const m = /R (\d+) (\d+)/.exec(out);
  if (!m || Number(m[2]) <= 0) return 0;
  return (Number(m[1]) * 8) / (Number(m[2]) / 1000) / 1e6;
}

async function inner(rounds: number, seconds: number): Promise<BenchResult> {
  const { Lab } = await import('../test/support/lab.js');
  const { sh } = await import('../test/support/exec.js');
  const { EmbeddedStore } = await import('../src/control/embedded-store.js');
  const { OverlaySecurity: Security } = await import('../src/control/overlay-security.js');
  const { OverlayNetwork: Overlay, macFromIp } = await import('../src/dataplane/overlay.js');
  const lab = await Lab.create();
  const dir = mkdtempSync(join(tmpdir(), 'weft-encbench-'));
  const store = await EmbeddedStore.open(dir);
  const overlays: OverlayNetwork[] = [];
  const agents: OverlaySecurity[] = [];
  try {
    const h = [await lab.host('h1'), await lab.host('h2'), await lab.host('m1'), await lab.host('m2')];
    const nets = {
      plain: { id: '9a1b'.repeat(16), vni: 4200, subnet: '198.19.20', hosts: [0, 1], encrypted: false },
      encrypted: { id: 'e0c1'.repeat(16), vni: 4100, subnet: '198.19.10', hosts: [0, 1], encrypted: true },
      manual_esp: { id: '3a4b'.repeat(16), vni: 4300, subnet: '198.19.30', hosts: [2, 3], encrypted: false },
    } as const;
    for (const i of [0, 1]) {
      const a = new Security(store, { localAddress: h[i]!.address, instance: `b${i}`, netns: h[i]!.netns, storeIsPrivate: true, log: () => undefined });
      agents.push(a);
      await a.setPeers([h[0]!.address, h[1]!.address]);
      for (const n of [nets.plain, nets.encrypted]) {
        await a.ensureNetwork({
          id: n.id, mode: 'overlay', mtu: n.encrypted ? 1424 : 1450, internal: false, ipv6: false, ipv4: [], ipv6Subnets: [],
          options: n.encrypted ? { encrypted: '' } : {}, vni: n.vni,
        });
      }
    }
    // Hand-made ESP between m1 and m2: the same AEAD, key length, ICV and transport mode, set up with ip xfrm.
    const [m1, m2] = [h[2]!, h[3]!];
    const key = `0x${'42'.repeat(16)}`;
    for (const [self, peer] of [[m1, m2], [m2, m1]] as const) {
      for (const [src, dst, spi] of [[m1.address, m2.address, '0x1001'], [m2.address, m1.address, '0x1002']]) {
        await sh(['ip', '-n', self.netns, 'xfrm', 'state', 'add', 'src', src!, 'dst', dst!, 'proto', 'esp', 'spi', spi!, 'reqid', '7', 'mode', 'transport',
          'aead', 'rfc4106(gcm(aes))', `${key}${spi!.slice(2).padStart(8, '0')}`, '64']);
      }
      await sh(['ip', '-n', self.netns, 'xfrm', 'policy', 'add', 'src', `${self.address}/32`, 'dst', `${peer.address}/32`, 'proto', 'udp', 'dport', '4789',
        'dir', 'out', 'tmpl', 'src', self.address, 'dst', peer.address, 'proto', 'esp', 'reqid', '7', 'mode', 'transport']);
    }
    const boxes: Record<Path, [string, string]> = { plain: ['', ''], encrypted: ['', ''], manual_esp: ['', ''] };
    for (const [path, n] of Object.entries(nets) as [Path, (typeof nets)[Path]][]) {
      for (const [k, hi] of n.hosts.entries()) {
        const ov = await Overlay.create({
          networkId: n.id, vni: n.vni, gateway: `${n.subnet}.1/24`, hostNetns: h[hi]!.netns, local: h[hi]!.address,
          mtu: path === 'plain' ? 1450 : 1424, prefix: `x-${lab.prefix}-${hi}-`,
        });
        overlays.push(ov);
        const box = await lab.netns(`b${path.slice(0, 1)}${k}`);
        await ov.attachEndpoint(box, { address: `${n.subnet}.${10 + k}/24` });
        const other = `${n.subnet}.${11 - k}`;
        await ov.addRemotePeer({ ip: other, mac: macFromIp(other), vtep: h[n.hosts[1 - k]!]!.address });
        boxes[path][k] = box;
      }
    }
    const samples: Record<string, number[]> = {};
    const order: Path[] = ['plain', 'encrypted', 'manual_esp'];
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no path always runs first.
      const ordered = [...order.slice(r % 3), ...order.slice(0, r % 3)];
      for (const proto of ['tcp', 'udp'] as const) {
        for (const path of ordered) {
          const [a, b] = boxes[path];
          (samples[`${proto}_${path}`] ??= []).push(await goodput(proto, a, b, `${nets[path].subnet}.11`, seconds));
        }
      }
    }
    const rows: Row[] = [];
    for (const proto of ['tcp', 'udp']) {
      for (const path of order) {
        const s = samples[`${proto}_${path}`]!;
        rows.push({ proto, path, mbit_s_median: Math.round(median(s) * 10) / 10, min: Math.round(Math.min(...s) * 10) / 10, max: Math.round(Math.max(...s) * 10) / 10, rounds: s.length });
      }
    }
    const med = (k: string) => median(samples[k]!);
    // Wire check: the encrypted path's SAs really carried the traffic.
    const st = await sh(['ip', '-n', h[0]!.netns, '-s', 'xfrm', 'state']);
    const espBytes = [...st.matchAll(/(\d+)\(bytes\)/g)].reduce((a, m) => a + Number(m[1]), 0);
    return {
      rows,
      ratios: {
        encrypted_vs_manual_esp: ratio(med('tcp_encrypted'), med('tcp_manual_esp')),
        encrypted_vs_manual_esp_udp: ratio(med('udp_encrypted'), med('udp_manual_esp')),
        encrypted_vs_plain: ratio(med('tcp_encrypted'), med('tcp_plain')),
        encrypted_vs_plain_udp: ratio(med('udp_encrypted'), med('udp_plain')),
      },
      notes: [`${rounds} rounds of ${seconds} s per path and protocol, order rotated per round; ${espBytes} bytes through weft's SAs on h1`],
    };
  } finally {
    for (const a of agents) await a.stop().catch(() => undefined);
    for (const ov of overlays) await ov.destroy().catch(() => undefined);
    await store.close().catch(() => undefined);
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Benchmark = {
  description: 'encrypted overlay: TCP/UDP goodput over weft encrypted vs weft plain vs hand-made ip xfrm ESP (kernel-lab VM, same run)',
  async run(args) {
    const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
    const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 4) || 4;
    if (args[0] === '--inner') return inner(rounds, seconds);
    const t0 = Date.now();
    const vm = spawnSync(join(repoRoot, 'test', 'support', 'klab', 'run.sh'), [
      `node -e 'import("./dist/bench/encryption.js").then((m) => m.default.run(["--inner", "--rounds", "${rounds}", "--seconds", "${seconds}"])).then((r) => console.log("@@ENC " + JSON.stringify(r)))'`,
    ], { cwd: repoRoot, encoding: 'utf8', timeout: 900_000, env: { ...process.env, KLAB_TIMEOUT: '850' } });
    const line = vm.stdout?.split('\n').find((l) => l.startsWith('@@ENC '));
    if (!line) {
      return { rows: [], ratios: { encrypted_vs_manual_esp: null, encrypted_vs_plain: null }, notes: [`kernel-lab run failed (${vm.status ?? vm.signal}): ${`${vm.stdout ?? ''}${vm.stderr ?? ''}`.trim().split('\n').slice(-3).join(' ')}`] };
    }
    const r = JSON.parse(line.slice(6)) as BenchResult;
    r.notes = [
      ...(r.notes ?? []),
      `kernel-lab VM: Debian's kernel under qemu TCG (no KVM on this host), 2 vCPUs emulated on a 2-core host shared with other work; ${Math.round((Date.now() - t0) / 1000)} s including boot. AES-GCM runs emulated, so absolute Mbit/s say nothing about real hardware: compare ratios`,
      'the traffic tool is a single Node process per side (no iperf3 in the VM): TCP writes 64 KiB buffers for the duration, UDP sends 1200-byte datagrams with 64 in flight; goodput = bytes received ÷ time between first and last received byte',
      'manual_esp = the same VXLAN overlay on a second pair of lab hosts with ip xfrm states (rfc4106(gcm(aes)), 128-bit key + salt, 64-bit ICV, transport mode) and a policy selecting udp dport 4789 without a mark; weft adds the nft mark rule, the clear-text drop rules and the admission filter',
    ];
    return r;
  },
};

export default bench;
