/**
 * weft vtep run --netns NS --tap NAME --vni N --local ADDR [--address CIDR]
 *               [--peer ADDR]... [--fdb MAC=ADDR]... [--flood ADDR]... [--bum drop|replicate]
 *               [--proxy IP=MAC]... [--accept-unknown-peers] [--mtu N] [--mac MAC] [--port N] [--json]
 *
 * Runs a userspace VTEP until SIGINT/SIGTERM, then removes its TAP and
 * prints its counters (JSON with --json).
 */
import { InvalidArgumentError } from '../../errors.js';
import { UserspaceVtep, parsePair, type UserspaceVtepOptions } from '../../dataplane/vtep-runtime.js';
import { commonFlags, intArg } from '../args.js';

export const summary = 'userspace VXLAN endpoint on a TAP device (run)';

const SINGLE = new Set(['--tap', '--vni', '--local', '--address', '--mtu', '--mac', '--port', '--bum']);
const MULTI = new Set(['--peer', '--fdb', '--flood', '--proxy']);
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
  const opts: UserspaceVtepOptions = {
    tap,
    local,
    vni: intArg('--vni', single.get('--vni'), 1, 0xffffff),
    mtu: single.has('--mtu') ? intArg('--mtu', single.get('--mtu'), 68, 9000) : 1450,
    peers: multi.get('--peer') ?? [],
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
  if (multi.has('--flood')) opts.flood = multi.get('--flood')!;
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
  if (rest[0] !== 'run') throw new InvalidArgumentError('usage: weft vtep run --tap NAME --vni N --local ADDR [options]');
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
