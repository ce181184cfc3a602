/**
 * weft service create NAME --network NET --publish P[:T][/tcp|udp]... [--vip IP]
 *                     [--mode masquerade|preserve-source] [--scheduler rr|wrr|random|sh|lc]
 * weft service add NAME --backend ADDR[@WEIGHT]...
 * weft service rm NAME [--backend ADDR]...
 * weft service ls [--json]
 * common: [--netns NS] [--mesh-backend ipvs|nft] [--host-index N] [--peer N=ADDR]... [--state-dir DIR]
 *
 * Persistence is deliberately simple for now: each changing invocation loads
 * <state-dir>/mesh-<netns|host>.json, opens an in-process Mesh on it (which
 * reconciles the kernel), applies the change and saves the file (temp +
 * fsync + rename). `ls` only reads the file: it changes neither the kernel
 * nor the file. The daemon will own this state later.
 */

function printServices(backend: string, hostIndex: number, services: MeshService[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ backend, hostIndex, services }, null, 1)}\n`);
    return;
  }
  process.stdout.write(`mesh backend: ${backend}\n`);
  for (const s of services) {
    const bs = s.backends.map((b) => (b.weight === 1 ? b.address : `${b.address}@${b.weight}`)).join(',') || '-';
    process.stdout.write(`${s.name}\t${s.network}\t${s.ports.map(formatPublish).join(',')}\t${s.mode}\t${s.scheduler}\t${bs}\n`);
  }
}
import { join } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { Mesh, type MeshBackendAddr, type MeshPeer, type MeshService, type ServiceSpec, formatPublish, loadMeshState, parsePublish, validateBackend, validateService } from '../../dataplane/mesh.js';
import { commonFlags, intArg } from '../args.js';
import { parseFlags } from '../flags.js';
import { flagsOf } from '../verbs.js';

export const summary = 'ingress routing mesh: published service ports balanced over backends (create|add|rm|ls)';

const DEFAULT_STATE_DIR = '/var/lib/weft';

function parse(rest: string[]): { positional: string[]; single: Map<string, string>; multi: Map<string, string[]> } {
  const p = parseFlags(flagsOf('service'), rest);
  const out = { positional: p.positionals, single: new Map<string, string>(), multi: new Map<string, string[]>() };
  for (const [k, v] of p.values) {
    if (Array.isArray(v)) out.multi.set(`--${k}`, v);
    else if (typeof v === 'string') out.single.set(`--${k}`, v);
  }
  return out;
}

function parseBackend(text: string): MeshBackendAddr {
  const m = /^([0-9.]+)(?:@(\d+))?$/.exec(text);
  if (!m) throw new InvalidArgumentError(`bad backend ${JSON.stringify(text)} (want ADDR[@WEIGHT])`);
  return m[2] === undefined ? { address: m[1]! } : { address: m[1]!, weight: Number(m[2]) };
}

function parsePeer(text: string): MeshPeer {
  const m = /^(\d+)=([0-9.]+)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`bad peer ${JSON.stringify(text)} (want INDEX=ADDRESS)`);
  return { index: Number(m[1]), address: m[2]! };
}

export async function run(args: string[]): Promise<number> {
  const { netns, json, rest } = commonFlags(args);
  const [verb, ...more] = rest;
  if (!verb || !['create', 'add', 'rm', 'ls'].includes(verb)) throw new InvalidArgumentError('usage: weft service create|add|rm|ls ...');
  const p = parse(more);
  const name = p.positional[0];
  if (verb !== 'ls' && !name) throw new InvalidArgumentError(`weft service ${verb} needs a service name`);
  if (p.positional.length > (verb === 'ls' ? 0 : 1)) throw new InvalidArgumentError(`unexpected argument ${JSON.stringify(p.positional.at(-1))}`);
  const backendFlag = p.single.get('--mesh-backend');
  if (backendFlag !== undefined && backendFlag !== 'ipvs' && backendFlag !== 'nft') throw new InvalidArgumentError('--mesh-backend must be ipvs or nft');
  const stateFile = join(p.single.get('--state-dir') ?? DEFAULT_STATE_DIR, `mesh-${netns ? netns.replaceAll('/', '_') : 'host'}.json`);
  // A backend chosen once stays chosen unless overridden again.
  const saved = loadMeshState(stateFile);
  const backend = (backendFlag as 'ipvs' | 'nft' | undefined) ?? saved?.backend ?? 'auto';
  const peers = p.multi.get('--peer')?.map(parsePeer);
  const hostIndex = p.single.has('--host-index') ? intArg('--host-index', p.single.get('--host-index'), 0, 63) : undefined;
  if (verb === 'ls') {
    printServices(saved?.backend ?? backendFlag ?? 'none', saved?.hostIndex ?? 0, saved?.services ?? [], json);
    return 0;
  }
  // Every argument is checked before the mesh is opened: bad input touches neither the kernel nor the state file.
  let spec: ServiceSpec | undefined;
  if (verb === 'create') {
    const network = p.single.get('--network');
    const ports = p.multi.get('--publish');
    if (!network || !ports) throw new InvalidArgumentError('weft service create needs --network and --publish');
    spec = { name: name!, network, ports: ports.map(parsePublish) };
    const vip = p.single.get('--vip');
    if (vip) spec.vip = vip;
    const mode = p.single.get('--mode');
    if (mode) spec.mode = mode as ServiceSpec['mode'];
    const sched = p.single.get('--scheduler');
    if (sched) spec.scheduler = sched as ServiceSpec['scheduler'];
    validateService(spec);
  }
  const backends = p.multi.get('--backend')?.map(parseBackend);
  backends?.forEach(validateBackend);
  if (verb === 'add' && !backends) throw new InvalidArgumentError('weft service add needs --backend');
  const mesh = await Mesh.open({
    backend, stateFile,
    ...(netns !== undefined ? { netns } : {}),
    ...(peers ? { peers } : {}),
    ...(hostIndex !== undefined ? { hostIndex } : {}),
  });
  try {
    switch (verb) {
      case 'create':
        await mesh.upsertService(spec!);
        break;
      case 'add':
        for (const b of backends!) await mesh.addBackend(name!, b);
        break;
      case 'rm':
        if (backends) for (const b of backends) await mesh.removeBackend(name!, b.address);
        else await mesh.removeService(name!);
        break;
    }
  } finally {
    mesh.close();
  }
  return 0;
}
