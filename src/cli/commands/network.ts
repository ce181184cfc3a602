/**
 * `weft network ls|inspect [ID|prefix] [--json] [--state-dir DIR] [--store URL]`;
 * `weft network rm ID [--dry-run] [--socket PATH]` (operator repair, cli/repair.ts).
 * With a shared (etcd) store, inspect also takes a Docker network ID from any
 * host or a `weft.network` name, and lists the hosts taking part: Docker
 * members (`netids/`), hosts with endpoints, and whether each is live.
 */
import { InvalidArgumentError, NotFoundError } from '../../errors.js';
import type { EndpointRecord, NetworkRecord } from '../../cnm/model.js';
import { bridgeOf, isEncrypted, names } from '../../cnm/model.js';
import { commonFlags } from '../args.js';
import { readEndpoints, readNetworks, readState, stateArgs } from '../state.js';
import { removeNetwork, repairArgs } from '../repair.js';
import { RING_KEY, parseRing, ringStatus } from '../../control/overlay-security.js';

export const summary = 'list and inspect the networks weft manages: ls, inspect ID; remove one Docker forgot: rm ID [--dry-run]';

function row(n: NetworkRecord, eps: EndpointRecord[]): string {
  const subnets = [...n.ipv4, ...n.ipv6Subnets].map((s) => s.pool).join(',') || '-';
  const hosts = [...new Set(eps.map((e) => e.host ?? '-'))].join(',') || '-';
  return [n.id.slice(0, 12), n.mode.padEnd(8), String(n.vni ?? '-').padEnd(8), String(n.mtu).padEnd(5), subnets.padEnd(20), String(eps.length).padEnd(9), hosts].join('  ');
}

export function inspectJson(n: NetworkRecord, eps: EndpointRecord[]): Record<string, unknown> {
  return {
    ...n,
    kernel: n.mode === 'overlay' ? { netns: names.overlayNetns(n.id), bridge: 'br0', vxlan: 'vxlan0' } : n.mode === 'bridge' ? { bridge: bridgeOf(n) } : { parent: n.parent },
    hosts: [...new Set(eps.map((e) => e.host ?? 'local'))],
    endpoints: eps,
  };
}

export async function run(args: string[]): Promise<number> {
  const { json, rest: r0 } = commonFlags(args);
  const r = repairArgs(r0);
  const s = stateArgs(r.rest);
  const [verb = 'ls', target] = s.rest;
  if (verb === 'rm') return removeNetwork(s, r, target, json);
  const networks = await readNetworks(s);
  const endpoints = await readEndpoints(s);
  const of = (n: NetworkRecord) => endpoints.filter((e) => e.networkId === n.id);
  switch (verb) {
    case 'ls':
    case 'list':
      if (json) process.stdout.write(`${JSON.stringify(networks.map((n) => inspectJson(n, of(n))))}\n`);
      else {
        process.stdout.write(`${['NETWORK ID  ', 'MODE    ', 'VNI     ', 'MTU  ', 'SUBNETS             ', 'ENDPOINTS', 'HOSTS'].join('  ')}\n`);
        for (const n of networks) process.stdout.write(`${row(n, of(n))}\n`);
      }
      return 0;
    case 'inspect': {
      if (!target) throw new InvalidArgumentError('network inspect needs a network ID (or a unique prefix)');
      const shared = s.store.startsWith('etcd');
      const members = shared ? [...(await readState(s, 'netids/'))].map(([k, v]) => ({ dockerId: k.slice('netids/'.length), ...(JSON.parse(v) as { network: string; host: string }) })) : [];
      const alias = members.find((m) => m.dockerId.startsWith(target))?.network;
      const matches = networks.filter((n) => n.id.startsWith(target) || n.id === alias || n.options['weft.network'] === target);
      if (matches.length === 0) throw new NotFoundError(`no weft network ${target}`);
      if (matches.length > 1) throw new InvalidArgumentError(`${target} matches ${matches.length} networks; give more of the ID`);
      const out = inspectJson(matches[0]!, of(matches[0]!));
      // Whether traffic is encrypted, the primary key's tag and age: never key bytes.
      const ringText = isEncrypted(matches[0]!.options) ? (await readState(s, 'encryption/')).get(RING_KEY) : undefined;
      out.encryption = isEncrypted(matches[0]!.options) ? ringStatus(ringText ? parseRing(ringText) : undefined) : { encrypted: false };
      if (shared) {
        const live = new Set([...(await readState(s, 'hosts/')).values()].map((v) => (JSON.parse(v) as { name: string }).name));
        const mine = members.filter((m) => m.network === matches[0]!.id);
        const names = [...new Set([...mine.map((m) => m.host), ...(out.hosts as string[])])].sort();
        out.members = mine;
        out.hosts = names.map((h) => ({ name: h, live: live.has(h), dockerIds: mine.filter((m) => m.host === h).map((m) => m.dockerId), endpoints: of(matches[0]!).filter((e) => e.host === h).length }));
      }
      process.stdout.write(`${JSON.stringify(out, null, json ? 0 : 2)}\n`);
      return 0;
    }
    default:
      throw new InvalidArgumentError(`unknown network verb '${verb}' (ls, inspect)`);
  }
}
