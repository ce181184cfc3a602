/**
 * Names from a Docker Engine: follows the API on its unix socket and keeps,
 * in a DnsRecords store, the records of running containers on the networks
 * a caller cares about (Docker's own embedded-DNS rules):
 *   - the container name and its network aliases (DNSNames where the API
 *     has it, else Aliases) -> its addresses on that network; PTR for the name;
 *   - `weft.service=NAME` label: NAME and tasks.NAME -> the address of every
 *     running container with that label on the network (no VIP: dnsrr).
 *
 *   const src = new DockerNameSource({
 *     socketPath: '/var/run/docker.sock', records: dns.records,
 *     networkFilter: (id, name, driver) => (driver === 'weft' ? name : undefined),
 *   });
 *   src.start();
 *   await src.ready();   // first full sync done
 *   ...
 *   await src.close();
 *
 * Events (GET /events, container and network types) trigger a re-inspect of
 * the container concerned; the result replaces what the source had added
 * for it (diffed, so unchanged records are not touched). When the stream
 * ends (dockerd restarts) it reconnects with exponential backoff and resyncs
 * from GET /containers/json, removing records of containers that went away
 * meanwhile. The event stream is opened before the listing, so nothing that
 * happens in between is missed. Records of other writers are never touched.
 */
import { DockerApiError } from '../errors.js';
import { dockerGet, followDockerStream, type DockerStream } from '../io/docker-api.js';
import { isValidName } from '../wire/dns/name.js';
import { endpointRecords, normalizeRecord, recordKey, serviceRecords, type DnsRecords, type NameRecord } from './records.js';

/** Maps a Docker network to the DNS scope (weft network) its names go to, or undefined to ignore it. */
export type NetworkFilter = (networkId: string, networkName: string, driver: string) => string | undefined;

export interface DockerSourceOptions {
  /** dockerd's API socket, e.g. /var/run/docker.sock. */
  socketPath: string;
  records: DnsRecords;
  networkFilter: NetworkFilter;
  /** Label naming a container's service (default `weft.service`). */
  serviceLabel?: string;
  /** TTL of the records (default: the resolver's). */
  ttl?: number;
  /** Reconnect backoff (default 100 ms doubling to 5 s). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Per API request (default 10 s). */
  requestTimeoutMs?: number;
  log?: (msg: string) => void;
}

/** The parts of GET /containers/{id}/json this source reads. */
export interface ContainerInspect {
  Id: string;
  Name?: string;
  State?: { Running?: boolean };
  Config?: { Labels?: Record<string, string> | null };
  NetworkSettings?: {
    Networks?: Record<string, {
      NetworkID?: string;
      IPAddress?: string;
      GlobalIPv6Address?: string;
      Aliases?: string[] | null;
      DNSNames?: string[] | null;
    }> | null;
  };
}

export const DEFAULT_SERVICE_LABEL = 'weft.service';
/** `weft.publish=8080:80[/udp][,…]` on a service's containers: the ports the ingress mesh publishes on every host. */
export const PUBLISH_LABEL = 'weft.publish';

/**
 * The records of one inspected container (pure). `scopeOf` says which
 * scope a network (ID, name) maps to; undefined skips it. A stopped
 * container has none.
 */
export function containerRecords(c: ContainerInspect, scopeOf: (networkId: string, networkName: string) => string | undefined,
  opts: { serviceLabel?: string; ttl?: number } = {}): NameRecord[] {
  if (!c.State?.Running) return [];
  const name = (c.Name ?? '').replace(/^\//, '');
  const label = c.Config?.Labels?.[opts.serviceLabel ?? DEFAULT_SERVICE_LABEL];
  const publish = c.Config?.Labels?.[PUBLISH_LABEL];
  const ttl = opts.ttl === undefined ? {} : { ttl: opts.ttl };
  const out: NameRecord[] = [];
  for (const [netName, ep] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
    const scope = scopeOf(ep.NetworkID ?? '', netName);
    if (scope === undefined) continue;
    const ipv4 = ep.IPAddress || undefined;
    const ipv6 = ep.GlobalIPv6Address || undefined;
    if (!ipv4 && !ipv6) continue;
    // DNSNames (API 1.44+) lists name, short ID and aliases; older APIs: Aliases.
    const names = ep.DNSNames && ep.DNSNames.length > 0 ? ep.DNSNames : (ep.Aliases ?? []);
    const aliases = [...new Set(names.filter((a) => a !== name && isValidName(a)))];
    if (name && isValidName(name)) {
      out.push(...endpointRecords({ network: scope, name, aliases, ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}), ...ttl }));
    }
    if (label && isValidName(label) && isValidName(`tasks.${label}`)) {
      out.push(...serviceRecords({ network: scope, name: label, tasks: [ipv4, ipv6].filter((a): a is string => !!a), ...ttl }));
      // Published ports travel as a TXT record on the service name; the ingress mesh reads them from the shared records.
      if (publish && publish.length <= 255) out.push({ network: scope, name: label, type: 'TXT', text: [`${PUBLISH_LABEL}=${publish}`], ...ttl });
    }
  }
  return out;
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Container actions after which its names may have changed. */
const CONTAINER_ACTIONS = new Set(['start', 'restart', 'die', 'stop', 'kill', 'destroy', 'rename', 'pause', 'unpause']);

export class DockerNameSource {
  readonly #o: DockerSourceOptions;
  /** recordKey -> record, per container, as this source added them. */
  readonly #added = new Map<string, Map<string, NameRecord>>();
  readonly #networks = new Map<string, { name: string; driver: string }>();
  readonly #chains = new Map<string, Promise<void>>();
  #stream: DockerStream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #backoff: number;
  #closed = false;
  #started = false;
  #connected = false;
  #ready: Promise<void>;
  #markReady!: () => void;
  /** Full syncs completed (first connect and every reconnect). */
  syncs = 0;

  constructor(opts: DockerSourceOptions) {
    this.#o = opts;
    this.#backoff = opts.backoffMinMs ?? 100;
    this.#ready = new Promise((r) => (this.#markReady = r));
  }

  /** Connects and keeps following dockerd until close(). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#connect();
  }

  /** Resolves after the first full sync. */
  ready(): Promise<void> {
    return this.#ready;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The records this source holds for a container (by full ID). */
  recordsOf(containerId: string): NameRecord[] {
    return [...(this.#added.get(containerId)?.values() ?? [])];
  }

  /** Stops following; with `removeRecords`, takes back every record it added. */
  async close(removeRecords = false): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#stream?.close();
    await Promise.allSettled([...this.#chains.values()]);
    if (removeRecords) for (const id of [...this.#added.keys()]) this.#apply(id, []);
  }

  /** Lists every container and refreshes each, dropping those that are gone. */
  async resync(): Promise<void> {
    const list = await this.#get<{ Id: string }[]>('/containers/json');
    if (!Array.isArray(list)) throw new DockerApiError('GET /containers/json did not return a list');
    const seen = new Set(list.map((c) => c.Id));
    await Promise.all([...seen, ...[...this.#added.keys()].filter((id) => !seen.has(id))].map((id) => this.refresh(id)));
    this.syncs++;
  }

  /** Re-inspects one container and makes its records match (serialized per container). */
  refresh(id: string): Promise<void> {
    const prev = this.#chains.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.#refresh(id)).catch((err: unknown) => {
      this.#log(`docker names: container ${id.slice(0, 12)}: ${(err as Error).message}`);
    });
    this.#chains.set(id, next);
    void next.then(() => {
      if (this.#chains.get(id) === next) this.#chains.delete(id);
    });
    return next;
  }

  async #refresh(id: string): Promise<void> {
    if (this.#closed) return;
    const c = await this.#get<ContainerInspect>(`/containers/${encodeURIComponent(id)}/json`, true);
    if (c === undefined || !c.State?.Running) {
      this.#apply(id, []);
      return;
    }
    const scopes = new Map<string, string | undefined>();
    for (const [netName, ep] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
      const netId = ep.NetworkID ?? '';
      const info = await this.#network(netId, netName);
      scopes.set(`${netId}\0${netName}`, this.#o.networkFilter(netId, netName, info.driver));
    }
    const recs = containerRecords(c, (netId, netName) => scopes.get(`${netId}\0${netName}`), {
      ...(this.#o.serviceLabel === undefined ? {} : { serviceLabel: this.#o.serviceLabel }),
      ...(this.#o.ttl === undefined ? {} : { ttl: this.#o.ttl }),
    });
    if (!this.#closed) this.#apply(id, recs);
  }

  /** Makes the records held for `id` equal `want`: adds the new, removes the stale. */
  #apply(id: string, want: NameRecord[]): void {
    const have = this.#added.get(id) ?? new Map<string, NameRecord>();
    const next = new Map<string, NameRecord>();
    for (const r of want) {
      try {
        const n = normalizeRecord(r);
        next.set(recordKey(n), n);
      } catch (err) {
        this.#log(`docker names: container ${id.slice(0, 12)}: ${(err as Error).message}`);
      }
    }
    // Other containers may hold the same record (two aliases, one address): only remove what no one else holds.
    for (const [k, r] of have) {
      if (!next.has(k) && !this.#heldByOther(id, k)) this.#o.records.remove(r);
    }
    for (const [k, r] of next) if (!have.has(k) || have.get(k)!.ttl !== r.ttl) this.#o.records.add(r);
    if (next.size === 0) this.#added.delete(id);
    else this.#added.set(id, next);
  }

  #heldByOther(id: string, key: string): boolean {
    for (const [other, recs] of this.#added) if (other !== id && recs.has(key)) return true;
    return false;
  }

  async #network(id: string, name: string): Promise<{ name: string; driver: string }> {
    const known = this.#networks.get(id);
    if (known) return known;
    const n = id ? await this.#get<{ Name?: string; Driver?: string }>(`/networks/${encodeURIComponent(id)}`, true) : undefined;
    const info = { name: n?.Name ?? name, driver: n?.Driver ?? '' };
    if (n) this.#networks.set(id, info);
    return info;
  }

  #connect(): void {
    if (this.#closed) return;
    const filters = encodeURIComponent(JSON.stringify({ type: ['container', 'network'] }));
    const stream: DockerStream = followDockerStream(this.#o.socketPath, `/events?filters=${filters}`, {
      onOpen: () => {
        this.#connected = true;
        // Stream first, then list: nothing between the two is missed.
        this.resync().then(() => {
          this.#backoff = this.#o.backoffMinMs ?? 100;
          this.#markReady();
        }, (err: unknown) => {
          this.#log(`docker names: resync failed: ${(err as Error).message}`);
          stream.close();
        });
      },
      onLine: (line) => this.#onEvent(line),
      onEnd: (why) => {
        if (this.#stream === stream) this.#lost(why);
      },
    });
    this.#stream = stream;
  }

  #lost(why: string): void {
    this.#stream = undefined;
    this.#connected = false;
    if (this.#closed) return;
    const wait = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#o.backoffMaxMs ?? 5000);
    this.#log(`docker names: ${why}; reconnecting in ${wait} ms`);
    this.#timer = setTimeout(() => this.#connect(), wait);
  }

  #onEvent(line: string): void {
    let e: DockerEvent;
    try {
      e = JSON.parse(line) as DockerEvent;
    } catch {
      return;
    }
    const id = e.Actor?.ID;
    if (!id) return;
    if (e.Type === 'container' && CONTAINER_ACTIONS.has(e.Action ?? '')) void this.refresh(id);
    else if (e.Type === 'network') {
      const container = e.Actor?.Attributes?.container;
      if ((e.Action === 'connect' || e.Action === 'disconnect') && container) void this.refresh(container);
      if (e.Action === 'destroy') this.#networks.delete(id);
    }
  }

  /** GET a JSON document; with `allow404`, a 404 is undefined. */
  #get<T>(path: string, allow404 = false): Promise<T | undefined> {
    return dockerGet(this.#o.socketPath, path, this.#o.requestTimeoutMs ?? 10_000).then(({ status, body }) => {
      if (status === 404 && allow404) return undefined;
      if (status !== 200) throw new DockerApiError(`GET ${path}: HTTP ${status}`);
      try {
        return JSON.parse(body.toString('utf8')) as T;
      } catch {
        throw new DockerApiError(`GET ${path}: response is not JSON`);
      }
    });
  }

  #log(msg: string): void {
    (this.#o.log ?? ((m: string) => process.stderr.write(`${m}\n`)))(msg);
  }
}
