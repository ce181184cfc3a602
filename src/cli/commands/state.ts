/**
 * `weft state check [--state-dir DIR] [--instance NAME] [--json]`: is the
 * state journal intact, torn at its tail (repaired at start), or damaged
 * (start refused); which kernel objects of this instance exist.
 * `weft state recover [--state-dir DIR] [--instance NAME] [--socket PATH]
 *  [--docker-socket PATH] [--host NAME] [--without-docker]`: rebuilds the journal from its
 * intact records, Docker's view and the kernel, keeping the damaged file as
 * `state.journal.damaged-<time>` (docs/state.md). Run with the daemon stopped.
 */
import { basename } from 'node:path';
import { DEFAULTS } from '../../daemon/daemon.js';
import { checkState, recoverState } from '../../daemon/state-recover.js';
import { InvalidArgumentError } from '../../errors.js';
import { commonFlags } from '../args.js';

export const summary = 'check or rebuild the state journal: check, recover';

interface Opts {
  stateDir: string;
  instance: string;
  socket: string;
  dockerSocket: string;
  host?: string;
  withoutDocker: boolean;
}

function parse(args: string[]): Opts {
  const o: Opts = { stateDir: DEFAULTS.stateDir, instance: '', socket: DEFAULTS.socket, dockerSocket: '/var/run/docker.sock', withoutDocker: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--without-docker') {
      o.withoutDocker = true;
      continue;
    }
    const v = args[++i];
    if (v === undefined || v.startsWith('--')) throw new InvalidArgumentError(`${a} needs a value`);
    switch (a) {
      case '--state-dir': o.stateDir = v; break;
      case '--instance': o.instance = v; break;
      case '--socket': o.socket = v; break;
      case '--docker-socket': o.dockerSocket = v; break;
      case '--host': o.host = v; break;
      default: throw new InvalidArgumentError(`unknown option ${a} (see: weft state check|recover --state-dir DIR --instance NAME --socket PATH --docker-socket PATH --host NAME --without-docker)`);
    }
  }
  return o;
}

export async function run(args: string[]): Promise<number> {
  const { json, rest } = commonFlags(args);
  const [verb, ...more] = rest;
  const o = parse(more);
  if (verb === 'check') {
    const r = await checkState(o.stateDir, o.instance);
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      process.stdout.write(`journal ${r.path}: ${r.status}, ${r.records} intact record(s)${r.tornBytes ? `, torn tail of ${r.tornBytes} byte(s) (cut at start)` : ''}\n`);
      if (r.damage) process.stdout.write(`damage at byte ${r.damage.offset}: weft will not start; run 'weft state recover --state-dir ${o.stateDir}'\n`);
      process.stdout.write(`kernel objects of this instance: ${r.kernelObjects.length ? r.kernelObjects.join(' ') : 'none'}\n`);
      if (!r.damage && !r.startable) process.stdout.write(`the journal is ${r.status} but the kernel has this instance's objects: weft will not start; run 'weft state recover --state-dir ${o.stateDir}'\n`);
    }
    return r.startable ? 0 : 1;
  }
  if (verb === 'recover') {
    const r = await recoverState({ stateDir: o.stateDir, instance: o.instance, dockerSocket: o.dockerSocket, driver: basename(o.socket, '.sock'), withoutDocker: o.withoutDocker, ...(o.host ? { host: o.host } : {}) });
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      if (r.dockerError) process.stdout.write(`warning: Docker's view unavailable (${r.dockerError}); kept only the intact records\n`);
      process.stdout.write(`rewrote ${r.path}: kept ${r.kept} intact key(s); rebuilt ${r.rebuilt.networks.length} network(s), ${r.rebuilt.endpoints.length} endpoint(s), ${r.rebuilt.pools.length} pool(s), ${r.rebuilt.addresses} address(es)${r.backup ? `; damaged file kept as ${r.backup}` : ''}\n`);
    }
    return 0;
  }
  throw new InvalidArgumentError(`weft state needs a verb: check or recover, got ${JSON.stringify(verb ?? '')}`);
}
