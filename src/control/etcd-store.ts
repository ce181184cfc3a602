/**
 * The etcd (v3 API) store for multi-host deployments. URL forms:
 *   etcd://host:port[,host:port]        plain
 *   etcds://host:port[,…]               TLS; CA/cert/key as PEM paths from
 *                                       EtcdConnectOptions (daemon flags) or
 *                                       WEFT_ETCD_CA, WEFT_ETCD_CERT, WEFT_ETCD_KEY;
 *                                       without a CA the system roots verify etcd
 *   etcd://user@host:port               auth; the password comes from a file
 *                                       (--etcd-password-file, WEFT_ETCD_PASSWORD_FILE)
 *                                       or WEFT_ETCD_PASSWORD, never the URL: a
 *                                       command line is visible to every user (ps)
 * Keys live under the prefix `weft/`. create() is an etcd transaction
 * (create revision == 0), so allocation is atomic across hosts.
 *
 * Every unary call has a deadline (a frozen or unreachable etcd fails the
 * call with StoreUnavailableError instead of hanging it); watch streams have
 * none, and reconnect with exponential back-off and jitter (backoff.ts), calling the caller's
 * resync hook each time they (re)connect.
 */
import { openEtcdClient, type EtcdClient, type EtcdClientOptions as IOptions, type EtcdLease as Lease, type EtcdNamespace as Namespace } from '../io/etcd-client.js';
import { readBinaryFile, readTextFile } from '../io/files.js';
import { tlsHandshakeError } from '../io/tls-probe.js';
import { InvalidArgumentError, StoreAuthError, StoreUnavailableError, WeftError } from '../errors.js';
import { backoffMs } from './backoff.js';
import { type KvStore, type WatchEvent } from './store.js';

const PREFIX = 'weft/';
/** Deadline of one unary etcd call. */
const CALL_DEADLINE_MS = 2500;
/** Watch stream reconnect delay (etcd3's default grows to 30 s, too slow to converge). */
const WATCH_RECONNECT_MS = 500;

/** TLS material and credentials; each falls back to its WEFT_ETCD_* variable. */
export interface EtcdConnectOptions {
  ca?: string;
  cert?: string;
  key?: string;
  user?: string;
  /** A file holding the password (first line). */
  passwordFile?: string;
}

function readPem(what: string, path: string): Buffer {
  try {
    return readBinaryFile(path);
  } catch (err) {
    throw new InvalidArgumentError(`cannot read etcd ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function readPassword(o: EtcdConnectOptions): string | undefined {
  const file = o.passwordFile ?? process.env.WEFT_ETCD_PASSWORD_FILE;
  if (file) {
    try {
      return readTextFile(file).split('\n')[0]!;
    } catch (err) {
      throw new InvalidArgumentError(`cannot read the etcd password file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return process.env.WEFT_ETCD_PASSWORD;
}

export function parseEtcdUrl(url: string, o: EtcdConnectOptions = {}): IOptions {
  const m = /^(etcds?):\/\/(?:([^:@/]+)(?::([^@/]*))?@)?([^/]+)\/?$/.exec(url);
  if (!m) throw new InvalidArgumentError(`invalid etcd URL ${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))} (etcd://host:port[,host:port])`);
  const [, scheme, user, password, hostList] = m;
  if (password !== undefined) {
    throw new InvalidArgumentError('do not put the etcd password in the store URL (every user sees command lines through ps): use --etcd-password-file FILE, WEFT_ETCD_PASSWORD_FILE or WEFT_ETCD_PASSWORD');
  }
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
  const username = user ?? o.user ?? process.env.WEFT_ETCD_USER;
  if (username) opts.auth = { username, password: readPassword(o) ?? '' };
  const ca = o.ca ?? process.env.WEFT_ETCD_CA;
  const cert = o.cert ?? process.env.WEFT_ETCD_CERT;
  const key = o.key ?? process.env.WEFT_ETCD_KEY;
  if (!tls && (ca || cert || key)) throw new InvalidArgumentError('etcd TLS material given for a plain etcd:// URL: use etcds://');
  if (!cert !== !key) throw new InvalidArgumentError('an etcd client certificate needs its key and the other way round (--etcd-cert and --etcd-key)');
  if (tls && (ca || cert)) {
    // grpc verifies etcd with the system roots when rootCertificate is null (a client cert alone is honoured).
    opts.credentials = {
      rootCertificate: (ca ? readPem('CA', ca) : null) as Buffer,
      ...(key ? { privateKey: readPem('key', key) } : {}),
      ...(cert ? { certChain: readPem('certificate', cert) } : {}),
    };
  }
  return opts;
}

/** cockatiel's IBackoff shape, without importing etcd3's transitive dependency. */
function constantBackoff(ms: number): { duration: number; next(): ReturnType<typeof constantBackoff> } {
  const b = { duration: ms, next: () => b };
  return b;
}

/**
 * A failed call as the error that names its cause: refused credentials or
 * TLS material are StoreAuthError (retrying will not help), anything else
 * StoreUnavailableError.
 */
export function classifyEtcdError(err: unknown, what: string): WeftError {
  const name = (err as Error)?.constructor?.name ?? '';
  const msg = String((err as Error)?.message ?? err);
  if (name === 'EtcdAuthenticationFailedError' || /authentication failed|invalid auth token|user name is empty/i.test(msg)) {
    return new StoreAuthError(`etcd rejected the credentials during ${what}: authentication failed (check the user and --etcd-password-file)`, { cause: err });
  }
  if (name === 'EtcdPermissionDeniedError' || /permission denied/i.test(msg)) {
    return new StoreAuthError(`etcd denied ${what}: the user lacks permission on the weft/ prefix`, { cause: err });
  }
  if (/certificate|handshake|ssl|tls|self.signed|unknown ca|bad record mac|wrong version number/i.test(msg)) {
    return new StoreAuthError(`TLS with etcd failed during ${what}: ${msg.replace(/^\d+ \w+: /, '')}`, { cause: err });
  }
  return new StoreUnavailableError(`etcd unavailable during ${what}: ${msg}`, { cause: err });
}

/** An OpenSSL/Node handshake error in operator terms (which flag to look at). */
function explainTls(why: string): string {
  const alert = /alert ([a-z ]+?)(?::|$)/i.exec(why)?.[1];
  if (alert && /bad certificate|certificate required|unknown ca|handshake failure/i.test(alert)) {
    return `etcd rejected our client certificate (${alert}): give one signed by etcd's client CA with --etcd-cert/--etcd-key`;
  }
  if (/verify|self.signed|issuer|unknown ca/i.test(why)) return `etcd's certificate is not trusted (${why}): check --etcd-ca`;
  if (/altnames|hostname|does not match/i.test(why)) return `etcd's certificate does not name this address (${why})`;
  return why.split('\n')[0]!;
}

function unavailable(err: unknown, what: string): never {
  throw classifyEtcdError(err, what);
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
  readonly client: EtcdClient;
  readonly ns: Namespace;
  /** Live watches: cancelled before the client closes (etcd3 would retry them forever). */
  #watches = new Set<() => void>();
  /** Every LeasedKeys handed out: stopped when the store closes. */
  readonly #leased = new Set<LeasedKeys>();

  private constructor(client: EtcdClient, readonly tls: boolean) {
    this.client = client;
    this.ns = client.namespace(PREFIX);
  }

  static async connect(url: string, o: EtcdConnectOptions = {}): Promise<EtcdStore> {
    const options = parseEtcdUrl(url, o);
    const store = new EtcdStore(openEtcdClient(options), url.startsWith('etcds://'));
    try {
      await store.ns.get('__ping').string();
    } catch (err) {
      store.client.close();
      const e = classifyEtcdError(err, 'connect');
      if (store.tls && e instanceof StoreUnavailableError) {
        // grpc hides why TLS failed: repeat the handshake to name the cause.
        const host = (options.hosts as string[])[0]!.replace(/^https:\/\//, '');
        const port = Number(host.slice(host.lastIndexOf(':') + 1));
        const c = options.credentials;
        const why = await tlsHandshakeError(host.slice(0, host.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port, {
          ...(c?.rootCertificate ? { ca: c.rootCertificate } : {}), ...(c?.certChain ? { cert: c.certChain } : {}), ...(c?.privateKey ? { key: c.privateKey } : {}),
        });
        if (why) throw new StoreAuthError(`TLS with etcd at ${host} failed: ${explainTls(why)}`, { cause: err });
      }
      throw e;
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
    const keys = new LeasedKeys(this, ttlSeconds, onEvent);
    this.#leased.add(keys);
    return keys;
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

  /** Cancels the watches and stops every LeasedKeys handed out (their keys expire with the TTL), then the client. */
  async close(): Promise<void> {
    for (const cancel of [...this.#watches]) cancel();
    // A lease left running would retry its re-grant on the closed client for ever (and keep the process alive).
    for (const keys of this.#leased) await keys.close();
    this.#leased.clear();
    this.client.close();
  }
}
