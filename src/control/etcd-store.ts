/**
 * The etcd (v3 API) store for multi-host deployments. URL forms:
 *   etcd://host:port[,host:port]        plain
 *   etcds://host:port[,…]               TLS; CA/cert/key from WEFT_ETCD_CA,
 *                                       WEFT_ETCD_CERT, WEFT_ETCD_KEY (PEM paths)
 *   etcd://user:password@host:port      auth (or WEFT_ETCD_USER / WEFT_ETCD_PASSWORD)
 * Keys live under the prefix `weft/`. create() is an etcd transaction
 * (create revision == 0), so allocation is atomic across hosts.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions, type Lease, type Namespace } from 'etcd3';
import { InvalidArgumentError } from '../errors.js';
import { type KvStore, StoreUnavailableError, type WatchEvent } from './store.js';

const PREFIX = 'weft/';

export function parseEtcdUrl(url: string): IOptions {
  const m = /^(etcds?):\/\/(?:([^:@/]+):([^@/]*)@)?([^/]+)\/?$/.exec(url);
  if (!m) throw new InvalidArgumentError(`invalid etcd URL ${JSON.stringify(url)} (etcd://host:port[,host:port])`);
  const [, scheme, user, password, hostList] = m;
  const tls = scheme === 'etcds';
  const hosts = hostList!.split(',').map((h) => {
    if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(h)) throw new InvalidArgumentError(`invalid etcd endpoint ${JSON.stringify(h)} (host:port)`);
    return `${tls ? 'https' : 'http'}://${h}`;
  });
  const opts: IOptions = { hosts, dialTimeout: 3000 };
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

function unavailable(err: unknown, what: string): never {
  throw new StoreUnavailableError(`etcd unavailable during ${what}: ${(err as Error)?.message ?? err}`, { cause: err });
}

export class EtcdStore implements KvStore {
  readonly kind = 'etcd';
  readonly client: Etcd3;
  readonly ns: Namespace;

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

  /** A lease that keeps keys alive while this host lives (host registration). */
  lease(ttlSeconds: number): Lease {
    return this.ns.lease(ttlSeconds, { autoKeepAlive: true });
  }

  watch(prefix: string, onEvent: (e: WatchEvent) => void, onResync?: () => void): () => void {
    let cancelled = false;
    let watcher: { cancel(): Promise<void> } | undefined;
    const strip = (k: Buffer) => k.toString().slice(PREFIX.length);
    this.ns.watch().prefix(prefix).create().then((w) => {
      if (cancelled) {
        void w.cancel();
        return;
      }
      watcher = w;
      w.on('put', (kv) => onEvent({ type: 'put', key: strip(kv.key), value: kv.value.toString() }));
      w.on('delete', (kv) => onEvent({ type: 'delete', key: strip(kv.key) }));
      // After a reconnect events may have been missed: the caller resyncs.
      w.on('connected', () => onResync?.());
      w.on('error', () => undefined);
    }, () => onResync?.());
    return () => {
      cancelled = true;
      void watcher?.cancel();
    };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
