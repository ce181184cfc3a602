/**
 * `weft peers ls [--store etcd://…] [--network ID] [--json]`: the hosts
 * registered in the shared store (live: their lease is held) and every
 * endpoint remote hosts program, with the VTEP it sits behind. An endpoint
 * whose host is not live is listed with `live: false`: no host programs it
 * until its host registers again.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { EndpointRecord } from '../../cnm/model.js';
import type { HostRecord } from '../../control/peer-table.js';
import { commonFlags } from '../args.js';
import { parseFlags, str } from '../flags.js';
import { flagsOf } from '../verbs.js';
import { readState, stateArgs } from '../state.js';

export const summary = 'hosts and endpoints known to the shared (etcd) store: ls';

export interface PeersView {
  hosts: (HostRecord & { endpoints: number })[];
  endpoints: { id: string; network: string; host: string; address: string; mac: string; vtep: string | null; live: boolean }[];
}

export function peersView(hostRecords: HostRecord[], endpoints: EndpointRecord[], network?: string): PeersView {
  const hosts = new Map(hostRecords.map((h) => [h.name, h]));
  const eps = endpoints.filter((e) => !network || e.networkId.startsWith(network))
    .sort((a, b) => (a.host ?? '').localeCompare(b.host ?? '') || a.id.localeCompare(b.id));
  return {
    hosts: hostRecords.sort((a, b) => a.name.localeCompare(b.name)).map((h) => ({ ...h, endpoints: eps.filter((e) => e.host === h.name).length })),
    endpoints: eps.map((e) => ({
      id: e.id, network: e.networkId, host: e.host ?? '', address: e.address ?? '', mac: e.mac,
      vtep: hosts.get(e.host ?? '')?.address ?? null, live: hosts.has(e.host ?? ''),
    })),
  };
}

export async function run(args: string[]): Promise<number> {
  const { json, rest: r1 } = commonFlags(args);
  const s = stateArgs(r1);
  const [verb = 'ls', ...more] = s.rest;
  if (verb !== 'ls' && verb !== 'list') throw new InvalidArgumentError(`unknown peers verb '${verb}' (ls)`);
  const p = parseFlags(flagsOf('peers'), more);
  if (p.positionals.length) throw new InvalidArgumentError(`unknown argument ${JSON.stringify(p.positionals[0])}`);
  const network = str(p, 'network');
  if (!s.store.startsWith('etcd')) throw new InvalidArgumentError('peers need a shared store: --store etcd://HOST:PORT (or WEFT_STORE)');
  const [hosts, eps] = await Promise.all([readState(s, 'hosts/'), readState(s, 'endpoints/')]);
  const view = peersView(
    [...hosts.values()].map((v) => JSON.parse(v) as HostRecord),
    [...eps.values()].map((v) => JSON.parse(v) as EndpointRecord),
    network,
  );
  if (json) {
    process.stdout.write(`${JSON.stringify(view)}\n`);
    return 0;
  }
  process.stdout.write('HOST              ADDRESS          ENDPOINTS  SINCE\n');
  for (const h of view.hosts) process.stdout.write(`${h.name.padEnd(16)}  ${h.address.padEnd(15)}  ${String(h.endpoints).padEnd(9)}  ${h.started}\n`);
  process.stdout.write('\nENDPOINT      NETWORK       HOST              ADDRESS             MAC                VTEP             LIVE\n');
  for (const e of view.endpoints) {
    process.stdout.write(`${e.id.slice(0, 12)}  ${e.network.slice(0, 12)}  ${e.host.padEnd(16)}  ${e.address.padEnd(18)}  ${e.mac}  ${(e.vtep ?? '-').padEnd(15)}  ${e.live ? 'yes' : 'no'}\n`);
  }
  return 0;
}
