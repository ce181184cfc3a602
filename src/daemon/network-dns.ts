/**
 * DNS for weft networks (issue 8, README "DNS for containers"): one listener
 * per network on its gateway address — in the host namespace for bridge
 * networks, inside the overlay namespace for overlays — answering that
 * network's names to that network's clients only, forwarding the rest to the
 * configured upstreams (none for --internal networks). Names come from
 * Docker (container names, aliases, weft.service labels) and `weft dns add`,
 * shared through the store so every host resolves every host's containers.
 * Records are filed under weft's network ID (unique across hosts, and what
 * the routing mesh reads); the network's Docker name on this host is its DNS
 * domain, so `c1.mynet` resolves and PTRs answer `c1.mynet.`, as Docker's do.
 * Never listens on a host interface: only on gateway addresses weft owns.
 */
import type { KvStore } from '../control/store.js';
import { readTextFileIfExists } from '../io/files.js';
import { bridgeOf, macvlanHostAddress, names, type NetworkRecord } from '../cnm/model.js';
import { DnsService } from '../dns/service.js';
import type { DnsListener } from '../dns/listener.js';
import type { HostPort } from '../dns/hostport.js';
import { DockerNameSource } from '../dns/docker-source.js';
import { SharedDnsRecords } from '../dns/shared-records.js';
import type { Logger } from './log.js';

export interface NetworkDnsOptions {
  host: string;
  instance?: string;
  upstreams: HostPort[];
  /** dockerd's API socket; names of its containers are published. */
  dockerSocket?: string;
}

/** Nameservers of /etc/resolv.conf, minus loopback ones (they would not answer from a container's network). */
export function resolvConfUpstreams(path = '/etc/resolv.conf'): HostPort[] {
  return (readTextFileIfExists(path) ?? '').split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((a): a is string => !!a && !a.startsWith('127.') && a !== '::1')
    .slice(0, 3)
    .map((address) => ({ address, port: 53 }));
}

interface Listening {
  key: string;
  listener: DnsListener;
}

export class NetworkDns {
  #listeners = new Map<string, Listening>();
  #cancelWatch: (() => void) | undefined;
  #docker: DockerNameSource | undefined;
  #syncing: Promise<void> = Promise.resolve();
  #networks = new Map<string, NetworkRecord>();
  /** Docker network ID on any host -> weft network (global networks adopted across hosts, `netids/`). */
  #aliases = new Map<string, string>();
  /** Networks with a domain set (forgotten with the network). */
  #domains = new Set<string>();

  private constructor(
    private readonly store: KvStore,
    readonly service: DnsService,
    readonly records: SharedDnsRecords,
    private readonly opts: NetworkDnsOptions,
    private readonly log: Logger,
  ) {}

  static async start(store: KvStore, opts: NetworkDnsOptions, log: Logger): Promise<NetworkDns> {
    const records = await SharedDnsRecords.open(store, opts.host, (err) => log({ level: 'warn', msg: 'dns record publish failed', error: err.message }));
    const service = new DnsService({ records, upstreams: opts.upstreams, log: (m) => log({ level: 'warn', msg: 'dns', detail: m }) });
    const d = new NetworkDns(store, service, records, opts, log);
    const cancelNetworks = store.watch('networks/', () => d.sync());
    const cancelAliases = store.watch('netids/', () => d.sync());
    d.#cancelWatch = () => {
      cancelNetworks();
      cancelAliases();
    };
    await d.sync();
    if (opts.dockerSocket) {
      d.#docker = new DockerNameSource({
        socketPath: opts.dockerSocket,
        records,
        networkFilter: (id, name) => d.#scopeNamed(id, name),
        log: (m) => log({ msg: 'docker names', detail: m }),
      });
      d.#docker.start();
    }
    return d;
  }

  /** The listeners open now: one per network, where it answers (for `weft status`). */
  listeners(): { network: string; netns: string | null; address: string; port: number }[] {
    return [...this.#listeners].map(([network, l]) => {
      const [netns] = l.key.split('|');
      return { network, netns: netns === 'undefined' ? null : netns!, address: l.listener.address, port: l.listener.port };
    });
  }

  /** The weft network (DNS scope) a Docker network ID stands for, if it is weft's. */
  scopeOf(dockerNetworkId: string): string | undefined {
    const id = this.#aliases.get(dockerNetworkId) ?? dockerNetworkId;
    return this.#networks.has(id) ? id : undefined;
  }

  /** scopeOf, learning the network's Docker name as its DNS domain on the way. */
  #scopeNamed(dockerNetworkId: string, name: string): string | undefined {
    const scope = this.scopeOf(dockerNetworkId);
    if (scope !== undefined && name !== '') {
      this.service.resolver.setDomain(scope, name);
      this.#domains.add(scope);
    }
    return scope;
  }

  /**
   * Where the network's gateway lives; on macvlan (whose gateway is the real
   * router) the host's own address there (`--aux-address weft-host=IP`), or
   * nowhere.
   */
  #placement(n: NetworkRecord): { netns: string | undefined; address: string } | undefined {
    if (n.mode === 'macvlan') {
      const own = macvlanHostAddress(n)?.split('/')[0];
      return own ? { netns: undefined, address: own } : undefined;
    }
    const address = (n.ipv4[0]?.gateway ?? n.ipv6Subnets[0]?.gateway)?.split('/')[0];
    if (!address) return undefined;
    return { netns: n.mode === 'overlay' ? names.overlayNetns(n.id, this.opts.instance) : undefined, address };
  }

  /** Brings listeners in line with the networks in the store (serialised). */
  sync(): Promise<void> {
    this.#syncing = this.#syncing.then(() => this.#sync()).catch((err) => this.log({ level: 'error', msg: 'dns sync failed', error: (err as Error).message }));
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    const networks = [...(await this.store.list('networks/')).values()].map((v) => JSON.parse(v) as NetworkRecord);
    this.#networks = new Map(networks.map((n) => [n.id, n]));
    for (const id of this.#domains) {
      if (this.#networks.has(id)) continue;
      this.service.resolver.setDomain(id, undefined);
      this.#domains.delete(id);
    }
    this.#aliases = new Map([...(await this.store.list('netids/'))].map(([k, v]) => [k.slice('netids/'.length), (JSON.parse(v) as { network: string }).network]));
    const wanted = new Map<string, { n: NetworkRecord; netns: string | undefined; address: string }>();
    for (const n of networks) {
      const p = this.#placement(n);
      if (p) wanted.set(n.id, { n, ...p });
    }
    for (const [id, l] of this.#listeners) {
      const w = wanted.get(id);
      if (w && l.key === `${w.netns}|${w.address}`) continue;
      await this.service.unlisten(l.listener);
      this.#listeners.delete(id);
    }
    for (const [id, w] of wanted) {
      if (this.#listeners.has(id)) continue;
      try {
        const listener = await this.service.listen({
          netns: w.netns, address: w.address, port: 53,
          networks: [{ name: id, clients: [...w.n.ipv4, ...w.n.ipv6Subnets].map((s) => s.pool), ingress: ingressOf(w.n) }],
          ...(w.n.internal ? { upstreams: [] } : {}),
          // An overlay's namespace may have no way out (--internal, or before its egress leg exists).
          ...(w.netns ? { forwardFromHost: true } : {}),
        });
        this.#listeners.set(id, { key: `${w.netns}|${w.address}`, listener });
      } catch (err) {
        // The store is written before the kernel side is built: the gateway
        // may not exist yet. Retry shortly.
        this.log({ level: 'debug', msg: 'dns listener not started yet', network: id, address: w.address, error: (err as Error).message });
        this.#retryLater();
      }
    }
  }

  #retry: NodeJS.Timeout | undefined;

  #retryLater(): void {
    if (this.#retry || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.sync();
    }, 500);
    this.#retry.unref();
  }

  #closed = false;

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#cancelWatch?.();
    await this.#docker?.close();
    await this.#syncing;
    await this.service.close();
    this.records.close();
  }
}

/** The interface a network's clients' queries arrive on: the listener only takes queries from there. */
function ingressOf(n: NetworkRecord): string {
  if (n.mode === 'overlay') return 'br0';
  if (n.mode === 'macvlan') return names.macvlanHost(n.id);
  return bridgeOf(n);
}
