/**
 * `npm run bench -- swarm`: time from `docker service create --replicas 6
 * --endpoint-mode dnsrr` to every task reaching every other (ping), on
 * weft's managed plugin vs Docker's own overlay driver, in the same
 * three-node lab swarm (test/e2e/swarm-lab.ts). Docker's overlay uses
 * VXLAN port 4790 (`docker swarm init --data-path-port 4790`) so the two
 * coexist with weft on 4789. Rounds alternate the order (weft first, then
 * overlay first, …); each round removes its service and waits until its
 * tasks are gone. The clock runs from the CLI call to the first poll that
 * sees 6 running tasks all pinging each other (polls every 200 ms, one
 * `docker exec` per task pinging the other five). Ratio
 * `service_ready_vs_overlay` = Docker's median ÷ weft's median (above 1:
 * weft is ready sooner).
 *
 * Args: `--rounds N` (default 5).
 */
import { median, ratio, type Benchmark, type Row } from './lib.js';
import { BUSYBOX } from '../test/support/docker.js';
import { PLUGIN, SwarmLab, pingFailures, until } from '../test/e2e/swarm-lab.js';

const REPLICAS = 6;

async function serviceReady(s: SwarmLab, name: string, network: string): Promise<number> {
  const t0 = performance.now();
  await s.mgr.docker(['service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', String(REPLICAS),
    '--endpoint-mode', 'dnsrr', '--network', network, BUSYBOX, 'sleep', '100000']);
  await until(`${name}: ${REPLICAS} tasks reaching each other`, async () => {
    const tasks = await s.allTasks(`${name}.`);
    return tasks.length === REPLICAS && (await pingFailures(tasks, 1)).length === 0;
  }, 180_000, 200);
  const ms = performance.now() - t0;
  await s.mgr.docker(['service', 'rm', name]);
  await until(`${name} gone`, async () => (await s.allTasks(`${name}.`)).length === 0, 120_000);
  return ms;
}

const bench: Benchmark = {
  description: 'swarm: docker service create --replicas 6 (dnsrr) until all tasks ping each other, weft plugin vs Docker overlay',
  async run(args) {
    const i = args.indexOf('--rounds');
    const rounds = i >= 0 ? Number(args[i + 1]) : 5;
    const s = await SwarmLab.create({ swarmInitArgs: ['--data-path-port', '4790'] });
    const rows: Row[] = [];
    const notes: string[] = [];
    try {
      await s.mgr.docker(['network', 'create', '-d', PLUGIN, '--ipam-driver', PLUGIN, '--scope', 'swarm', '--subnet', '198.19.80.0/24', 'weftbench']);
      await s.mgr.docker(['network', 'create', '-d', 'overlay', '--subnet', '10.199.0.0/24', 'ovbench']);
      const times: Record<string, number[]> = { weft: [], overlay: [] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? ['weft', 'overlay'] : ['overlay', 'weft'];
        for (const driver of order) {
          const ms = await serviceReady(s, `b${driver}${r}`, driver === 'weft' ? 'weftbench' : 'ovbench');
          times[driver]!.push(ms);
          rows.push({ round: r + 1, driver, replicas: REPLICAS, ready_ms: Math.round(ms) });
        }
      }
      const w = median(times.weft!);
      const o = median(times.overlay!);
      rows.push({ round: 'median', driver: 'weft', replicas: REPLICAS, ready_ms: Math.round(w) });
      rows.push({ round: 'median', driver: 'overlay', replicas: REPLICAS, ready_ms: Math.round(o) });
      notes.push(`${rounds} interleaved rounds on one three-node lab swarm (isolated dockerds in network namespaces, 2 shared CPU cores); ` +
        'both include Docker\'s own task scheduling, container start and embedded DNS; the difference is the driver and its IPAM.');
      return { rows, ratios: { service_ready_vs_overlay: ratio(o, w) }, notes };
    } finally {
      await s.destroy();
    }
  },
};

export default bench;
