/**
 * Operator repair (`weft endpoint rm`, `weft network rm`): removes what
 * weft still holds after Docker forgot it. The running daemon does the work
 * through its plugin socket (the calls Docker itself would make), so the
 * journal keeps one writer; `--dry-run` only prints the calls.
 */
import type { EndpointRecord, NetworkRecord } from '../cnm/model.js';
import type { PoolRecord } from '../cnm/ipam.js';
import { containsAddress, ipToBigint, parseCidr } from '../cnm/cidr.js';
import { InvalidArgumentError, NotFoundError, RepairError } from '../errors.js';
import { postUnixJson } from '../io/unix-http.js';
import { DEFAULTS } from '../daemon/daemon.js';
import { readEndpoints, readNetworks, readState, type StateArgs } from './state.js';

export interface RepairArgs {
  socket: string;
  dryRun: boolean;
  rest: string[];
}

/** Pulls --socket and --dry-run out of args. */
export function repairArgs(args: string[]): RepairArgs {
  const out: RepairArgs = { socket: DEFAULTS.socket, dryRun: false, rest: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--dry-run') out.dryRun = true;
    else if (a === '--socket') {
      const v = args[++i];
      if (!v) throw new InvalidArgumentError('--socket needs a path');
      out.socket = v;
    } else out.rest.push(a);
  }
  return out;
}

interface Call {
  path: string;
  body: Record<string, string>;
}

function unique<T extends { id: string }>(all: T[], target: string | undefined, what: string): T {
  if (!target) throw new InvalidArgumentError(`${what} rm needs an ID (or a unique prefix)`);
  const m = all.filter((x) => x.id.startsWith(target));
  if (m.length === 0) throw new NotFoundError(`no weft ${what} ${target}`);
  if (m.length > 1) throw new InvalidArgumentError(`${target} matches ${m.length} ${what}s; give more of the ID`);
  return m[0]!;
}

async function addressCalls(s: StateArgs, ep: EndpointRecord): Promise<Call[]> {
  const pools = [...(await readState(s, 'ipam/pools/')).values()].map((v) => JSON.parse(v) as PoolRecord);
  const calls: Call[] = [];
  for (const a of [ep.address, ep.addressV6]) {
    if (!a) continue;
    const { value, v6 } = ipToBigint(a.split('/')[0]!);
    const pool = pools.find((p) => p.v6 === v6 && containsAddress(parseCidr(p.pool), value));
    if (pool) calls.push({ path: '/IpamDriver.ReleaseAddress', body: { PoolID: pool.id, Address: a.split('/')[0]! } });
  }
  return calls;
}

async function endpointCalls(s: StateArgs, ep: EndpointRecord): Promise<Call[]> {
  return [{ path: '/NetworkDriver.DeleteEndpoint', body: { NetworkID: ep.networkId, EndpointID: ep.id } }, ...(await addressCalls(s, ep))];
}

async function perform(r: RepairArgs, calls: Call[], json: boolean): Promise<number> {
  for (const c of calls) {
    if (r.dryRun) {
      process.stdout.write(json ? `${JSON.stringify({ dryRun: true, ...c })}\n` : `would call ${c.path} ${JSON.stringify(c.body)}\n`);
      continue;
    }
    const res = await postUnixJson(r.socket, c.path, c.body);
    if (res.status !== 200) throw new RepairError(`${c.path} failed: ${String(res.body.Err ?? `HTTP ${res.status}`)}`);
    if (!json) process.stdout.write(`${c.path} ${JSON.stringify(c.body)}: done\n`);
  }
  if (json && !r.dryRun) process.stdout.write(`${JSON.stringify({ done: calls })}\n`);
  return 0;
}

export async function removeEndpoint(s: StateArgs, r: RepairArgs, target: string | undefined, json: boolean): Promise<number> {
  const ep = unique(await readEndpoints(s), target, 'endpoint');
  return perform(r, await endpointCalls(s, ep), json);
}

export async function removeNetwork(s: StateArgs, r: RepairArgs, target: string | undefined, json: boolean): Promise<number> {
  const n: NetworkRecord = unique(await readNetworks(s), target, 'network');
  const eps = (await readEndpoints(s)).filter((e) => e.networkId === n.id && !e.ingress);
  const calls = (await Promise.all(eps.map((e) => endpointCalls(s, e)))).flat();
  calls.push({ path: '/NetworkDriver.DeleteNetwork', body: { NetworkID: n.id } });
  return perform(r, calls, json);
}
