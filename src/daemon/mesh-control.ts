/**
 * Drives the ingress routing mesh from Docker labels (issue 10): containers
 * labelled `weft.service=NAME` and `weft.publish=8080:80[/udp][,…]` on a weft
 * network make NAME's ports published on this host, balanced over every
 * container of the service on any host. Services and backends are read from
 * the shared DNS records (the Docker name source writes `tasks.NAME` A
 * records and a `weft.publish=…` TXT record), so every host with weft
 * publishes every service. Overlay backends are reached through this host's
 * ingress leg in the overlay (an address of the network's own), so replies
 * from remote backends return over VXLAN; the mesh masquerades to it.
 */
import type { Controller } from '../cnm/controller.js';
import type { NetworkRecord } from '../cnm/model.js';
import type { DnsRecords, NameRecord } from '../dns/records.js';
import { PUBLISH_LABEL } from '../dns/docker-source.js';
import { Mesh, type MeshBackendKind } from '../dataplane/mesh.js';
import { type PublishedPort, parsePublish } from '../dataplane/mesh-model.js';
import type { Logger } from './log.js';

interface DesiredService {
  network: NetworkRecord;
  service: string;
  ports: PublishedPort[];
  backends: string[];
}

/** Mesh service names: unique per (service, network), within the mesh's 63-character names. */
const meshName = (service: string, networkId: string) => `${service.slice(0, 50)}.${networkId.slice(0, 12)}`;

/**
 * What the records say should be published (pure). `live` says whether a
 * backend record still stands for a live endpoint (its host's lease holds).
 */
export function desiredServices(records: DnsRecords, networks: Map<string, NetworkRecord>, log: Logger,
  live: (r: NameRecord) => boolean = () => true): Map<string, DesiredService> {
  const out = new Map<string, DesiredService>();
  const all = records.list();
  for (const r of all) {
    if (r.type !== 'TXT') continue;
    const network = networks.get(r.network);
    const spec = r.text.find((t) => t.startsWith(`${PUBLISH_LABEL}=`))?.slice(PUBLISH_LABEL.length + 1);
    if (!network || !spec) continue;
    let ports: PublishedPort[];
    try {
      ports = spec.split(',').map(parsePublish);
    } catch (err) {
      log({ level: 'warn', msg: 'ignoring bad weft.publish label', service: r.name, network: r.network, error: (err as Error).message });
      continue;
    }
    const name = meshName(r.name, r.network);
    const backends = all.filter((a) => a.type === 'A' && a.network === r.network && a.name === `tasks.${r.name}` && live(a))
      .map((a) => (a as { address: string }).address);
    const prev = out.get(name);
    out.set(name, { network, service: r.name, ports: prev ? mergePorts(prev.ports, ports) : ports, backends: [...new Set(backends)].sort() });
  }
  return out;
}

function mergePorts(a: PublishedPort[], b: PublishedPort[]): PublishedPort[] {
  const key = (p: PublishedPort) => `${p.published}/${p.protocol}`;
  const seen = new Map(a.map((p) => [key(p), p]));
  for (const p of b) if (!seen.has(key(p))) seen.set(key(p), p);
  return [...seen.values()];
}

export class MeshControl {
  #mesh: Mesh | undefined;
  #timer: NodeJS.Timeout;
  #version = -1;
  #running: Promise<void> = Promise.resolve();
  #published = new Set<string>();

  constructor(
    private readonly records: DnsRecords,
    private readonly controller: Controller,
    private readonly backend: MeshBackendKind | 'auto',
    private readonly log: Logger,
    /** Whether a backend record still stands for a live endpoint (multi-host: its host's lease). */
    private readonly live: (r: NameRecord) => boolean = () => true,
  ) {
    // The records index is in memory; polling its version costs nothing.
    this.#timer = setInterval(() => this.#maybeSync(), 250);
    this.#timer.unref();
  }

  get kind(): MeshBackendKind | undefined {
    return this.#mesh?.backend;
  }

  /** The services published now with their backends (for `weft status` and metrics). */
  services(): { name: string; backends: number }[] {
    return this.#mesh?.services().map((s) => ({ name: s.name, backends: s.backends.length })) ?? [];
  }

  #maybeSync(): void {
    if (this.records.version === this.#version && this.#liveVersion === this.liveVersion()) return;
    this.sync();
  }

  #liveVersion = '';
  /** Changes when the set of live hosts changes (polled with the records). */
  liveVersion: () => string = () => '';

  /** Brings the mesh in line with the records (serialised). */
  sync(): Promise<void> {
    this.#running = this.#running.then(() => this.#sync()).catch((err) => this.log({ level: 'error', msg: 'mesh sync failed', error: (err as Error).message }));
    return this.#running;
  }

  async #sync(): Promise<void> {
    this.#version = this.records.version;
    this.#liveVersion = this.liveVersion();
    const networks = new Map((await this.controller.networks()).map((n) => [n.id, n]));
    const desired = desiredServices(this.records, networks, this.log, this.live);
    if (desired.size === 0 && !this.#mesh) return;
    this.#mesh ??= await Mesh.open({ backend: this.backend });
    for (const [name, d] of desired) {
      if (d.network.mode === 'overlay') await this.controller.ensureIngress(d.network.id);
      await this.#mesh.upsertService({ name, network: d.network.id.slice(0, 12), ports: d.ports });
      await this.#mesh.setBackends(name, d.backends.map((address) => ({ address })));
      if (!this.#published.has(name)) this.log({ msg: 'service published', service: d.service, network: d.network.id, ports: d.ports, backend: this.#mesh.backend });
      this.#published.add(name);
    }
    for (const name of this.#published) {
      if (desired.has(name)) continue;
      await this.#mesh.removeService(name);
      this.#published.delete(name);
      this.log({ msg: 'service unpublished', service: name });
    }
  }

  /** Stops following; the published rules stay (traffic keeps flowing while weft is down). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    this.#mesh?.close();
  }
}
