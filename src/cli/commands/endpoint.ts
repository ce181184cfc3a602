/**
 * `weft endpoint ls [--json] [--state-dir DIR] [--store URL]`;
 * `weft endpoint rm ID [--dry-run] [--socket PATH]` (operator repair, cli/repair.ts).
 */
import { InvalidArgumentError } from '../../errors.js';
import { commonFlags } from '../args.js';
import { readEndpoints, stateArgs } from '../state.js';
import { formatBinding } from '../../cnm/drivers/ports.js';
import { removeEndpoint, repairArgs } from '../repair.js';

export const summary = 'list the endpoints weft manages: ls; remove one Docker forgot: rm ID [--dry-run]';

export async function run(args: string[]): Promise<number> {
  const { json, rest } = commonFlags(args);
  const r = repairArgs(rest);
  const s = stateArgs(r.rest);
  const [verb = 'ls', target] = s.rest;
  if (verb === 'rm') return removeEndpoint(s, r, target, json);
  if (verb !== 'ls' && verb !== 'list') throw new InvalidArgumentError(`unknown endpoint verb '${verb}' (ls, rm)`);
  const eps = await readEndpoints(s);
  if (json) {
    process.stdout.write(`${JSON.stringify(eps)}\n`);
    return 0;
  }
  process.stdout.write('ENDPOINT ID   NETWORK ID    ADDRESS             MAC                LINK             HOST             PORTS\n');
  for (const e of eps) {
    // Published ports as `docker ps` prints them; Docker cannot show a remote driver's own.
    const ports = (e.ports ?? []).map(formatBinding).join(', ');
    const line = `${e.id.slice(0, 12)}  ${e.networkId.slice(0, 12)}  ${(e.address ?? e.addressV6 ?? '-').padEnd(18)}  ${e.mac}  ${e.srcName.padEnd(15)}  ${(e.host ?? '-').padEnd(15)}  ${ports}`;
    process.stdout.write(`${line.trimEnd()}\n`);
  }
  return 0;
}
