/**
 * `docker run --rm` start-to-exit latency on a weft overlay network vs
 * Docker's own bridge driver, same isolated dockerd, same run, alternating
 * (ratio docker_run_vs_bridge = bridge ÷ weft, latency); then plugin
 * requests per second on the socket.
 */
import { request, Agent } from 'node:http';
import { BUSYBOX, pluginSocketPath, removePluginSocket, startDocker, uniquePluginName } from '../test/support/docker.js';
import { Lab } from '../test/support/lab.js';
import { WeftDaemon } from '../test/support/weft-daemon.js';
import { type Benchmark, type Row, median, percentile, ratio, timeMs } from './lib.js';

const RUNS = 20;

async function requestsPerSecond(socket: string, seconds: number, concurrency: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = JSON.stringify({ NetworkID: 'a'.repeat(64), EndpointID: 'b'.repeat(64) });
  let done = 0;
  const deadline = Date.now() + seconds * 1000;
  const one = () => new Promise<void>((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/NetworkDriver.EndpointOperInfo', method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end(body);
  });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      await one();
      done++;
    }
  }));
  agent.destroy();
  return done / ((Date.now() - t0) / 1000);
}

const bench: Benchmark = {
  description: `docker run --rm latency, weft overlay vs Docker's bridge driver (${RUNS} runs each), and plugin requests/s`,
  async run() {
    const lab = await Lab.create();
    const driver = uniquePluginName('weft');
    const host = await lab.host('b1');
    const weft = new WeftDaemon({ netns: host.netns, socket: pluginSocketPath(driver), instance: lab.prefix });
    let docker;
    try {
      await weft.start();
      docker = await startDocker({ netns: host.netns, dns: '198.18.0.53' });
      await docker.docker(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.91.0/24', 'wbench']);
      await docker.docker(['network', 'create', '-d', 'bridge', '--subnet', '198.19.92.0/24', 'dbench']);
      const weftMs: number[] = [];
      const bridgeMs: number[] = [];
      const runOnce = (net: string) => timeMs(() => docker!.docker(['run', '--rm', '--network', net, BUSYBOX, 'true']));
      await runOnce('wbench');
      await runOnce('dbench');
      for (let i = 0; i < RUNS; i++) {
        weftMs.push(await runOnce('wbench'));
        bridgeMs.push(await runOnce('dbench'));
      }
      await docker.docker(['network', 'rm', 'wbench', 'dbench']);
      const perMethod = new Map<string, number[]>();
      for (const line of weft.log().split('\n')) {
        if (!line.includes('"plugin request"')) continue;
        const r = JSON.parse(line) as { method: string; ms: number };
        perMethod.set(r.method, [...(perMethod.get(r.method) ?? []), r.ms]);
      }
      const rps = await requestsPerSecond(weft.opts.socket, 3, 16);
      return {
        rows: <Row[]>[
          { case: 'docker run --rm (weft overlay)', median_ms: median(weftMs), p90_ms: percentile(weftMs, 90) },
          { case: 'docker run --rm (docker bridge)', median_ms: median(bridgeMs), p90_ms: percentile(bridgeMs, 90) },
          { case: 'plugin requests/s (EndpointOperInfo, 16 keep-alive clients)', requests_per_s: Math.round(rps) },
          ...[...perMethod].map(([method, ms]) => ({ case: `weft handler ${method}`, median_ms: median(ms), p90_ms: percentile(ms, 90) })),
        ],
        ratios: { docker_run_vs_bridge: ratio(median(bridgeMs), median(weftMs)) },
        notes: ['alternating runs in one isolated dockerd inside a lab namespace; weft daemon with the embedded store (fsync per change)'],
      };
    } finally {
      await docker?.stop();
      await weft.destroy();
      removePluginSocket(driver);
      await lab.destroy();
    }
  },
};
export default bench;
