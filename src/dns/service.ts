/**
 * The embedded DNS service the daemon embeds: one record store and resolver
 * shared by any number of listeners (one per container namespace, or per
 * network gateway), all in this process: no process per namespace.
 *
 *   const dns = new DnsService({ upstreams: [{ address: '198.18.0.1', port: 53 }] });
 *   dns.addRecord({ network: 'front', name: 'web', type: 'A', address: '198.18.1.2', ptr: true });
 *   const l = await dns.listen({ netns: 'ctr1', address: '127.0.0.11', networks: ['front'] });
 *   ...
 *   await dns.close();
 */
import { DnsListener, emptyStats, type DnsStats, type ListenOptions, type ListenerLimits } from './listener.js';
import type { HostPort } from './hostport.js';
import { RateLimiter } from './ratelimit.js';
import { MemoryDnsRecords, type DnsRecords, type NameRecord } from './records.js';
import { DEFAULT_TTL, DnsResolver } from './resolver.js';

export interface DnsServiceOptions {
  /** Record store (default: a new in-memory one). */
  records?: DnsRecords;
  /** TTL of local answers without their own (default 600, Docker's). */
  ttl?: number;
  /** Default upstreams of every listener (at most 3 are used). */
  upstreams?: HostPort[];
  /** Per-client queries per second and burst; null turns the limit off. Default 2000/s, burst 4000. */
  rateLimit?: { qps: number; burst?: number } | null;
  /** Largest UDP response (default 1232, the DNS flag day 2020 size); bounds amplification. */
  maxUdpResponse?: number;
  forwardTimeoutMs?: number;
  forwardBudgetMs?: number;
  maxInflightForwards?: number;
  tcpIdleMs?: number;
  tcpMaxQueriesPerConn?: number;
  tcpMaxConnsPerClient?: number;
  tcpMaxConns?: number;
  /** Cached (name, type) answers per listener before the cache starts over (default 10000). */
  maxCacheEntries?: number;
  /** Queries older than this in a receive queue are dropped unanswered (default 250 ms; 0: never). */
  maxQueueAgeMs?: number;
  log?: (msg: string) => void;
}

export class DnsService {
  readonly records: DnsRecords;
  readonly resolver: DnsResolver;
  readonly #limits: ListenerLimits;
  readonly #upstreams: HostPort[];
  #listeners = new Set<DnsListener>();

  constructor(opts: DnsServiceOptions = {}) {
    this.records = opts.records ?? new MemoryDnsRecords();
    this.resolver = new DnsResolver(this.records, opts.ttl ?? DEFAULT_TTL);
    this.#upstreams = opts.upstreams ?? [];
    const rl = opts.rateLimit === undefined ? { qps: 2000, burst: 4000 } : opts.rateLimit;
    const maxUdp = Math.min(Math.max(opts.maxUdpResponse ?? 1232, 512), 4096);
    this.#limits = {
      rateLimiter: rl ? new RateLimiter(rl.qps, rl.burst ?? rl.qps * 2) : undefined,
      maxUdpResponse: maxUdp,
      ednsSize: maxUdp,
      forwardTimeoutMs: opts.forwardTimeoutMs ?? 2000,
      forwardBudgetMs: opts.forwardBudgetMs ?? 4500,
      maxInflightForwards: opts.maxInflightForwards ?? 1024,
      tcpIdleMs: opts.tcpIdleMs ?? 10_000,
      tcpMaxQueriesPerConn: opts.tcpMaxQueriesPerConn ?? 128,
      tcpMaxConnsPerClient: opts.tcpMaxConnsPerClient ?? 16,
      tcpMaxConns: opts.tcpMaxConns ?? 512,
      maxCacheEntries: opts.maxCacheEntries ?? 10_000,
      ...(opts.maxQueueAgeMs !== undefined ? { maxQueueAgeMs: opts.maxQueueAgeMs } : {}),
      log: opts.log ?? ((m) => process.stderr.write(`${m}\n`)),
    };
  }

  /** Adds a record (idempotent); listeners see it on their next query. */
  addRecord(record: NameRecord): boolean {
    return this.records.add(record);
  }

  removeRecord(record: NameRecord): boolean {
    return this.records.remove(record);
  }

  /** Starts a listener; the returned object reports its bound port and stats. */
  async listen(opts: ListenOptions): Promise<DnsListener> {
    const l = new DnsListener(opts, this.resolver, this.#limits, this.#upstreams);
    await l.start();
    this.#listeners.add(l);
    return l;
  }

  /** Stops one listener. */
  async unlisten(l: DnsListener): Promise<void> {
    this.#listeners.delete(l);
    await l.close();
  }

  listeners(): DnsListener[] {
    return [...this.#listeners];
  }

  /** Counters summed over every listener. */
  stats(): DnsStats {
    const total = emptyStats();
    for (const l of this.#listeners) {
      l.updateStats();
      for (const k of Object.keys(total) as (keyof DnsStats)[]) total[k] += l.stats[k];
    }
    return total;
  }

  async close(): Promise<void> {
    const all = [...this.#listeners];
    this.#listeners.clear();
    await Promise.all(all.map((l) => l.close()));
  }
}
