/**
 * weft vtep run: see USAGE. Runs a userspace VTEP until SIGINT/SIGTERM,
 * then removes its TAP and prints its counters (JSON with --json).
 *
 * `--peer ADDR` is a head-end replication entry, like the kernel's
 * `bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst ADDR`: datagrams from
 * ADDR are admitted and broadcast, multicast and unknown-unicast frames are
 * copied to it. `--bum drop` keeps the admission and stops the copies.
 */
import { InvalidArgumentError } from '../../errors.js';
import { UserspaceVtep, parsePair, type UserspaceVtepOptions } from '../../dataplane/vtep-runtime.js';
import { commonFlags, intArg } from '../args.js';

export const summary = 'userspace VXLAN endpoint on a TAP device (run)';

export const USAGE = `usage: weft vtep run --tap NAME --vni N --local ADDR [options]   (--netns NS, --json: as every verb)
  --peer ADDR            a remote VTEP: admit its datagrams and flood broadcast, multicast and
                         unknown unicast to it (head-end replication, like
                         'bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst ADDR'); repeatable
  --fdb MAC=ADDR         a static entry: frames for MAC go to ADDR only (ADDR is admitted); repeatable
  --bum drop|replicate   flood to the peers (replicate, the default with --peer) or not (drop:
                         unicast to --fdb entries only, as Docker's overlay)
  --accept-unknown-peers admit datagrams from any address
  --proxy IP=MAC         answer ARP/NDP for IP on the TAP with MAC; repeatable
  --address CIDR         address for the TAP      --mtu N   overlay MTU (default 1450)
  --mac MAC              the TAP's MAC            --port N  VXLAN UDP port (default 4789)`;

const SINGLE = new Set(['--tap', '--vni', '--local', '--address', '--mtu', '--mac', '--port', '--bum']);
const MULTI = new Set(['--peer', '--fdb', '--proxy']);
const BOOL = new Set(['--accept-unknown-peers']);

export function parseRunArgs(rest: string[], netns: string | undefined): UserspaceVtepOptions {
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>();
  const bools = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (BOOL.has(flag)) {
      bools.add(flag);
      continue;
    }
    if (!SINGLE.has(flag) && !MULTI.has(flag)) throw new InvalidArgumentError(`unknown argument ${JSON.stringify(a)}`);
    const v = eq > 0 ? a.slice(eq + 1) : rest[++i];
    if (v === undefined) throw new InvalidArgumentError(`${flag} needs a value`);
    if (MULTI.has(flag)) multi.set(flag, [...(multi.get(flag) ?? []), v]);
    else single.set(flag, v);
  }
  const tap = single.get('--tap');
  const local = single.get('--local');
  if (!tap || !local || !single.has('--vni')) throw new InvalidArgumentError('--tap, --vni and --local are required');
  const bum = single.get('--bum');
  if (bum !== undefined && bum !== 'drop' && bum !== 'replicate') throw new InvalidArgumentError(`--bum must be drop or replicate, got ${JSON.stringify(bum)}`);
  const peers = multi.get('--peer') ?? [];
  const opts: UserspaceVtepOptions = {
    tap,
    local,
    vni: intArg('--vni', single.get('--vni'), 1, 0xffffff),
    mtu: single.has('--mtu') ? intArg('--mtu', single.get('--mtu'), 68, 9000) : 1450,
    // A peer is admitted and flooded to: the runtime's peer and flood lists both hold it.
    peers,
    flood: peers,
    fdb: (multi.get('--fdb') ?? []).map((x) => {
      const [mac, remote] = parsePair(x, '--fdb');
      return { mac, remote };
    }),
    acceptUnknownPeers: bools.has('--accept-unknown-peers'),
  };
  if (netns !== undefined) opts.netns = netns;
  if (single.has('--address')) opts.address = single.get('--address')!;
  if (single.has('--mac')) opts.mac = single.get('--mac')!;
  if (single.has('--port')) opts.port = intArg('--port', single.get('--port'), 1, 65535);
  if (bum !== undefined) opts.bum = bum;
  if (multi.has('--proxy')) {
    opts.proxy = multi.get('--proxy')!.map((x) => {
      const [ip, mac] = parsePair(x, '--proxy');
      return { ip, mac };
    });
  }
  return opts;
}

export async function run(args: string[]): Promise<number> {
  const { netns, json, rest } = commonFlags(args);
  if (rest[0] === undefined || rest[0] === 'help' || rest[0] === '--help' || rest[1] === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return rest[0] === undefined ? 2 : 0;
  }
  if (rest[0] !== 'run') throw new InvalidArgumentError(USAGE.split('\n')[0]!);
  const opts = parseRunArgs(rest.slice(1), netns);
  const vtep = await UserspaceVtep.open(opts);
  if (!json) process.stderr.write(`vtep: ${vtep.tapName} (${vtep.tapMac}) vni ${opts.vni} on ${opts.local}:${opts.port ?? 4789}; Ctrl-C to stop\n`);
  const signal = await new Promise<string>((resolve) => {
    const stop = (s: string) => resolve(s);
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const stats = vtep.stats();
  vtep.close();
  if (json) process.stdout.write(`${JSON.stringify({ signal, ...stats })}\n`);
  else {
    const nonzero = Object.entries(stats.counters).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`);
    const proxy = Object.entries(stats.proxy).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`);
    process.stdout.write(`vtep ${stats.tap} stopped (${signal}): ${nonzero.join(' ') || 'no traffic'}${proxy.length ? `; proxy ${proxy.join(' ')}` : ''}\n`);
  }
  return 0;
}
