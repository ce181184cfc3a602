/**
 * The ingress routing mesh of one host: every service's published ports
 * are open on this host and balanced over all the service's backends,
 * wherever they run. The daemon drives it:
 *
 *   const mesh = await Mesh.open({ netns, backend: 'auto', hostIndex, peers, stateFile });
 *   await mesh.upsertService({ name, network, ports: [parsePublish('8080:80/tcp')] });
 *   await mesh.setBackends(name, [{ address: '10.0.0.5', host: 2 }, ...]);  // on every endpoint change
 *   await mesh.removeService(name);
 *   await mesh.setPeers(hostIndex, peers);                                   // on host join/leave
 *
 * Every call makes the kernel match the whole desired state (level
 * triggered), so repeating a call or calling reconcile() after someone
 * flushed the ruleset is safe. The dataplane is IPVS when the kernel has it
 * (probed through the generic netlink family "IPVS"), else nftables;
 * `backend: 'ipvs' | 'nft'` overrides the probe.
 */
import { removeStaleTemps, writeFileAtomic } from '../io/atomic-file.js';
import { readTextFile } from '../io/files.js';
import { FamilyNotFoundError, InvalidArgumentError, MeshStateError, NotFoundError } from '../errors.js';
import { openGenl, resolveFamily } from '../netlink/genl.js';
import { IpvsMeshDataplane } from './mesh-ipvs.js';
import {
  type MeshBackendAddr, type MeshDataplane, type MeshPeer, type MeshService, type MeshState, NFT_SCHEDULERS,
  type ServiceSpec, assignMarks, validateBackend, validatePeers, validateService,
} from './mesh-model.js';
import { clearMeshRouting, syncMeshRouting } from './mesh-routing.js';
import { NftMeshDataplane } from './nft-mesh.js';
import { writeSysctls } from '../io/sysctl.js';

export * from './mesh-model.js';

export type MeshBackendKind = 'ipvs' | 'nft';

export interface MeshOptions {
  netns?: string;
  /** 'auto' (default) probes for IPVS. */
  backend?: MeshBackendKind | 'auto';
  hostIndex?: number;
  peers?: MeshPeer[];
  /** JSON file holding the desired state (temp + fsync + rename). */
  stateFile?: string;
  /** Skip writing net.ipv4.ip_forward=1 (the caller manages forwarding). */
  keepForwarding?: boolean;
}

/** 'ipvs' when the kernel (in that namespace) has the IPVS genl family, else 'nft'. */
export async function probeMeshBackend(netns?: string): Promise<MeshBackendKind> {
  const client = openGenl(netns === undefined ? {} : { netns });
  try {
    await resolveFamily(client, 'IPVS');
    return 'ipvs';
  } catch (err) {
    if (err instanceof FamilyNotFoundError) return 'nft';
    throw err;
  } finally {
    client.close();
  }
}

interface StateFileV1 {
  version: 1;
  backend?: MeshBackendKind;
  hostIndex: number;
  peers: MeshPeer[];
  services: MeshService[];
}

export function loadMeshState(path: string): StateFileV1 | undefined {
  removeStaleTemps(path);
  let text: string;
  try {
    text = readTextFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MeshStateError(path, (err as Error).message);
  }
  let data: StateFileV1;
  try {
    data = JSON.parse(text) as StateFileV1;
  } catch {
    throw new MeshStateError(path, 'not valid JSON');
  }
  if (data?.version !== 1 || !Array.isArray(data.services)) throw new MeshStateError(path, `unknown format version ${JSON.stringify(data?.version)}`);
  return data;
}

function saveMeshState(path: string, data: StateFileV1): void {
  writeFileAtomic(path, `${JSON.stringify(data, null, 1)}\n`, 0o600);
}

export class Mesh {
  #state: MeshState;
  #queue: Promise<unknown> = Promise.resolve();
  #routedPeers = new Set<number>();

  private constructor(
    readonly netns: string | undefined,
    readonly dataplane: MeshDataplane,
    state: MeshState,
    readonly stateFile: string | undefined,
  ) {
    this.#state = state;
  }

  /** Opens the mesh, loads the state file if any and reconciles the kernel with it. */
  static async open(opts: MeshOptions = {}): Promise<Mesh> {
    const saved = opts.stateFile ? loadMeshState(opts.stateFile) : undefined;
    const hostIndex = opts.hostIndex ?? saved?.hostIndex ?? 0;
    const peers = opts.peers ?? saved?.peers ?? [];
    validatePeers(hostIndex, peers);
    let kind = opts.backend && opts.backend !== 'auto' ? opts.backend : undefined;
    kind ??= await probeMeshBackend(opts.netns);
    const dataplane: MeshDataplane = kind === 'ipvs' ? await IpvsMeshDataplane.open(opts.netns) : new NftMeshDataplane(opts.netns);
    const mesh = new Mesh(opts.netns, dataplane, { hostIndex, peers, services: saved?.services ?? [] }, opts.stateFile);
    try {
      if (!opts.keepForwarding) await writeSysctls(opts.netns, { 'net.ipv4.ip_forward': 1 });
      await mesh.reconcile();
    } catch (err) {
      dataplane.close();
      throw err;
    }
    return mesh;
  }

  get backend(): MeshBackendKind {
    return this.dataplane.kind;
  }

  get hostIndex(): number {
    return this.#state.hostIndex;
  }

  services(): MeshService[] {
    return structuredClone(this.#state.services);
  }

  service(name: string): MeshService | undefined {
    const s = this.#state.services.find((x) => x.name === name);
    return s && structuredClone(s);
  }

  /** Serializes changes; a failed change leaves the previous state in force. */
  #change<T>(fn: (next: MeshState) => T): Promise<T> {
    const run = this.#queue.then(async () => {
      const prev = this.#state;
      const next = structuredClone(prev);
      const result = fn(next);
      this.#state = next;
      try {
        await this.#apply();
      } catch (err) {
        this.#state = prev;
        await this.#apply().catch(() => {});
        throw err;
      }
      return result;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #apply(): Promise<void> {
    if (this.dataplane.kind === 'nft') {
      for (const s of this.#state.services) {
        if (!NFT_SCHEDULERS.includes(s.scheduler)) throw new InvalidArgumentError(`scheduler ${s.scheduler} needs the ipvs mesh backend`);
      }
    }
    await this.dataplane.sync(this.#state);
    const wanted = new Set(this.#state.peers.map((p) => p.index).filter((i) => i !== this.#state.hostIndex));
    const gone = [...this.#routedPeers].filter((i) => !wanted.has(i));
    const preserve = this.#state.services.some((s) => s.mode === 'preserve-source');
    if (preserve || gone.length) {
      await syncMeshRouting(this.netns, this.#state.hostIndex, preserve ? this.#state.peers : [], preserve ? gone : [...this.#routedPeers]);
      this.#routedPeers = preserve ? wanted : new Set();
    }
    if (this.stateFile) {
      saveMeshState(this.stateFile, { version: 1, backend: this.dataplane.kind, ...this.#state });
    }
  }

  /** Re-applies the whole desired state (after a restart or a foreign flush). */
  reconcile(): Promise<void> {
    return this.#change(() => undefined);
  }

  /** Creates or updates a service; its backends stay. Ports must not clash with another service's. */
  upsertService(spec: ServiceSpec): Promise<MeshService> {
    validateService(spec);
    return this.#change((next) => {
      for (const other of next.services) {
        if (other.name === spec.name) continue;
        for (const p of spec.ports) {
          if (other.ports.some((q) => q.published === p.published && q.protocol === p.protocol)) {
            throw new InvalidArgumentError(`port ${p.published}/${p.protocol} is already published by service ${other.name}`);
          }
        }
      }
      const i = next.services.findIndex((s) => s.name === spec.name);
      const prev = i >= 0 ? next.services[i] : undefined;
      const used = new Set(next.services.filter((s) => s.name !== spec.name).flatMap((s) => s.marks));
      const svc: MeshService = {
        name: spec.name, network: spec.network, ports: spec.ports.map((p) => ({ ...p })),
        mode: spec.mode ?? prev?.mode ?? 'masquerade', scheduler: spec.scheduler ?? prev?.scheduler ?? 'rr',
        marks: assignMarks(used, spec.ports, prev), backends: prev?.backends ?? [],
        ...(spec.vip ?? prev?.vip ? { vip: (spec.vip ?? prev?.vip)! } : {}),
      };
      if (i >= 0) next.services[i] = svc;
      else next.services.push(svc);
      return structuredClone(svc);
    });
  }

  /** Replaces a service's backends (deduplicated by address). */
  setBackends(name: string, backends: MeshBackendAddr[]): Promise<void> {
    backends.forEach(validateBackend);
    return this.#change((next) => {
      const svc = next.services.find((s) => s.name === name);
      if (!svc) throw new NotFoundError(`no service ${JSON.stringify(name)}`);
      const byAddr = new Map<string, MeshService['backends'][number]>();
      for (const b of backends) byAddr.set(b.address, { address: b.address, weight: b.weight ?? 1, ...(b.host !== undefined ? { host: b.host } : {}) });
      svc.backends = [...byAddr.values()];
    });
  }

  async addBackend(name: string, backend: MeshBackendAddr): Promise<void> {
    const svc = this.service(name);
    if (!svc) throw new NotFoundError(`no service ${JSON.stringify(name)}`);
    await this.setBackends(name, [...svc.backends.filter((b) => b.address !== backend.address), backend]);
  }

  async removeBackend(name: string, address: string): Promise<void> {
    const svc = this.service(name);
    if (!svc) throw new NotFoundError(`no service ${JSON.stringify(name)}`);
    await this.setBackends(name, svc.backends.filter((b) => b.address !== address));
  }

  /** Removes a service; removing a missing one is not an error. */
  removeService(name: string): Promise<boolean> {
    return this.#change((next) => {
      const before = next.services.length;
      next.services = next.services.filter((s) => s.name !== name);
      return next.services.length !== before;
    });
  }

  setPeers(hostIndex: number, peers: MeshPeer[]): Promise<void> {
    validatePeers(hostIndex, peers);
    return this.#change((next) => {
      next.hostIndex = hostIndex;
      next.peers = peers.map((p) => ({ ...p }));
    });
  }

  /** Removes every rule, IPVS service and route the mesh installed (the state file stays). */
  async destroy(): Promise<void> {
    await this.#queue;
    await this.dataplane.teardown();
    if (this.#routedPeers.size) await clearMeshRouting(this.netns, [...this.#routedPeers]);
    this.#routedPeers.clear();
  }

  close(): void {
    this.dataplane.close();
  }
}
