/**
 * Forwards questions the local records cannot answer to up to 3 upstreams,
 * from inside the listener's namespace (so an internal network's routing
 * stays in force: CVE-2024-29018).
 *
 * - UDP goes through a small pool of long-lived sockets per upstream
 *   (connected, so only that upstream's datagrams arrive), each query under
 *   a fresh random ID unused on its socket; replies are matched by ID and
 *   must decode cleanly and repeat our question (RFC 5452). A socket is
 *   retired after ROTATE_QUERIES queries or ROTATE_MS, so source ports still
 *   change (dnsmasq keeps a pool the same way), and closed when idle.
 *   Anything that does not match is ignored and we keep waiting until the
 *   deadline (TuDoor: one junk packet must not fail the query).
 * - SERVFAIL/REFUSED from an upstream -> next upstream. TC over UDP -> the
 *   same upstream over TCP (a connection per query: the rare path).
 *   Per-attempt timeout plus a total budget keep the client's SERVFAIL
 *   ahead of glibc's 5 s timeout (docs/reliability.md F1).
 * - ICMP port unreachable on a pool socket fails every query waiting on it
 *   (they all went to that upstream) and closes the socket.
 * - At most `maxInflight` forwards at once; callers answer REFUSED beyond
 *   (tryAcquire), as CoreDNS max_concurrent does.
 * - EDNS is hop by hop: the client's cookie (RFC 7873) is not sent upstream
 *   and an upstream's is not relayed; a relayed OPT advertises our own UDP
 *   size, not the upstream's.
 */
import { randomFillSync } from 'node:crypto';
import { UdpSendBatch, UdpSocket } from '../io/udp.js';
import { Rcode } from '../wire/dns/constants.js';
import { DnsDecodeError } from '../errors.js';
import { OPTION_COOKIE, messageLayout, setOptUdpSize, withoutOption } from '../wire/dns/layout.js';
import { decodeMessage } from '../wire/dns/message.js';
import { nameKey } from '../wire/dns/name.js';
import type { HostPort } from './hostport.js';
import { connectTcp, type TcpConnection } from '../io/tcp.js';
import { UPSTREAM_SECONDS } from './metrics.js';

export interface ForwarderOptions {
  upstreams: HostPort[];
  netns?: string;
  /** Per upstream attempt (default 2000 ms). */
  timeoutMs?: number;
  /** Whole forward, all attempts (default 4500 ms). */
  budgetMs?: number;
  /** Concurrent forwards (default 1024, Docker's maxConcurrent). */
  maxInflight?: number;
  /** UDP size relayed replies advertise in their OPT (ours; default 1232). */
  ednsSize?: number;
}

export interface Question {
  key: string;
  qtype: number;
  qclass: number;
}

/** Most upstreams tried (Docker maxExtDNS). */
export const MAX_UPSTREAMS = 3;
/** Receive slot for UDP replies; a larger reply is treated like TC and fetched over TCP. */
const UDP_REPLY_SLOT = 4096;
/** Sockets per upstream. */
export const POOL_SIZE = 4;
/** A pool socket takes this many queries, or lives this long, before a fresh one (new port) replaces it. */
export const ROTATE_QUERIES = 256;
export const ROTATE_MS = 10_000;
/** Outgoing queries per sendmmsg, and their slot (UDP queries reach us in 2 KiB receive slots). */
const TX_BATCH = 64;
const TX_SLOT = 2048;
/** An idle pool socket is closed after this long. */
const IDLE_CLOSE_MS = 5000;

const ids = new Uint16Array(4096);
let idPos = ids.length;
function randomId(): number {
  if (idPos >= ids.length) {
    randomFillSync(ids);
    idPos = 0;
  }
  return ids[idPos++]!;
}

type Attempt = { kind: 'reply'; bytes: Buffer } | { kind: 'tc' } | { kind: 'fail' };

interface Pending {
  q: Question;
  done: (a: Attempt) => void;
}

/** One connected UDP socket to one upstream and the queries waiting on it. */
class PoolSocket {
  readonly pending = new Map<number, Pending>();
  readonly born = Date.now();
  uses = 0;
  retired = false;
  #idle: NodeJS.Timeout | undefined;
  #closing = false;
  /** Queries queued this tick, sent together by one sendmmsg from a microtask. */
  #tx = new UdpSendBatch(TX_SLOT, TX_BATCH);
  #txIds = new Uint16Array(TX_BATCH);
  #txCount = 0;

  constructor(readonly sock: UdpSocket, private readonly onGone: (p: PoolSocket) => void) {
    sock.onBatch((view) => {
      for (let i = 0; i < view.count; i++) {
        const data = view.data(i);
        if (data.length < 12) continue;
        const id = (data[0]! << 8) | data[1]!;
        const p = this.pending.get(id);
        if (!p) continue;
        if (view.truncated(i)) {
          if (matchesHeader(data, id)) p.done({ kind: 'tc' });
          continue;
        }
        if (!valid(data, id, p.q)) continue;
        p.done(data[2]! & 0x02 ? { kind: 'tc' } : { kind: 'reply', bytes: Buffer.from(data) });
      }
    }, () => {
      // ICMP port unreachable on the connected socket (ECONNREFUSED, or a
      // poll error: libuv stops watching after POLLERR): this upstream is
      // down and the socket is no use; fail its queries, a fresh one replaces it.
      this.close();
    });
  }

  /** A free random ID on this socket, or -1 (practically never: 65536 IDs, at most maxInflight in use). */
  freeId(): number {
    for (let tries = 0; tries < 16; tries++) {
      const id = randomId();
      if (!this.pending.has(id)) return id;
    }
    return -1;
  }

  add(id: number, p: Pending): void {
    if (this.#idle) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
    }
    this.pending.set(id, p);
  }

  remove(id: number): void {
    this.pending.delete(id);
    if (this.pending.size > 0 || this.#closing) return;
    if (this.retired) this.close();
    else {
      this.#idle = setTimeout(() => this.close(), IDLE_CLOSE_MS);
      this.#idle.unref();
    }
  }

  /**
   * Queues `query` under `id`. Everything queued while the listener handles
   * one receive batch goes out in one sendmmsg (the microtask runs when
   * that batch's callback returns). False when it cannot be sent.
   */
  send(query: Uint8Array, id: number): boolean {
    if (query.length > TX_SLOT) {
      const out = Buffer.from(query);
      out[0] = id >> 8;
      out[1] = id & 0xff;
      return this.sock.sendToSockaddr(out, 0, out.length, null);
    }
    const i = this.#txCount++;
    const at = i * TX_SLOT;
    const buf = this.#tx.buffer;
    buf.set(query, at);
    buf[at] = id >> 8;
    buf[at + 1] = id & 0xff;
    this.#tx.setLength(i, query.length);
    this.#txIds[i] = id;
    if (this.#txCount === TX_BATCH) this.#flush();
    else if (i === 0) queueMicrotask(() => this.#flush());
    return true;
  }

  #flush(): void {
    const n = this.#txCount;
    this.#txCount = 0;
    if (n === 0 || this.sock.closed) return;
    let sent = 0;
    try {
      sent = this.sock.sendBatch(this.#tx, n);
    } catch {
      // the unsent fail below
    }
    for (let i = sent; i < n; i++) this.pending.get(this.#txIds[i]!)?.done({ kind: 'fail' });
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
    for (const p of [...this.pending.values()]) p.done({ kind: 'fail' });
    if (!this.sock.closed) this.sock.close();
    this.onGone(this);
  }
}

export class Forwarder {
  readonly upstreams: HostPort[];
  #inflight = 0;
  readonly timeoutMs: number;
  readonly budgetMs: number;
  readonly maxInflight: number;
  /** Live pool sockets per upstream (same index as upstreams). */
  readonly #pools: PoolSocket[][];
  #turn = 0;
  #closed = false;

  constructor(private readonly opts: ForwarderOptions) {
    this.upstreams = opts.upstreams.slice(0, MAX_UPSTREAMS);
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.budgetMs = opts.budgetMs ?? 4500;
    this.maxInflight = opts.maxInflight ?? 1024;
    this.#pools = this.upstreams.map(() => []);
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Open pool sockets (all upstreams). */
  get sockets(): number {
    return this.#pools.reduce((n, p) => n + p.length, 0);
  }

  /** Takes a forwarding slot; false when at the cap (answer REFUSED). */
  tryAcquire(): boolean {
    if (this.#inflight >= this.maxInflight) return false;
    this.#inflight++;
    return true;
  }

  /** Gives back a slot taken with tryAcquire() that will not be forwarded. */
  release(): void {
    this.#inflight--;
  }

  /**
   * Forwards `query` (the client's bytes; not modified) after tryAcquire()
   * succeeded, and releases the slot. Resolves to the reply with the
   * client's ID restored, or null when no upstream gave a usable answer.
   * Never rejects.
   */
  async forward(clientQuery: Uint8Array, q: Question, tcp: boolean): Promise<Buffer | null> {
    const clientId = (clientQuery[0]! << 8) | clientQuery[1]!;
    const deadline = Date.now() + this.budgetMs;
    try {
      const query = withoutOption(clientQuery, OPTION_COOKIE);
      for (let u = 0; u < this.upstreams.length && !this.#closed; u++) {
        const up = this.upstreams[u]!;
        const left = deadline - Date.now();
        if (left <= 0) break;
        const timeout = Math.min(this.timeoutMs, left);
        const t0 = performance.now();
        let r = tcp ? await this.#tcp(up, query, q, timeout) : await this.#udp(u, query, q, timeout);
        if (r.kind === 'tc') r = await this.#tcp(up, query, q, Math.max(1, Math.min(this.timeoutMs, deadline - Date.now())));
        if (r.kind !== 'reply') continue;
        UPSTREAM_SECONDS.since(t0);
        const rcode = r.bytes[3]! & 0xf;
        if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) continue;
        return this.#relayable(r.bytes, clientId);
      }
      return null;
    } catch {
      return null;
    } finally {
      this.#inflight--;
    }
  }

  /** The upstream's reply as the client gets it: its ID, no cookie, our UDP size. */
  #relayable(reply: Buffer, clientId: number): Buffer {
    reply[0] = clientId >> 8;
    reply[1] = clientId & 0xff;
    try {
      const out = withoutOption(reply, OPTION_COOKIE);
      setOptUdpSize(out, this.opts.ednsSize ?? 1232, messageLayout(out));
      return out;
    } catch (err) {
      if (!(err instanceof DnsDecodeError)) throw err;
      return reply; // valid() decoded it, so this does not happen
    }
  }

  /** Closes every pool socket; waiting queries fail. */
  close(): void {
    this.#closed = true;
    for (const pool of this.#pools) for (const ps of [...pool]) ps.close();
  }

  /** A pool socket for upstream u: round robin over the live ones, opening (or replacing retired ones) up to POOL_SIZE. */
  #socket(u: number): PoolSocket {
    const pool = this.#pools[u]!;
    const now = Date.now();
    for (const ps of [...pool]) {
      if (!ps.retired && (ps.uses >= ROTATE_QUERIES || now - ps.born >= ROTATE_MS)) {
        ps.retired = true;
        if (ps.pending.size === 0) ps.close();
      }
    }
    const live = pool.filter((ps) => !ps.retired);
    if (live.length < POOL_SIZE) {
      const up = this.upstreams[u]!;
      const sock = UdpSocket.open({
        address: up.address.includes(':') ? '::' : '0.0.0.0', port: 0, batchSize: 16, slotSize: UDP_REPLY_SLOT,
        ...(this.opts.netns === undefined ? {} : { netns: this.opts.netns }),
      });
      try {
        sock.connect(up.address, up.port);
      } catch (err) {
        sock.close();
        throw err;
      }
      const ps = new PoolSocket(sock, (gone) => {
        const i = pool.indexOf(gone);
        if (i >= 0) pool.splice(i, 1);
      });
      pool.push(ps);
      return ps;
    }
    return live[this.#turn++ % live.length]!;
  }

  #udp(u: number, query: Uint8Array, q: Question, timeoutMs: number): Promise<Attempt> {
    return new Promise((resolve) => {
      let ps: PoolSocket;
      let id: number;
      try {
        ps = this.#socket(u);
        id = ps.freeId();
      } catch {
        resolve({ kind: 'fail' });
        return;
      }
      if (id < 0) {
        resolve({ kind: 'fail' });
        return;
      }
      ps.uses++;
      let finished = false;
      const finish = (a: Attempt) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        ps.remove(id);
        resolve(a);
      };
      const timer = setTimeout(() => finish({ kind: 'fail' }), timeoutMs);
      ps.add(id, { q, done: finish });
      try {
        if (!ps.send(query, id)) finish({ kind: 'fail' });
      } catch {
        finish({ kind: 'fail' });
      }
    });
  }

  async #tcp(up: HostPort, query: Uint8Array, q: Question, timeoutMs: number): Promise<Attempt> {
    const started = Date.now();
    let conn: TcpConnection;
    try {
      conn = await connectTcp(up.address, up.port, this.opts.netns, timeoutMs);
    } catch {
      return { kind: 'fail' };
    }
    const left = Math.max(1, timeoutMs - (Date.now() - started));
    return new Promise((resolve) => {
      const id = randomId();
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      frame.set(query, 2);
      frame.writeUInt16BE(id, 2);
      let pending: Buffer = Buffer.alloc(0);
      let done = false;
      const finish = (a: Attempt) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        conn.destroy();
        resolve(a);
      };
      const timer = setTimeout(() => finish({ kind: 'fail' }), left);
      conn.on('error', () => finish({ kind: 'fail' }));
      conn.on('close', () => finish({ kind: 'fail' }));
      conn.on('data', (chunk: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        while (pending.length >= 2) {
          const n = pending.readUInt16BE(0);
          if (pending.length < 2 + n) return;
          const msg = pending.subarray(2, 2 + n);
          pending = pending.subarray(2 + n);
          if (valid(msg, id, q)) {
            finish({ kind: 'reply', bytes: Buffer.from(msg) });
            return;
          }
        }
      });
      conn.write(frame);
    });
  }
}

function matchesHeader(data: Uint8Array, id: number): boolean {
  return data.length >= 12 && ((data[0]! << 8) | data[1]!) === id && (data[2]! & 0x80) !== 0;
}

/** A reply we may relay: well-formed, a response, our ID, our question. */
function valid(data: Uint8Array, id: number, q: Question): boolean {
  if (!matchesHeader(data, id)) return false;
  try {
    const m = decodeMessage(data);
    const qq = m.questions[0];
    return m.questions.length === 1 && qq!.type === q.qtype && qq!.class === q.qclass && nameKey(qq!.name) === q.key;
  } catch {
    return false;
  }
}
