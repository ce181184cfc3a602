/**
 * The etcd (v3 API) store for multi-host deployments. URL forms:
 *   etcd://host:port[,host:port]        plain
 *   etcds://host:port[,…]               TLS; CA/cert/key from WEFT_ETCD_CA,
 *                                       WEFT_ETCD_CERT, WEFT_ETCD_KEY (PEM paths)
 *   etcd://user:password@host:port      auth (or WEFT_ETCD_USER / WEFT_ETCD_PASSWORD)
 * Keys live under the prefix `weft/`. create() is an etcd transaction
 * (create revision == 0), so allocation is atomic across hosts.
 *
 * Every unary call has a deadline (a frozen or unreachable etcd fails the
 * call with StoreUnavailableError instead of hanging it); watch streams have
 * none, and reconnect with exponential back-off and jitter (backoff.ts), calling the caller's
 * resync hook each time they (re)connect.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions, type Lease, type Namespace } from 'etcd3';
import { InvalidArgumentError } from '../errors.js';
import { backoffMs } from './backoff.js';
import { type KvStore, StoreUnavailableError, type WatchEvent } from './store.js';

const PREFIX = 'weft/';
/** Deadline of one unary etcd call. */
const CALL_DEADLINE_MS = 2500;
/** Watch stream reconnect delay (etcd3's default grows to 30 s, too slow to converge). */
const WATCH_RECONNECT_MS = 500;

export function parseEtcdUrl(url: string): IOptions {
  const m = /^(etcds?):\/\/(?:([^:@/]+):([^@/]*)@)?([^/]+)\/?$/.exec(url);
  if (!m) throw new InvalidArgumentError(`invalid etcd URL ${JSON.stringify(url)} (etcd://host:port[,host:port])`);
  const [, scheme, user, password, hostList] = m;
  const tls = scheme === 'etcds';
  const hosts = hostList!.split(',').map((h) => {
    if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(h)) throw new InvalidArgumentError(`invalid etcd endpoint ${JSON.stringify(h)} (host:port)`);
    const port = Number(h.slice(h.lastIndexOf(':') + 1));
    if (port < 1 || port > 65535) throw new InvalidArgumentError(`invalid etcd port in ${JSON.stringify(h)}`);
    return `${tls ? 'https' : 'http'}://${h}`;
  });
  const opts: IOptions = {
    hosts,
    dialTimeout: 3000,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    // A dead connection (partition, frozen server) is noticed by HTTP/2 pings, not TCP timeouts.
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5000 },
    faultHandling: { watchBackoff: constantBackoff(WATCH_RECONNECT_MS) },
  };
  const username = user ?? process.env.WEFT_ETCD_USER;
  const pass = password ?? process.env.WEFT_ETCD_PASSWORD;
  if (username) opts.auth = { username, password: pass ?? '' };
  if (tls && process.env.WEFT_ETCD_CA) {
    opts.credentials = {
      rootCertificate: readFileSync(process.env.WEFT_ETCD_CA),
      ...(process.env.WEFT_ETCD_KEY ? { privateKey: readFileSync(process.env.WEFT_ETCD_KEY) } : {}),
      ...(process.env.WEFT_ETCD_CERT ? { certChain: readFileSync(process.env.WEFT_ETCD_CERT) } : {}),
    };
  }
  return opts;
}

/** cockatiel's IBackoff shape, without importing etcd3's transitive dependency. */
function constantBackoff(ms: number): { duration: number; next(): ReturnType<typeof constantBackoff> } {
  const b = { duration: ms, next: () => b };
  return b;
}

function unavailable(err: unknown, what: string): never {
  throw new StoreUnavailableError(`etcd unavailable during ${what}: ${(err as Error)?.message ?? err}`, { cause: err });
}

/** What a LeasedKeys reports: lease (re)granted and keys written, or lost. */
export type LeaseEvent = { type: 'granted'; id: string; failedAttempts?: number } | { type: 'lost'; error: string } | { type: 'retry'; error: string };


/**
 * Keys that live only as long as this process keeps its lease alive (host
 * registration). When the lease is lost (etcd unreachable for longer than
 * the TTL, so etcd expired it) a new one is granted and every key written
 * again, retrying until etcd answers.
 */
export class LeasedKeys {
  #lease: Lease | undefined;
  #keys = new Map<string, string>();
  #closed = false;
  #granting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** Failed re-grants in a row: one 'retry' event for the first, a count in the next 'granted'. */
  #failures = 0;

  constructor(private readonly store: EtcdStore, readonly ttlSeconds: number, private readonly onEvent: (e: LeaseEvent) => void = () => undefined) {}

  /** Writes key under the lease (and again after every re-grant). */
  async put(key: string, value: string): Promise<void> {
    this.#keys.set(key, value);
    await this.#ensure();
    try {
      await this.#lease!.put(key).value(value);
    } catch (err) {
      unavailable(err, `leased put ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    this.#keys.delete(key);
    await this.store.delete(key);
  }

  #ensure(): Promise<void> {
    if (this.#lease && !this.#lease.revoked()) return Promise.resolve();
    this.#granting ??= this.#grant().finally(() => {
      this.#granting = undefined;
    });
    return this.#granting;
  }

  async #grant(): Promise<void> {
    const lease = this.store.ns.lease(this.ttlSeconds, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      if (this.#closed || lease !== this.#lease) return;
      this.onEvent({ type: 'lost', error: String((err as Error)?.message ?? err) });
      this.#lease = undefined;
      this.#scheduleRegrant(0);
    });
    this.#lease = lease;
    try {
      const id = await lease.grant();
      this.onEvent({ type: 'granted', id: String(id), ...(this.#failures ? { failedAttempts: this.#failures } : {}) });
      this.#failures = 0;
    } catch (err) {
      if (this.#lease === lease) this.#lease = undefined;
      unavailable(err, 'lease grant');
    }
  }

  /** Re-grants and rewrites every key, backing off (backoffMs) while etcd is away; one event per state change. */
  #scheduleRegrant(delayMs: number): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#rewrite().catch((err: unknown) => {
        if (++this.#failures === 1) this.onEvent({ type: 'retry', error: (err as Error).message });
        this.#scheduleRegrant(backoffMs(this.#failures));
      });
    }, delayMs);
  }

  async #rewrite(): Promise<void> {
    await this.#ensure();
    for (const [k, v] of this.#keys) {
      try {
        await this.#lease!.put(k).value(v);
      } catch (err) {
        unavailable(err, `leased put ${k}`);
      }
    }
  }

  /** Stops keepalives; `revoke` also deletes the keys now (graceful leave) instead of at expiry. */
  async close(opts: { revoke?: boolean } = {}): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const lease = this.#lease;
    this.#lease = undefined;
    if (!lease) return;
    if (opts.revoke) await lease.revoke({ deadline: Date.now() + CALL_DEADLINE_MS }).catch(() => lease.release());
    else lease.release();
  }
}

export class EtcdStore implements KvStore {
  readonly kind = 'etcd';
  readonly client: Etcd3;
  readonly ns: Namespace;
  /** Live watches: cancelled before the client closes (etcd3 would retry them forever). */
  #watches = new Set<() => void>();

  private constructor(client: Etcd3) {
    this.client = client;
    this.ns = client.namespace(PREFIX);
  }

  static async connect(url: string): Promise<EtcdStore> {
    const store = new EtcdStore(new Etcd3(parseEtcdUrl(url)));
    try {
      await store.ns.get('__ping').string();
    } catch (err) {
      store.client.close();
      unavailable(err, 'connect');
    }
    return store;
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.ns.get(key).string()) ?? undefined;
    } catch (err) {
      return unavailable(err, `get ${key}`);
    }
  }

  async list(prefix: string): Promise<Map<string, string>> {
    try {
      return new Map(Object.entries(await this.ns.getAll().prefix(prefix).strings()));
    } catch (err) {
      return unavailable(err, `list ${prefix}`);
    }
  }

  async put(key: string, value: string): Promise<void> {
    try {
      await this.ns.put(key).value(value);
    } catch (err) {
      unavailable(err, `put ${key}`);
    }
  }

  async create(key: string, value: string): Promise<boolean> {
    try {
      const r = await this.ns.if(key, 'Create', '==', 0).then(this.ns.put(key).value(value)).commit();
      return r.succeeded;
    } catch (err) {
      return unavailable(err, `create ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.ns.delete().key(key);
    } catch (err) {
      unavailable(err, `delete ${key}`);
    }
  }

  /** Keys bound to a lease of ttlSeconds, kept alive (and re-granted) while this process lives. */
  leasedKeys(ttlSeconds: number, onEvent?: (e: LeaseEvent) => void): LeasedKeys {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 2) throw new InvalidArgumentError(`lease TTL must be a whole number of seconds ≥ 2, got ${ttlSeconds}`);
    return new LeasedKeys(this, ttlSeconds, onEvent);
  }

  /**
   * Calls back on every change under prefix. `onResync` runs each time the
   * stream (re)connects, including the first time: events may have been
   * missed while it was down (or compacted away), so the caller re-lists.
   */
  watch(prefix: string, onEvent: (e: WatchEvent) => void, onResync?: () => void): () => void {
    let cancelled = false;
    let failures = 0;
    let watcher: { cancel(): Promise<void> } | undefined;
    const retry = () => setTimeout(start, Math.max(WATCH_RECONNECT_MS, backoffMs(++failures)));
    // The namespace's watcher hands out keys already relative to PREFIX.
    const strip = (k: Buffer) => {
      const s = k.toString();
      return s.startsWith(PREFIX) ? s.slice(PREFIX.length) : s;
    };
    const start = (): void => {
      this.ns.watch().prefix(prefix).create().then((w) => {
        if (cancelled) {
          void w.cancel().catch(() => undefined);
          return;
        }
        watcher = w;
        failures = 0;
        w.on('put', (kv) => onEvent({ type: 'put', key: strip(kv.key), value: kv.value.toString() }));
        w.on('delete', (kv) => onEvent({ type: 'delete', key: strip(kv.key) }));
        w.on('connected', () => onResync?.());
        w.on('error', () => {
          // The server cancelled the watch (e.g. its revision was compacted): start a new one.
          if (cancelled) return;
          watcher = undefined;
          retry();
        });
        onResync?.();
      }, () => {
        if (!cancelled) retry();
      });
    };
    start();
    const cancel = () => {
      cancelled = true;
      this.#watches.delete(cancel);
      void watcher?.cancel().catch(() => undefined);
    };
    this.#watches.add(cancel);
    return cancel;
  }

  async close(): Promise<void> {
    for (const cancel of [...this.#watches]) cancel();
    this.client.close();
  }
}
