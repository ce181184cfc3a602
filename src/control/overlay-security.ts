/**
 * Overlay security on one host (docs/encryption.md): the admission filter
 * (VXLAN only from known peer VTEPs; clear text never accepted into nor sent
 * from an encrypted VNI) and, for encrypted networks, the key ring and the
 * IPsec SAs towards every peer VTEP.
 *
 * The key ring lives in the store (`encryption/keyring`): made once by
 * whichever host needs it first (atomic create), rotated every `rotateMs` by
 * whichever host wins `encryption/rotation/<tag>`, and followed by every host
 * through a watch. Everything the kernel holds is derived from (ring, peers,
 * networks), so a restart, a lost event or `ip xfrm state flush` is repaired
 * by the next reconcile (on change and every `resyncMs`).
 *
 * Fail closed (CVE-2023-28841/-28842): ensureNetwork programs the filter and
 * SAs before the overlay driver creates the VXLAN device, and throws when it
 * cannot, so an encrypted network never exists without its protection.
 * A restart never weakens the filter while the daemon relearns its networks:
 * until `settled()` (after the startup reconcile) the encrypted VNIs the
 * installed table protects stay protected and the table is never removed;
 * only an explicit removeNetwork drops a VNI before that.
 * Keys never leave this module except into XFRM requests and the store.
 */
import { randomBytes } from 'node:crypto';
import { type NetworkRecord, isEncrypted } from '../cnm/model.js';
import { EncryptionUnavailableError, InsecureStoreError, WeftError } from '../errors.js';
import { type KeyRing, KEY_BYTES, initialRing, primaryKey, rotateRing, sortedKeys } from '../dataplane/encryption-keys.js';
import { probeEsp, reconcileEncryption } from '../dataplane/encryption.js';
import { applyOverlayFilter, installedEncryptedVnis, overlayTableName, removeOverlayFilter } from '../dataplane/nft-overlay.js';
import type { Logger } from '../daemon/log.js';
import type { KvStore } from './store.js';

export const RING_KEY = 'encryption/keyring';
export const DEFAULT_ROTATE_MS = 12 * 3600_000;
const DEFAULT_RESYNC_MS = 30_000;

export interface OverlaySecurityOptions {
  /** This host's VTEP address (needed for SAs; without it only the filter is programmed). */
  localAddress?: string;
  instance?: string;
  /** Key rotation period (default 12 h). */
  rotateMs?: number;
  resyncMs?: number;
  /** The store carries keys safely (embedded, or etcd over TLS). */
  storeIsPrivate: boolean;
  /** Accept keys in a plain-text store anyway (--insecure-store-keys). */
  allowInsecureStore?: boolean;
  /** Namespace holding the VXLAN sockets (default: ours). */
  netns?: string;
  log: Logger;
  /** Tests: replace the kernel probe. */
  probe?: () => Promise<void>;
}

/** What `weft network inspect` shows: never key bytes. */
export interface EncryptionStatus {
  encrypted: boolean;
  keyTag?: string;
  primaryKeyAgeSeconds?: number;
  keys?: number;
}

export class OverlaySecurity {
  #networks = new Map<string, { vni: number; encrypted: boolean }>();
  /** Until settled: encrypted VNIs found in the installed table (undefined: not read yet). */
  #inherited: Set<number> | undefined;
  #settled = false;
  #peers: string[] = [];
  #ring: KeyRing | undefined;
  #probed: Promise<void> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #cancelWatch: (() => void) | undefined;
  readonly table: string;

  constructor(private readonly store: KvStore, private readonly opts: OverlaySecurityOptions) {
    this.table = overlayTableName(opts.instance);
  }

  /** Follows the ring and starts the rotation and resync timers. */
  start(): void {
    this.#cancelWatch = this.store.watch('encryption/', (e) => {
      if (e.key !== RING_KEY || e.type !== 'put' || !e.value) return;
      this.#ring = parseRing(e.value) ?? this.#ring;
      this.#schedule();
    }, () => void this.#loadRing().then(() => this.#schedule()).catch(() => undefined));
    const resync = setInterval(() => this.#schedule(), this.opts.resyncMs ?? DEFAULT_RESYNC_MS);
    const rotate = setInterval(() => void this.rotateIfDue().catch((err: unknown) =>
      this.opts.log({ msg: 'key rotation failed; will retry', error: (err as WeftError).code ?? 'error' })), Math.min(this.rotateMs / 4, 60_000));
    resync.unref();
    rotate.unref();
    this.#timers.push(resync, rotate);
  }

  stop(): Promise<void> {
    this.#cancelWatch?.();
    for (const t of this.#timers.splice(0)) clearInterval(t);
    return this.#queue;
  }

  get rotateMs(): number {
    return this.opts.rotateMs ?? DEFAULT_ROTATE_MS;
  }

  /** Before the VXLAN device exists: filter (and SAs) in place, or throw. */
  async ensureNetwork(n: NetworkRecord): Promise<void> {
    if (n.vni === undefined) return;
    const encrypted = isEncrypted(n.options);
    if (encrypted) {
      if (!this.opts.storeIsPrivate && !this.opts.allowInsecureStore) throw new InsecureStoreError();
      this.#probed ??= (this.opts.probe ?? probeEsp)().catch((err: unknown) => {
        this.#probed = undefined;
        throw err;
      });
      await this.#probed;
      await this.#ensureRing();
    }
    this.#networks.set(n.id, { vni: n.vni, encrypted });
    await this.#apply();
  }

  async removeNetwork(n: NetworkRecord): Promise<void> {
    const inherited = n.vni !== undefined && !!this.#inherited?.delete(n.vni);
    if (!this.#networks.delete(n.id) && !inherited) return;
    await this.#apply();
  }

  /** The startup reconcile is done: networks not ensured since the start are gone, and so is their protection. */
  settled(): Promise<void> {
    this.#settled = true;
    this.#inherited = new Set();
    return this.#apply();
  }

  /** The peer table changed (atomically with it: one nft transaction). */
  setPeers(vteps: string[]): Promise<void> {
    const next = [...new Set(vteps)].filter((v) => v !== this.opts.localAddress).sort();
    if (next.join(',') === this.#peers.join(',')) return this.#queue;
    this.#peers = next;
    return this.#apply();
  }

  status(n: NetworkRecord, now = Date.now()): EncryptionStatus {
    if (!isEncrypted(n.options)) return { encrypted: false };
    return ringStatus(this.#ring, now);
  }

  /** Rotates the ring when its newest key is older than the period; true when this host did it. */
  async rotateIfDue(now = Date.now()): Promise<boolean> {
    if (![...this.#networks.values()].some((n) => n.encrypted)) return false;
    await this.#loadRing();
    const ring = this.#ring;
    const newest = ring ? sortedKeys(ring).at(-1) : undefined;
    if (!ring || !newest || now - Date.parse(newest.created) < this.rotateMs) return false;
    return this.rotate();
  }

  /** One rotation now (tests, `--rotate-keys` operators): new newest key, primary moves up, oldest pruned. */
  async rotate(): Promise<boolean> {
    await this.#loadRing();
    if (!this.#ring) return false;
    const next = rotateRing(this.#ring, freshKey());
    const tag = sortedKeys(next).at(-1)!.tag;
    if (!(await this.store.create(`encryption/rotation/${tag}`, JSON.stringify({ at: new Date().toISOString() })))) return false;
    await this.store.put(RING_KEY, JSON.stringify(next));
    await this.store.delete(`encryption/rotation/${tag - 2}`);
    this.#ring = next;
    this.opts.log({ msg: 'encryption key rotated', keyTag: String(primaryKey(next)!.tag) });
    await this.#apply();
    return true;
  }

  async #loadRing(): Promise<void> {
    const v = await this.store.get(RING_KEY);
    if (v) this.#ring = parseRing(v) ?? this.#ring;
  }

  async #ensureRing(): Promise<void> {
    if (this.#ring) return;
    await this.#loadRing();
    if (this.#ring) return;
    const ring = initialRing(freshKey);
    if (!(await this.store.create(RING_KEY, JSON.stringify(ring)))) await this.#loadRing();
    else this.#ring = ring;
    if (!this.#ring) throw new EncryptionUnavailableError('encryption key ring could not be read from the store');
  }

  #schedule(): void {
    void this.#apply().catch((err: unknown) =>
      this.opts.log({ msg: 'overlay security reconcile failed; will retry', error: safeError(err) }));
  }

  /** Serialised: the nft transaction, then the SAs (filter first, so nothing unprotected ever flows). */
  #apply(): Promise<void> {
    const run = this.#queue.then(async () => {
      const nets = [...this.#networks.values()];
      if (nets.length === 0) {
        // Before settling, no network known yet is not "no networks": the table stays as it is.
        if (this.#settled) await removeOverlayFilter(this.opts.netns, this.table);
        return;
      }
      this.#inherited ??= new Set(await installedEncryptedVnis(this.opts.netns, this.table));
      const encryptedVnis = [...new Set([...nets.filter((n) => n.encrypted).map((n) => n.vni), ...this.#inherited])];
      await applyOverlayFilter(this.opts.netns, this.table, { peers: this.#peers, encryptedVnis });
      if (this.opts.localAddress && this.#ring && encryptedVnis.length) {
        const ops = await reconcileEncryption(this.opts.netns, { local: this.opts.localAddress, remotes: this.#peers, ring: this.#ring });
        if (ops.length) this.opts.log({ msg: 'encryption SAs reconciled', ops: ops.length, keyTag: String(primaryKey(this.#ring)?.tag ?? '-') });
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

export function ringStatus(ring: KeyRing | undefined, now = Date.now()): EncryptionStatus {
  const p = ring ? primaryKey(ring) : undefined;
  if (!ring || !p) return { encrypted: true };
  return { encrypted: true, keyTag: String(p.tag), primaryKeyAgeSeconds: Math.max(0, Math.round((now - Date.parse(p.created)) / 1000)), keys: ring.keys.length };
}

export function parseRing(v: string): KeyRing | undefined {
  try {
    const r = JSON.parse(v) as KeyRing;
    const ok = Array.isArray(r.keys) && r.keys.every((k) => Number.isInteger(k.tag) && typeof k.key === 'string'
      && /^[0-9a-f]+$/.test(k.key) && k.key.length === KEY_BYTES * 2 && typeof k.created === 'string');
    return ok && r.keys.length > 0 ? r : undefined;
  } catch {
    return undefined;
  }
}

function freshKey(): { key: string; created: string } {
  return { key: randomBytes(KEY_BYTES).toString('hex'), created: new Date().toISOString() };
}

/** An error for logs: its code and message (weft's messages never carry keys). */
function safeError(err: unknown): string {
  return err instanceof WeftError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
}
