/**
 * Reconciliation with Docker's own view (docs/state.md): Docker is the
 * authority on which networks, endpoints and addresses exist. A delete whose
 * reply was lost (weft killed mid-call) is retried by Docker with an empty
 * body, and Docker moves on whatever weft answers; so at start, after such a
 * retry and periodically, weft lists Docker's networks and releases what
 * Docker no longer has: networks (with their kernel objects and VNI),
 * endpoints, IPAM addresses and pools. Anything younger than the grace
 * period is left alone (Docker records a network or endpoint only after the
 * driver call returns).
 *
 * With a shared store (etcd) other hosts' dockerds own the rest of the
 * state, so a host judges only what its own Docker made, asking it under
 * the ID it knows each network by (an adopted global network has its own),
 * and only on networks this Docker shows (a host may hold a weft network its
 * Docker never created): its stale endpoints go, with the claim of their
 * address when that claim is not newer than the endpoint (else the address
 * went back and was handed out again); outside swarm, so do the address
 * claims its Docker made that nothing holds (a ReleaseAddress lost after its
 * DeleteEndpoint), after the longer grace. Networks and pools stay.
 */
import type { Controller } from '../cnm/controller.js';
import type { EndpointRecord } from '../cnm/model.js';
import { DockerApiError } from '../errors.js';
import { dockerGetJson } from '../io/docker-api.js';
import type { Logger } from './log.js';

interface DockerNetwork {
  Id: string;
  Driver?: string;
  Scope?: string;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> | null }[] | null };
  Containers?: Record<string, { EndpointID?: string; IPv4Address?: string; IPv6Address?: string }> | null;
}

export interface DockerView {
  /** Networks of weft's network driver, by ID: their endpoint IDs. */
  networks: Map<string, Set<string>>;
  /** Subnets of networks using weft's IPAM driver: the addresses Docker holds in each (bare IPs). */
  subnets: Map<string, Set<string>>;
}

const bare = (a: string | undefined) => (a ? a.split('/')[0]! : '');

/** The bare addresses endpoint records hold. */
const addressesOf = (eps: EndpointRecord[]) => new Set(eps.flatMap((e) => [bare(e.address), bare(e.addressV6)]).filter(Boolean));

/** Adds what Docker holds in each subnet of `n`: its containers' addresses, the gateway, the aux addresses. */
function addHeld(view: DockerView, n: DockerNetwork): void {
  const held = Object.values(n.Containers ?? {}).flatMap((c) => [bare(c.IPv4Address), bare(c.IPv6Address)]);
  for (const cfg of n.IPAM?.Config ?? []) {
    if (!cfg.Subnet) continue;
    const set = view.subnets.get(cfg.Subnet) ?? new Set<string>();
    for (const a of [...held, bare(cfg.Gateway), ...Object.values(cfg.AuxiliaryAddresses ?? {}).map(bare)]) if (a) set.add(a);
    view.subnets.set(cfg.Subnet, set);
  }
}

export async function readDockerView(socket: string, driver: string): Promise<DockerView> {
  const list = await dockerGetJson<DockerNetwork[]>(socket, '/networks');
  const view: DockerView = { networks: new Map(), subnets: new Map() };
  for (const summary of list) {
    if (summary.Driver !== driver && summary.IPAM?.Driver !== driver) continue;
    const n = await dockerGetJson<DockerNetwork>(socket, `/networks/${encodeURIComponent(summary.Id)}`);
    const containers = Object.values(n.Containers ?? {});
    if (n.Driver === driver) view.networks.set(n.Id, new Set(containers.map((c) => c.EndpointID ?? '')));
    if (n.IPAM?.Driver === driver) addHeld(view, n);
  }
  return view;
}

/**
 * A shared store's view: for each weft network, the endpoint IDs this host's
 * Docker lists under any of the IDs it knows the network by (`dockerIds`);
 * absent when Docker shows none of them. Subnets: what Docker holds in
 * those of its networks outside swarm (in swarm the managers allocate
 * addresses, VIPs and tasks of other nodes included, so this host's Docker
 * does not see them all).
 */
export async function readDockerEndpoints(socket: string, dockerIds: Map<string, string[]>): Promise<DockerView> {
  const view: DockerView = { networks: new Map(), subnets: new Map() };
  for (const [nid, ids] of dockerIds) {
    for (const id of ids) {
      let n: DockerNetwork;
      try {
        n = await dockerGetJson<DockerNetwork>(socket, `/networks/${encodeURIComponent(id)}`);
      } catch (err) {
        if (err instanceof DockerApiError && err.status === 404) continue;
        throw err;
      }
      const eps = view.networks.get(nid) ?? new Set<string>();
      for (const c of Object.values(n.Containers ?? {})) eps.add(c.EndpointID ?? '');
      view.networks.set(nid, eps);
      if (n.Scope !== 'swarm') addHeld(view, n);
    }
  }
  return view;
}

export interface DockerReconcileResult {
  networks: string[];
  endpoints: string[];
  addresses: string[];
  pools: string[];
}

const UNJOINED_GRACE_FACTOR = 5;
const UNJOINED_GRACE_MIN_MS = 30_000;

/** Releases what Docker no longer has; `graceMs` protects records still being created. */
export async function reconcileWithDocker(c: Controller, view: DockerView, graceMs: number, now = Date.now()): Promise<DockerReconcileResult> {
  const out: DockerReconcileResult = { networks: [], endpoints: [], addresses: [], pools: [] };
  const old = (t: number | undefined, grace = graceMs) => t === undefined || now - t >= grace;
  const unjoinedGrace = graceMs === 0 ? 0 : Math.max(graceMs * UNJOINED_GRACE_FACTOR, UNJOINED_GRACE_MIN_MS);
  const stale = (ep: EndpointRecord) => (ep.sandboxKey ? old(Math.max(ep.created ?? 0, ep.joined ?? 0)) : old(ep.created, unjoinedGrace));
  if (c.store.kind !== 'embedded') return reconcileThisHost(c, view, stale, (t) => old(t, unjoinedGrace));
  for (const n of await c.networks()) {
    const eps = view.networks.get(n.id);
    if (!eps) {
      if (!old(n.created)) continue;
      await c.forceDeleteNetwork(n.id);
      out.networks.push(n.id);
      continue;
    }
    for (const ep of await c.endpoints(n.id)) {
      if (ep.ingress || eps.has(ep.id) || !stale(ep)) continue;
      await c.deleteEndpoint(n.id, ep.id);
      out.endpoints.push(ep.id);
    }
  }
  for (const pool of await c.ipam.pools()) {
    const held = view.subnets.get(pool.pool);
    if (!held) {
      if (!old(pool.created)) continue;
      await c.ipam.releasePool(pool.id);
      out.pools.push(pool.id);
      continue;
    }
    const ofEndpoints = addressesOf(await c.endpoints());
    for (const [ip, claim] of await c.ipam.claims(pool.id)) {
      if (held.has(ip) || ofEndpoints.has(ip) || claim.owner === 'gateway' || claim.owner.startsWith('ingress-') || !old(claim.t)) continue;
      await c.ipam.releaseAddress(pool.id, ip);
      out.addresses.push(`${pool.id}:${ip}`);
    }
  }
  return out;
}

/**
 * Shared stores: what this host's Docker made and no longer has, endpoints
 * (`stale`) and address claims nothing holds (`oldClaim`: past the longer grace).
 */
async function reconcileThisHost(c: Controller, view: DockerView, stale: (ep: EndpointRecord) => boolean, oldClaim: (t: number) => boolean): Promise<DockerReconcileResult> {
  const out: DockerReconcileResult = { networks: [], endpoints: [], addresses: [], pools: [] };
  for (const n of await c.networks()) {
    const eps = view.networks.get(n.id);
    if (!eps) continue;
    for (const ep of await c.endpoints(n.id)) {
      if (ep.ingress || ep.host !== c.hostName || eps.has(ep.id) || ep.created === undefined || !stale(ep)) continue;
      await c.deleteEndpoint(n.id, ep.id);
      out.endpoints.push(ep.id);
      out.addresses.push(...await releaseClaimsOf(c, ep));
    }
  }
  // Claims this host's Docker made that nothing holds: the lost ReleaseAddress of an endpoint already gone.
  const recorded = addressesOf(await c.endpoints());
  for (const pool of await c.ipam.pools()) {
    const held = view.subnets.get(pool.pool);
    if (!held) continue;
    for (const [ip, claim] of await c.ipam.claims(pool.id)) {
      if (claim.host !== c.hostName || claim.owner !== 'endpoint' || held.has(ip) || recorded.has(ip) || claim.t === undefined || !oldClaim(claim.t)) continue;
      await c.ipam.releaseAddress(pool.id, ip);
      out.addresses.push(`${pool.id}:${ip}`);
    }
  }
  return out;
}

/**
 * Releases the claims of a stale endpoint's addresses made no later than the
 * endpoint and held by no other endpoint record (else the address went back
 * and was handed out again); `pool:ip` of each.
 */
async function releaseClaimsOf(c: Controller, ep: EndpointRecord): Promise<string[]> {
  const out: string[] = [];
  const created = ep.created ?? 0;
  const held = addressesOf(await c.endpoints(ep.networkId));
  const ips = [...addressesOf([ep])].filter((ip) => !held.has(ip));
  if (ips.length === 0) return out;
  for (const pool of await c.ipam.pools()) {
    const claims = await c.ipam.claims(pool.id);
    for (const ip of ips) {
      const claim = claims.get(ip);
      if (!claim || claim.owner !== 'endpoint' || claim.t === undefined || claim.t > created) continue;
      await c.ipam.releaseAddress(pool.id, ip);
      out.push(`${pool.id}:${ip}`);
    }
  }
  return out;
}

/** Runs the reconciliation at start, every `intervalMs`, and soon after Docker retried a delete. */
export class DockerReconciler {
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #reachable: boolean | undefined;
  #closed = false;

  constructor(private readonly c: Controller, private readonly opts: { socket: string; driver: string; intervalMs: number; log: Logger }) {}

  start(): Promise<void> {
    this.#timer = setInterval(() => void this.run(), this.opts.intervalMs);
    this.#timer.unref();
    return this.run();
  }

  /** After a lost-reply retry: once the grace period has passed for what that call touched. */
  soon(): void {
    if (this.#soon || this.#closed) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.run();
    }, this.opts.intervalMs);
    this.#soon.unref();
  }

  run(): Promise<void> {
    this.#running = this.#running.then(() => this.#once());
    return this.#running;
  }

  async #once(): Promise<void> {
    if (this.#closed) return;
    let view: DockerView;
    try {
      view = this.c.store.kind === 'embedded'
        ? await readDockerView(this.opts.socket, this.opts.driver)
        : await readDockerEndpoints(this.opts.socket, new Map(await Promise.all((await this.c.networks()).map(async (n) => [n.id, await this.c.dockerNetworkIds(n.id)] as const))));
    } catch (err) {
      if (this.#reachable !== false) this.opts.log({ msg: 'cannot read Docker\'s view; reconciling with Docker paused', socket: this.opts.socket, error: (err as Error).message });
      this.#reachable = false;
      return;
    }
    if (this.#reachable === false) this.opts.log({ msg: 'Docker reachable again; reconciling with Docker', socket: this.opts.socket });
    this.#reachable = true;
    try {
      const r = await reconcileWithDocker(this.c, view, this.opts.intervalMs);
      if (r.networks.length + r.endpoints.length + r.addresses.length + r.pools.length) {
        this.opts.log({ msg: 'released what Docker no longer has', ...r });
      }
    } catch (err) {
      this.opts.log({ msg: 'reconciling with Docker failed', error: (err as Error).message });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    await this.#running;
  }
}
