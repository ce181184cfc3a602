/**
 * Ingress mesh: new TCP connections per second and per-connection latency
 * through a host's published port vs straight to the backend, and the time
 * to re-program a service with 1,000 backends. nftables runs on this host's
 * kernel; IPVS (and nftables again, for a same-kernel comparison) run in
 * the kernel-lab VM, where everything is ~15x slower under TCG, so compare
 * the VM's ratios, not its absolute numbers, with the host's.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Benchmark, type BenchResult, type Row, median, percentile, ratio, timeMs } from './lib.js';
import { Mesh, parsePublish } from '../src/dataplane/mesh.js';
import { sh } from '../test/support/exec.js';
import { connectMany, createMeshLab } from '../test/integration/mesh-lab.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function measure(kind: 'nft' | 'ipvs', where: string, conns: number, conc: number): Promise<Row[]> {
  const ml = await createMeshLab(1, [80]);
  try {
    const h = ml.hosts[0]!;
    await sh(['ip', '-n', ml.client.netns, 'route', 'add', '198.19.0.0/16', 'via', h.address]);
    const mesh = await Mesh.open({ netns: h.netns, backend: kind, hostIndex: 1, peers: [{ index: 1, address: h.address }] });
    try {
      await mesh.upsertService({ name: 'web', network: 'ingress', ports: [parsePublish('8080:80/tcp')] });
      await mesh.setBackends('web', [{ address: ml.backends[0]!.address }]);
      await connectMany(ml.client.netns, h.address, 8080, 50, conc); // warm up
      await connectMany(ml.client.netns, ml.backends[0]!.address, 80, 50, conc);
      const direct = await connectMany(ml.client.netns, ml.backends[0]!.address, 80, conns, conc);
      const viaMesh = await connectMany(ml.client.netns, h.address, 8080, conns, conc);
      const row = (path: string, r: typeof direct): Row => ({
        case: `${where} ${kind} ${path}`, backend: kind, path, connections: conns, concurrency: conc, failed: r.failed,
        cps: Math.round((conns / r.ms) * 1000), median_ms: Math.round(median(r.lat) * 1000) / 1000, p99_ms: Math.round(percentile(r.lat, 99) * 1000) / 1000,
      });
      // 1,000 backends: one full re-programming per change (nft: one transaction; IPVS: one message per destination).
      const many = Array.from({ length: 1000 }, (_, i) => ({ address: `198.19.${100 + Math.floor(i / 250)}.${(i % 250) + 1}` }));
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        times.push(await timeMs(() => mesh.setBackends('web', i % 2 ? many.slice(1) : many)));
      }
      const update: Row = { case: `${where} ${kind} update 1000 backends`, backend: kind, path: 'update', backends: 1000, median_ms: Math.round(median(times)), max_ms: Math.round(Math.max(...times)) };
      await mesh.destroy();
      return [row('direct', direct), row('mesh', viaMesh), update];
    } finally {
      mesh.close();
    }
  } finally {
    await ml.stop();
  }
}

function summarize(rows: Row[], where: string, kind: string): Record<string, number | null> {
  const get = (path: string, key: string) => rows.find((r) => r.case === `${where} ${kind} ${path}`)?.[key] as number | undefined;
  return {
    [`${where}_${kind}_cps_vs_direct`]: ratio(get('mesh', 'cps'), get('direct', 'cps')),
    [`${where}_${kind}_latency_vs_direct`]: ratio(get('direct', 'median_ms'), get('mesh', 'median_ms')),
  };
}

const bench: Benchmark = {
  description: 'ingress mesh: new connections/s and latency through a published port vs direct; 1,000-backend update time (nft on host, IPVS+nft in the kernel-lab VM)',
  async run(args: string[]): Promise<BenchResult> {
    if (args[0] === '--inner') {
      // Inside the VM: both dataplanes on the same kernel, smaller counts (TCG).
      const rows = [...await measure('ipvs', 'vm', 400, 4), ...await measure('nft', 'vm', 400, 4)];
      return { rows, ratios: {} };
    }
    const notes: string[] = [];
    const rows = await measure('nft', 'host', 3000, 8);
    const ratios: Record<string, number | null> = { cps_vs_direct: null, ...summarize(rows, 'host', 'nft') };
    ratios.cps_vs_direct = ratios.host_nft_cps_vs_direct ?? null;
    const t0 = Date.now();
    const vm = spawnSync(join(repoRoot, 'test', 'support', 'klab', 'run.sh'), [
      `node -e 'import("./dist/bench/mesh.js").then((m) => m.default.run(["--inner"])).then((r) => console.log("@@MESH " + JSON.stringify(r)))'`,
    ], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, env: { ...process.env, KLAB_TIMEOUT: '280' } });
    const line = vm.stdout?.split('\n').find((l) => l.startsWith('@@MESH '));
    if (line) {
      const inner = JSON.parse(line.slice(7)) as BenchResult;
      rows.push(...inner.rows);
      Object.assign(ratios, summarize(rows, 'vm', 'ipvs'), summarize(rows, 'vm', 'nft'));
      notes.push(`kernel-lab VM (TCG, ~15x slower than the host) run took ${Math.round((Date.now() - t0) / 1000)} s including boot; compare ratios, not absolute figures`);
    } else {
      notes.push(`IPVS not measured: kernel-lab run failed (${vm.status ?? vm.signal}): ${(vm.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`);
    }
    notes.push('backend = dataplane; path direct = client to backend address routed through the same host without the mesh; cps = sequential-per-worker connect+read+close');
    return { rows, ratios, notes };
  },
};

export default bench;
