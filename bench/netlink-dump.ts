/**
 * Link dump round trip in a namespace holding 201 links: weft's client vs
 * `ip -j -batch` (many `link show` in one process, so start-up is amortised)
 * vs pyroute2's IPRoute.get_links(), same namespace, same run.
 */
import { execFileSync } from 'node:child_process';
import { Rtnl } from '../src/netlink/rtnetlink/handle.js';
import { type Benchmark, median, ratio, timeMs } from './lib.js';

const ROUNDS = 200;
const REPEATS = 5;

function sh(args: string[], input?: string): string {
  return execFileSync(args[0]!, args.slice(1), { input, maxBuffer: 256 << 20 }).toString();
}

const bench: Benchmark = {
  description: `link dump round trip (${ROUNDS} dumps of 201 links), weft vs ip -j -batch vs pyroute2`,
  async run() {
    const ns = `wlbench${process.pid.toString(36)}`;
    sh(['ip', 'netns', 'add', ns]);
    try {
      sh(['ip', '-n', ns, '-batch', '-'], Array.from({ length: 100 }, (_, i) => `link add bv${i}a type veth peer name bv${i}b`).join('\n'));
      const rtnl = Rtnl.open({ netns: ns });
      const weft: number[] = [];
      const ip: number[] = [];
      const py: number[] = [];
      let links = 0;
      const pyScript = `
import time
from pyroute2 import NetNS
ns = NetNS('${ns}')
t0 = time.perf_counter()
for _ in range(${ROUNDS}):
    links = ns.get_links()
print((time.perf_counter() - t0) * 1000)
ns.close()`;
      for (let r = 0; r < REPEATS; r++) {
        weft.push(await timeMs(async () => {
          for (let i = 0; i < ROUNDS; i++) links = (await rtnl.links()).length;
        }));
        ip.push(await timeMs(() => sh(['ip', '-n', ns, '-j', '-batch', '-'], 'link show\n'.repeat(ROUNDS))));
        py.push(Number(sh(['/usr/bin/python3', '-c', pyScript]).trim()));
      }
      rtnl.close();
      const per = (v: number[]) => median(v) / ROUNDS;
      return {
        rows: [
          { tool: 'weft', links, ms_per_dump: per(weft), dumps_per_s: 1000 / per(weft) },
          { tool: 'ip -j -batch', links, ms_per_dump: per(ip), dumps_per_s: 1000 / per(ip) },
          { tool: 'pyroute2', links, ms_per_dump: per(py), dumps_per_s: 1000 / per(py) },
        ],
        ratios: { vs_ip: ratio(per(ip), per(weft)), vs_pyroute2: ratio(per(py), per(weft)) },
        notes: [`median of ${REPEATS} repeats; ip includes JSON printing, pyroute2 full message decoding, weft full decoding of every link`],
      };
    } finally {
      sh(['ip', 'netns', 'del', ns]);
    }
  },
};
export default bench;
