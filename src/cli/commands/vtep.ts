/**
 * weft vtep run: options in src/cli/verbs.ts (weft vtep --help). Runs a userspace VTEP until SIGINT/SIGTERM,
 * then removes its TAP and prints its counters (JSON with --json).
 *
 * `--peer ADDR` is a head-end replication entry, like the kernel's
 * `bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst ADDR`: datagrams from
 * ADDR are admitted and broadcast, multicast and unknown-unicast frames are
 * copied to it. `--bum drop` keeps the admission and stops the copies.
 *
 * --workers N: data-path threads (default one per CPU, at most 4); with 2+
 * the TAP is multi-queue and every worker has its own SO_REUSEPORT socket.
 *
 * --tunnel-offload: unicast super-frames leave through an underlay TAP as
 * UDP-tunnel GSO packets (src/dataplane/vtep-tunnel.ts); where the kernel
 * cannot, the socket path runs and the start line says why.
 */
import { InvalidArgumentError } from '../../errors.js';
import { MAX_WORKERS, UserspaceVtep, defaultWorkers, parsePair, type UserspaceVtepOptions } from '../../dataplane/vtep-runtime.js';
import { registerVtepMetrics } from '../../dataplane/vtep-metrics.js';
import { commonFlags, intArg } from '../args.js';
import { helpText, parseFlags, str } from '../flags.js';
import { flagsOf, verb } from '../verbs.js';

export const summary = 'userspace VXLAN endpoint on a TAP device (run)';

export function parseRunArgs(rest: string[], netns: string | undefined): UserspaceVtepOptions {
  const p = parseFlags(flagsOf('vtep'), rest);
  if (p.positionals.length) throw new InvalidArgumentError(`unknown argument ${JSON.stringify(p.positionals[0])}`);
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>();
  const bools = new Set<string>();
  for (const [k, v] of p.values) {
    if (Array.isArray(v)) multi.set(`--${k}`, v);
    else if (typeof v === 'string') single.set(`--${k}`, v);
    else bools.add(`--${k}`);
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
    workers: single.has('--workers') ? intArg('--workers', single.get('--workers'), 1, MAX_WORKERS) : defaultWorkers(),
  };
  if (bools.has('--tunnel-offload')) opts.tunnelOffload = true;
  if (single.has('--underlay-tap')) {
    if (!opts.tunnelOffload) throw new InvalidArgumentError('--underlay-tap needs --tunnel-offload');
    opts.underlayTap = single.get('--underlay-tap')!;
  }
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
    process.stdout.write(helpText(verb('vtep')!));
    return rest[0] === undefined ? 2 : 0;
  }
  if (rest[0] !== 'run') throw new InvalidArgumentError('usage: weft vtep run --tap NAME --vni N --local ADDR [options] (weft vtep --help)');
  const opts = parseRunArgs(rest.slice(1), netns);
  const metricsAt = str(parseFlags(flagsOf('vtep'), rest.slice(1)), 'metrics');
  const vtep = await UserspaceVtep.open(opts);
  let control: { close(): Promise<void> } | undefined;
  if (metricsAt !== undefined) {
    registerVtepMetrics(() => vtep.stats().counters);
    const { ControlServer, parseListenAddress } = await import('../../daemon/control.js');
    control = await ControlServer.listen([parseListenAddress(metricsAt)], {
      beforeScrape: async () => undefined,
      health: async () => ({ ok: true }),
      status: async () => vtep.stats(),
    });
  }
  if (!json) {
    const { offload } = vtep.stats();
    const tunnel = offload.underlayTap !== undefined ? `, tunnel offload through ${offload.underlayTap}` : offload.tunnelUnavailable !== undefined ? `, no tunnel offload (${offload.tunnelUnavailable})` : '';
    process.stderr.write(`vtep: ${vtep.tapName} (${vtep.tapMac}) vni ${opts.vni} on ${opts.local}:${opts.port ?? 4789}, ${vtep.workers} worker(s)${tunnel}; Ctrl-C to stop\n`);
  }
  const signal = await new Promise<string>((resolve) => {
    const stop = (s: string) => resolve(s);
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await control?.close();
  const stats = vtep.stats();
  await vtep.close();
  if (json) process.stdout.write(`${JSON.stringify({ signal, ...stats })}\n`);
  else {
    const nonzero = Object.entries(stats.counters).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`);
    const proxy = Object.entries(stats.proxy).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`);
    process.stdout.write(`vtep ${stats.tap} stopped (${signal}): ${nonzero.join(' ') || 'no traffic'}${proxy.length ? `; proxy ${proxy.join(' ')}` : ''}\n`);
  }
  return 0;
}
