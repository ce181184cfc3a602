/**
 * rtnetlink notifications from one namespace as an async iterator: link,
 * address, route and neighbour changes, and VXLAN L2/L3 misses (the kernel
 * multicasts an RTM_GETNEIGH to RTNLGRP_NEIGH, docs/netlink.md).
 *
 * Netlink is lossy kernel->user: when the socket's receive buffer overflows
 * the kernel drops notifications and the next read fails with ENOBUFS. That
 * is surfaced as an `overrun` event, never a dead iterator: the caller
 * re-dumps what it watches (docs/reliability.md N2). The in-process queue is
 * bounded the same way.
 */
import { errnoOf } from '../../errors.js';
import type { NetlinkClient } from '../client.js';
import type { Message } from '../message.js';
import { type Address, decodeAddress } from './addr.js';
import {
  RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETNEIGH, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH,
  RTM_NEWROUTE, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK, RTNLGRP_NEIGH,
} from './constants.js';
import { openClient } from './handle.js';
import { type Link, decodeLink } from './link.js';
import { type Neighbour, decodeNeighbour } from './neigh.js';
import { type Route, decodeRoute } from './route.js';

export type EventGroup = 'link' | 'addr' | 'neigh' | 'route';

export type RtnlEvent =
  | { type: 'link'; action: 'new' | 'del'; link: Link }
  | { type: 'addr'; action: 'new' | 'del'; address: Address }
  | { type: 'route'; action: 'new' | 'del'; route: Route }
  | { type: 'neigh'; action: 'new' | 'del'; neighbour: Neighbour }
  /** A VXLAN device found no FDB entry (l2: `neighbour.lladdr`) or no neighbour (l3: `neighbour.dst`). */
  | { type: 'miss'; miss: 'l2' | 'l3'; neighbour: Neighbour }
  /** Notifications were lost (ENOBUFS or the queue limit): re-read the state you watch. */
  | { type: 'overrun'; reason: string }
  /** A notification that could not be decoded or a socket error; the stream continues. */
  | { type: 'error'; error: Error };

export interface EventOptions {
  netns?: string;
  /** Default: every group. */
  groups?: EventGroup[];
  /** Kernel receive buffer for the socket (default 4 MiB). */
  receiveBufferBytes?: number;
  /** Events kept while nobody reads before an overrun is reported (default 65536). */
  maxQueued?: number;
}

const GROUPS: Record<EventGroup, number[]> = {
  link: [RTNLGRP_LINK],
  addr: [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
  route: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
  neigh: [RTNLGRP_NEIGH],
};

/** Decodes one notification; undefined for types weft does not watch. */
export function decodeEvent(m: Message): RtnlEvent | undefined {
  switch (m.type) {
    case RTM_NEWLINK: case RTM_DELLINK:
      return { type: 'link', action: m.type === RTM_NEWLINK ? 'new' : 'del', link: decodeLink(m) };
    case RTM_NEWADDR: case RTM_DELADDR:
      return { type: 'addr', action: m.type === RTM_NEWADDR ? 'new' : 'del', address: decodeAddress(m) };
    case RTM_NEWROUTE: case RTM_DELROUTE:
      return { type: 'route', action: m.type === RTM_NEWROUTE ? 'new' : 'del', route: decodeRoute(m) };
    case RTM_NEWNEIGH: case RTM_DELNEIGH:
      return { type: 'neigh', action: m.type === RTM_NEWNEIGH ? 'new' : 'del', neighbour: decodeNeighbour(m) };
    case RTM_GETNEIGH: {
      // L2 misses come as AF_BRIDGE; L3 misses carry the family of the
      // address being resolved (seen on 6.18), so any family counts.
      const n = decodeNeighbour(m);
      return { type: 'miss', miss: n.dst !== undefined && n.lladdr === undefined ? 'l3' : 'l2', neighbour: n };
    }
    default:
      return undefined;
  }
}

/**
 * A subscription. Equivalent to `ip monitor link address route neigh`
 * (misses: `ip monitor neigh` shows them as `miss`).
 */
export class RtnlEvents implements AsyncIterable<RtnlEvent> {
  readonly client: NetlinkClient;
  readonly #max: number;
  #queue: RtnlEvent[] = [];
  #overrun = false;
  #waiter: ((r: IteratorResult<RtnlEvent>) => void) | undefined;
  #closed = false;
  #unsubscribe: () => void;

  private constructor(client: NetlinkClient, max: number) {
    this.client = client;
    this.#max = max;
    this.#unsubscribe = client.onEvent((m) => this.#onMessage(m), (e) => this.#onError(e));
  }

  /** Subscribes in `netns` (or ours); close() when done. */
  static open(opts: EventOptions = {}): RtnlEvents {
    const groups = (opts.groups ?? (['link', 'addr', 'route', 'neigh'] as EventGroup[])).flatMap((g) => GROUPS[g]);
    const client = openClient({
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      groups,
      receiveBufferBytes: opts.receiveBufferBytes ?? 4 << 20,
    });
    return new RtnlEvents(client, opts.maxQueued ?? 65536);
  }

  #push(e: RtnlEvent): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w({ value: e, done: false });
      return;
    }
    if (this.#queue.length >= this.#max) {
      // Drop rather than grow without bound; one overrun tells the reader to resync.
      if (!this.#overrun) {
        this.#overrun = true;
        this.#queue.push({ type: 'overrun', reason: `more than ${this.#max} unread events` });
      }
      return;
    }
    this.#queue.push(e);
  }

  #onMessage(m: Message): void {
    let e: RtnlEvent | undefined;
    try {
      e = decodeEvent(m);
    } catch (err) {
      e = { type: 'error', error: err as Error };
    }
    if (e) this.#push(e);
  }

  #onError(err: Error): void {
    if (errnoOf(err) === 'ENOBUFS') this.#push({ type: 'overrun', reason: 'kernel dropped notifications (ENOBUFS)' });
    else this.#push({ type: 'error', error: err });
  }

  /** The next event (waits); `done` once closed. */
  next(): Promise<IteratorResult<RtnlEvent>> {
    const e = this.#queue.shift();
    if (e) {
      if (e.type === 'overrun') this.#overrun = false;
      return Promise.resolve({ value: e, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => { this.#waiter = resolve; });
  }

  [Symbol.asyncIterator](): AsyncIterator<RtnlEvent> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.client.close();
    this.#queue = [];
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ value: undefined, done: true });
  }
}
