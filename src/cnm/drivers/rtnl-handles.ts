/**
 * The drivers' rtnetlink handles: one per network namespace, opened on first
 * use and shared by every request after it (vishvananda/netlink's Handle),
 * instead of a socket and two setns calls per step. Concurrent requests may
 * share a handle: the client matches each reply to its request by sequence
 * number and runs one dump at a time (netlink/client.ts).
 *
 * An open netlink socket keeps its namespace alive (docs/netlink.md,
 * Handles). So a handle is closed before weft deletes the namespace
 * (forget), after IDLE_MS without use, and at close(); and each use compares
 * the namespace's identity with the one the handle was opened in, reopening
 * when the name now stands for another namespace (deleted and created again
 * behind weft's back). A name that is gone fails as a fresh open does
 * (NetnsNotFoundError). A handle whose socket failed or timed out is
 * replaced on the next use. Nothing here outlives the
 * process, so kill -9 and restart start from no handles.
 */
import { Rtnl } from '../../netlink/rtnetlink/handle.js';
import { NetlinkTimeoutError } from '../../errors.js';
import { netnsIdentity } from '../../io/netns.js';

/** A handle unused this long is closed (it would pin a namespace deleted behind weft's back). */
const IDLE_MS = 30_000;

interface Entry {
  readonly rtnl: Rtnl;
  /** netnsIdentity at open; undefined for our own namespace. */
  readonly identity: string | undefined;
  users: number;
  /** No longer handed out; closed when its last user is done. */
  retired: boolean;
  /** The socket failed (lost replies) or a request timed out. */
  broken: boolean;
  idle: NodeJS.Timeout | undefined;
}

export class RtnlHandles {
  /** Keyed by namespace name or path; '' is ours. */
  #entries = new Map<string, Entry>();
  #closed = false;

  constructor(private readonly idleMs = IDLE_MS) {}

  /** Runs fn with the handle for netns (or ours). After close(), with a handle of its own. */
  async run<T>(netns: string | undefined, fn: (rtnl: Rtnl) => Promise<T>): Promise<T> {
    const e = this.#acquire(netns);
    try {
      return await fn(e.rtnl);
    } catch (err) {
      if (err instanceof NetlinkTimeoutError) e.broken = true;
      throw err;
    } finally {
      this.#release(netns ?? '', e);
    }
  }

  /** Closes the handle for netns (as soon as its current users are done): call before deleting the namespace. */
  forget(netns: string): void {
    const e = this.#entries.get(netns);
    if (e) this.#retire(netns, e);
  }

  /** Closes every handle; later runs open and close their own. */
  close(): void {
    this.#closed = true;
    for (const [key, e] of this.#entries) this.#retire(key, e);
  }

  /** Handles open now, for tests and status. */
  get size(): number {
    return this.#entries.size;
  }

  #acquire(netns: string | undefined): Entry {
    const key = netns ?? '';
    let e = this.#entries.get(key);
    if (e && (e.broken || (netns !== undefined && netnsIdentity(netns) !== e.identity))) {
      this.#retire(key, e);
      e = undefined;
    }
    if (!e) {
      e = open(netns);
      if (!this.#closed) this.#entries.set(key, e);
      else e.retired = true;
    }
    e.users++;
    if (e.idle) clearTimeout(e.idle);
    e.idle = undefined;
    return e;
  }

  #release(key: string, e: Entry): void {
    e.users--;
    if (e.users > 0) return;
    if (e.retired) {
      e.rtnl.close();
      return;
    }
    e.idle = setTimeout(() => {
      if (e.users === 0 && this.#entries.get(key) === e) this.#retire(key, e);
    }, this.idleMs);
    e.idle.unref();
  }

  #retire(key: string, e: Entry): void {
    if (this.#entries.get(key) === e) this.#entries.delete(key);
    e.retired = true;
    if (e.idle) clearTimeout(e.idle);
    e.idle = undefined;
    if (e.users === 0) e.rtnl.close();
  }
}

function open(netns: string | undefined): Entry {
  const before = netns === undefined ? undefined : netnsIdentity(netns);
  const rtnl = Rtnl.open(netns === undefined ? {} : { netns });
  // Replaced while opening: the socket may sit in either; an identity no name has makes the next use reopen.
  const identity = netns === undefined || netnsIdentity(netns) === before ? before : 'replaced';
  const e: Entry = { rtnl, identity, users: 0, retired: false, broken: false, idle: undefined };
  rtnl.client.onEvent(() => undefined, () => { e.broken = true; });
  return e;
}
