/**
 * `npm run bench -- convergence`: how fast peer distribution through etcd
 * makes a new endpoint reachable, and how it scales.
 *
 *  - latency: two lab hosts, one etcd (underlay netns), a weft daemon each.
 *    For N endpoints made on h2 (as Docker does it: RequestAddress,
 *    CreateEndpoint, Join, link moved into a namespace), time from the
 *    CreateEndpoint call to (a) h1's kernel holding the FDB + neighbour
 *    entries and (b) the first successful ping from h1's endpoint
 *    (busybox ping, one packet per try; includes process start-up, ~2-5 ms).
 *  - scale: one real daemon (h1); H simulated hosts × E endpoints written to
 *    etcd by a writer in the underlay namespace (hosts first, then endpoints,
 *    64 puts in flight). Time from the first endpoint write to h1's vxlan0
 *    holding all H×E entries, and the daemon's RSS growth; against the
 *    peer: the same entries programmed with `ip -batch` + `bridge -batch`
 *    into a fresh vxlan device (kernel programming only, no store, no watch).
 *    Ratio `scale_vs_ip_batch` = ip-batch ms / weft ms (below 1: weft's
 *    end-to-end path through etcd is slower than bare kernel programming).
 *
 * Args: `--endpoints N` (latency, default 50), `--sizes HxE,…` (default 20x50,50x80,100x120).
 */
import { readFileSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, ratio, type Benchmark, type Row } from './lib.js';
import { MultiHostLab, call, createEndpoint, createNetwork, pings, randomId, ETCD_URL } from '../test/e2e/multihost-lab.js';
import { readKernelPeers } from '../src/control/peers.js';
import { run, sh } from '../test/support/exec.js';

const self = fileURLToPath(import.meta.url);
const now = () => performance.now();

async function daemonPid(netns: string): Promise<number | undefined> {
  const pids = (await run(['ip', 'netns', 'pids', netns])).stdout.split(/\s+/).filter(Boolean).map(Number);
  return pids.find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('daemon');
    } catch {
      return false;
    }
  });
}

function rssKiB(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const simIp = (i: number) => `198.19.${64 + (i >> 8)}.${i & 255}`;
const simMac = (i: number) => `02:42:c6:13:${(64 + (i >> 8)).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/** Writer mode (run inside the underlay namespace): simulated hosts and endpoints into etcd. */
async function writer(hosts: number, perHost: number, networkId: string, clear: boolean): Promise<void> {
  const { EtcdStore } = await import('../src/control/etcd-store.js');
  const store = await EtcdStore.connect(ETCD_URL);
  const keys: [string, string | undefined][] = [];
  for (let h = 0; h < hosts; h++) {
    keys.push([`hosts/sim${h}`, JSON.stringify({ name: `sim${h}`, address: `198.18.${1 + (h >> 8)}.${h & 255}`, started: new Date().toISOString() })]);
  }
  const eps: [string, string | undefined][] = [];
  for (let h = 0, i = 2; h < hosts; h++) {
    for (let e = 0; e < perHost; e++, i++) {
      const id = `sim${String(h).padStart(4, '0')}${String(e).padStart(4, '0')}`.padEnd(64, '0');
      eps.push([`endpoints/${id}`, JSON.stringify({ id, networkId, address: `${simIp(i)}/18`, mac: simMac(i), srcName: 'x', host: `sim${h}` })]);
    }
  }
  const put = async (list: [string, string | undefined][]) => {
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < list.length) {
        const [k, v] = list[next++]!;
        if (clear) await store.delete(k);
        else await store.put(k, v!);
      }
    }));
  };
  if (clear) {
    await put(eps);
    await put(keys);
  } else {
    await put(keys);
    process.stdout.write(`${JSON.stringify({ endpointsStart: Date.now() })}\n`);
    await put(eps);
    process.stdout.write(`${JSON.stringify({ endpointsDone: Date.now() })}\n`);
  }
  await store.close();
}

async function runWriter(ul: string, args: string[]): Promise<Record<string, number>> {
  const out = await sh(['nsenter', `--net=/var/run/netns/${ul}`, process.execPath, self, '--writer', ...args], { timeoutMs: 300_000 });
  return Object.assign({}, ...out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>));
}

/** The peer: the same entries with ip -batch / bridge -batch into a fresh vxlan device. */
async function ipBatch(lab: MultiHostLab, n: number): Promise<number> {
  const ns = await lab.lab.netns(`ipb${n}`);
  await sh(['ip', '-n', ns, 'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'nolearning', 'proxy']);
  await sh(['ip', '-n', ns, 'link', 'set', 'vxlan0', 'up']);
  const dir = mkdtempSync(join(tmpdir(), 'weft-conv-'));
  const neigh: string[] = [];
  const fdb: string[] = [];
  for (let i = 2; i < n + 2; i++) {
    neigh.push(`neigh replace ${simIp(i)} lladdr ${simMac(i)} dev vxlan0 nud permanent`);
    fdb.push(`fdb replace ${simMac(i)} dev vxlan0 dst 198.18.1.${i % 250} self permanent`);
  }
  writeFileSync(join(dir, 'neigh'), `${neigh.join('\n')}\n`);
  writeFileSync(join(dir, 'fdb'), `${fdb.join('\n')}\n`);
  const t0 = now();
  await sh(['bridge', '-n', ns, '-batch', join(dir, 'fdb')]);
  await sh(['ip', '-n', ns, '-batch', join(dir, 'neigh')]);
  const ms = now() - t0;
  rmSync(dir, { recursive: true, force: true });
  await run(['ip', 'netns', 'del', ns]);
  return ms;
}

const bench: Benchmark = {
  description: 'peer distribution through etcd: CreateEndpoint → reachable latency; H×E simulated peers → kernel, vs ip -batch',
  async run(args) {
    const arg = (k: string, d: string) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1]! : d; };
    const nEndpoints = Number(arg('--endpoints', '50'));
    const sizes = arg('--sizes', '20x50,50x80,100x120').split(',').map((s) => s.split('x').map(Number) as [number, number]);
    const rows: Row[] = [];
    const notes: string[] = [];
    const ratios: Record<string, number | null> = {};
    const m = await MultiHostLab.create(2, { leaseTtl: 10 });
    try {
      const [h1, h2] = m.hosts as [NonNullable<typeof m.hosts[0]>, NonNullable<typeof m.hosts[0]>];
      // latency
      const n1 = await createNetwork(h1.socket, '198.19.200.0/24');
      const n2 = await createNetwork(h2.socket, '198.19.200.0/24');
      const pinger = await createEndpoint(m.lab, h1, n1, 'lp');
      const ns1 = `wf-ov-${h1.instance}-${n1.id.slice(0, 12)}`;
      const prog: number[] = [];
      const reach: number[] = [];
      for (let i = 0; i < nEndpoints; i++) {
        const addr = String((await call(h2.socket, 'IpamDriver.RequestAddress', { PoolID: n2.poolId, Address: '', Options: {} })).Address);
        const ip = addr.split('/')[0]!;
        const id = randomId();
        const ctr = await m.lab.netns(`le${i}`);
        const t0 = now();
        let programmedAt = 0;
        const poll = (async () => {
          while (now() - t0 < 10_000) {
            if ((await readKernelPeers(ns1)).neigh.has(ip)) return void (programmedAt = now());
            await new Promise((r) => setTimeout(r, 1));
          }
        })();
        await call(h2.socket, 'NetworkDriver.CreateEndpoint', { NetworkID: n2.id, EndpointID: id, Interface: { Address: addr, AddressIPv6: '', MacAddress: '' }, Options: {} });
        const join = await call(h2.socket, 'NetworkDriver.Join', { NetworkID: n2.id, EndpointID: id, SandboxKey: `/var/run/netns/${ctr}`, Options: {} });
        const src = String((join.InterfaceName as { SrcName: string }).SrcName);
        await sh(['ip', '-n', h2.host.netns, 'link', 'set', src, 'netns', ctr]);
        await sh(['ip', '-n', ctr, '-batch', '-'], { input: `link set ${src} name eth0\naddr add ${addr} dev eth0\nlink set eth0 up\n` });
        await poll;
        while (!(await pings(pinger.netns, ip, 1, 1))) if (now() - t0 > 20_000) throw new Error(`${ip} never answered`);
        reach.push(now() - t0);
        prog.push(programmedAt ? programmedAt - t0 : NaN);
      }
      const p = (v: number[], q: number) => Math.round(percentile(v, q) * 10) / 10;
      rows.push({ section: 'latency', endpoints: nEndpoints, what: 'CreateEndpoint → peer in h1 kernel', p50_ms: p(prog, 50), p99_ms: p(prog, 99), max_ms: p(prog, 100) });
      rows.push({ section: 'latency', endpoints: nEndpoints, what: 'CreateEndpoint → first ping from h1', p50_ms: p(reach, 50), p99_ms: p(reach, 99), max_ms: p(reach, 100) });
      ratios.latency_p99_vs_100ms_goal = ratio(100, percentile(reach, 99));
      notes.push('first-ping time includes Join, moving the link into its namespace and configuring it (what Docker does), and spawning busybox ping (a few ms per try)');

      // scale
      const pid = await daemonPid(h1.host.netns);
      const big = await createNetwork(h1.socket, '198.19.64.0/18');
      const nsBig = `wf-ov-${h1.instance}-${big.id.slice(0, 12)}`;
      for (const [hosts, perHost] of sizes) {
        const total = hosts * perHost;
        const rss0 = rssKiB(pid);
        const t = runWriter(m.ul, [String(hosts), String(perHost), big.id, 'write']);
        let converged = NaN;
        const wall0 = Date.now();
        while (Date.now() - wall0 < 120_000) {
          const k = await readKernelPeers(nsBig);
          if (k.fdb.size >= total && k.neigh.size >= total) {
            converged = Date.now();
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        const w = await t;
        const rss1 = rssKiB(pid);
        const weftMs = converged - w.endpointsStart!;
        const batchMs = await ipBatch(m, total);
        rows.push({
          section: 'scale', hosts, endpoints_per_host: perHost, peers: total,
          write_ms: w.endpointsDone! - w.endpointsStart!, weft_converge_ms: weftMs, after_last_write_ms: converged - w.endpointsDone!,
          ip_batch_ms: Math.round(batchMs), rss_growth_kib: rss1 - rss0, rss_kib: rss1,
        });
        ratios[`scale_${total}_vs_ip_batch`] = ratio(batchMs, weftMs);
        await runWriter(m.ul, [String(hosts), String(perHost), big.id, 'clear']);
        await new Promise((r) => setTimeout(r, 2000));
      }
      notes.push('scale: weft_converge_ms runs from the first endpoint write to etcd to the last entry in the kernel, so it includes etcd write throughput (write_ms); after_last_write_ms is what weft adds after the writer finished');
    } finally {
      await m.destroy();
    }
    return { rows, ratios, notes };
  },
};

export default bench;

if (process.argv[2] === '--writer') {
  const [hosts, perHost, networkId, mode] = process.argv.slice(3);
  writer(Number(hosts), Number(perHost), networkId!, mode === 'clear').then(() => process.exit(0), (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
