/**
 * One DNS listener: a UDP socket (batched recvmmsg/sendmmsg) and a TCP
 * server on one address inside one namespace, answering for a set of
 * networks. Policy per packet, in order (docs/reliability.md):
 *   shorter than a header, oversized, or a response (QR) -> silence;
 *   client outside every network / the allow list -> silence;
 *   over its rate -> silence;
 *   malformed -> FORMERR (header only, never larger than the query);
 *   opcode != QUERY -> NOTIMP; bad counts -> FORMERR; EDNS version -> BADVERS;
 *   zone transfers (AXFR, IXFR) -> REFUSED;
 *   local records -> answer from a template (the answers that fit, TC=1, when over the UDP size);
 *   a local CNAME leaving the local names -> its target forwarded, the chain answered (chase.ts);
 *   otherwise forward (REFUSED at the concurrency cap, SERVFAIL when every
 *   upstream fails or forwarding is off).
 */
import { AF_INET } from '../io/sockaddr.js';
import { performance } from 'node:perf_hooks';
import { DnsDecodeError, WeftError } from '../errors.js';
import { serveTcp, type TcpConnection, type TcpServer } from '../io/tcp.js';
import { SOCKADDR_SLOT, UdpSendBatch, UdpSocket, type UdpBatchView } from '../io/udp.js';
import { CLASS_IN, FLAG_TC, HEADER_SIZE, MAX_MESSAGE, Rcode, RrType } from '../wire/dns/constants.js';
import { Accept, QueryInfo, acceptQuery, parseQuery, udpLimit } from '../wire/dns/query.js';
import { buildTemplate, writeError, writeFromTemplate, writeTruncatedReply, type QuestionShape, type Template } from './answer.js';
import { Chase, forwardChase } from './chase.js';
import { Forwarder } from './forwarder.js';
import type { HostPort } from './hostport.js';
import type { RateLimiter } from './ratelimit.js';
import type { DnsResolver } from './resolver.js';
import { ClientScopes, type NetworkScope, type Scope, listenerIngress } from './scope.js';
import { CACHE_HITS, CACHE_MISSES, RESPONSES_BY_RCODE, retireListener, trackListener } from './metrics.js';

export interface ListenOptions {
  /** Address to bind inside the namespace (Docker: 127.0.0.11; or a network gateway). */
  address: string;
  /** Default 53; 0 picks a free port (the same one for TCP when possible). */
  port?: number;
  /** Namespace name or path; absent: the daemon's own namespace. */
  netns?: string;
  /** Networks whose names this listener answers, first match wins. */
  networks: (string | NetworkScope)[];
  /** Client source subnets allowed at all (CIDR); absent: whoever can reach the address. */
  allow?: string[];
  /** Upstreams for this listener (defaults to the service's); [] disables forwarding (internal networks). */
  upstreams?: HostPort[];
  /** Single-label A/AAAA names not found locally get empty NOERROR instead of forwarding (Docker with user ndots). */
  singleLabelNoForward?: boolean;
  /** Serve TCP too (default true). */
  tcp?: boolean;
  /** Forward from the daemon's own namespace, where the upstreams are reachable, not from `netns`. */
  forwardFromHost?: boolean;
}

export interface ListenerLimits {
  rateLimiter?: RateLimiter | undefined;
  /** Largest UDP response we send, whatever EDNS asks (default 1232). */
  maxUdpResponse: number;
  /** UDP size we advertise in OPT. */
  ednsSize: number;
  forwardTimeoutMs: number;
  forwardBudgetMs: number;
  maxInflightForwards: number;
  tcpIdleMs: number;
  tcpMaxQueriesPerConn: number;
  tcpMaxConnsPerClient: number;
  tcpMaxConns: number;
  maxCacheEntries: number;
  /**
   * A query that waited longer than this in the socket's receive queue
   * (kernel arrival timestamp) is dropped unanswered (default 250 ms;
   * 0 turns the check off).
   */
  maxQueueAgeMs?: number;
  log: (msg: string) => void;
}

export interface DnsStats {
  queries: number;
  answered: number;
  forwarded: number;
  formerr: number;
  servfail: number;
  refused: number;
  truncated: number;
  droppedSource: number;
  droppedRate: number;
  droppedOther: number;
  /** Replies the socket would not take (send buffer full) even after one retry. */
  droppedSend: number;
  /** Queries the kernel dropped before we read them (receive buffer full; SO_MEMINFO). */
  droppedKernel: number;
  /** Queries dropped because they waited in the receive queue longer than maxQueueAgeMs (overload). */
  droppedLate: number;
  tcpConnections: number;
}

export function emptyStats(): DnsStats {
  return {
    queries: 0, answered: 0, forwarded: 0, formerr: 0, servfail: 0, refused: 0, truncated: 0,
    droppedSource: 0, droppedRate: 0, droppedOther: 0, droppedSend: 0, droppedKernel: 0, droppedLate: 0, tcpConnections: 0,
  };
}

/** Returned by #handle: no reply (dropped). */
const NO_REPLY = 0;
/** Returned by #handle: a forward started; its callback replies later. */
const FORWARDED = -1;
/** Datagrams per recvmmsg: a whole burst of a busy client is read in one syscall. */
const UDP_BATCH = 128;
/**
 * Replies go out every this many: the first query of a full batch then
 * waits for 16 answers to be written, not 128 (~0.5 ms at saturation).
 */
const REPLY_FLUSH = 16;
/**
 * Default maxQueueAgeMs. A queue that old means overload (thousands of
 * queries behind): shedding them keeps answers to fresh queries fast, as
 * the small buffers of dnsmasq/unbound do. Shorter would also drop queries
 * that only waited out a scheduling stall of a busy VM (100 ms did).
 */
const DEFAULT_MAX_QUEUE_AGE_MS = 250;
/** Receive slot: larger queries are dropped (TCP carries big ones). */
const UDP_SLOT = 2048;
/** SO_RCVBUF(FORCE): room for ~8k queued queries while the loop is busy elsewhere. */
const UDP_RCVBUF = 8 << 20;
const TCP_INFLIGHT_PER_CONN = 16;

export class DnsListener {
  readonly stats = emptyStats();
  #udp: UdpSocket | undefined;
  #tcp: TcpServer | undefined;
  #send: UdpSendBatch;
  #q = new QueryInfo();
  #scopes: ClientScopes;
  #forwarder: Forwarder | undefined;
  #version = -1;
  #cacheSize = 0;
  #tcpOut = Buffer.alloc(2 + MAX_MESSAGE);
  #tcpClients = new Map<string, number>();
  #closed = false;
  #lastRefusedLog = 0;
  #addrLen = 16;
  /** Forwarded answers waiting for this tick's sendmmsg. */
  #fwdOut: UdpSendBatch;
  #fwdCount = 0;
  readonly #maxQueueAgeMs: number;
  address = '';
  port = 0;

  constructor(readonly opts: ListenOptions, private readonly resolver: DnsResolver, private readonly limits: ListenerLimits, upstreams: HostPort[]) {
    this.#scopes = new ClientScopes(opts.networks, opts.allow);
    this.#send = new UdpSendBatch(Math.max(512, limits.maxUdpResponse), UDP_BATCH);
    this.#fwdOut = new UdpSendBatch(Math.max(512, limits.maxUdpResponse), 64);
    this.#maxQueueAgeMs = limits.maxQueueAgeMs ?? DEFAULT_MAX_QUEUE_AGE_MS;
    const port = opts.port ?? 53;
    // Never forward to ourselves (aardvark#415; Docker filterExtServers).
    const ups = (opts.upstreams ?? upstreams).filter((u) => !(u.address === opts.address && (u.port === port || port === 0)));
    if (ups.length > 0) {
      this.#forwarder = new Forwarder({
        upstreams: ups, timeoutMs: limits.forwardTimeoutMs, budgetMs: limits.forwardBudgetMs, maxInflight: limits.maxInflightForwards, ednsSize: limits.ednsSize,
        ...(opts.netns === undefined || opts.forwardFromHost ? {} : { netns: opts.netns }),
      });
    }
    trackListener(this);
  }

  /** Opens the sockets. */
  async start(): Promise<void> {
    const o = this.opts;
    const device = listenerIngress(o.networks);
    const udp = UdpSocket.open({
      address: o.address, port: o.port ?? 53, batchSize: UDP_BATCH, slotSize: UDP_SLOT, recvBufferBytes: UDP_RCVBUF, sendBufferBytes: 4 << 20,
      ...(o.netns === undefined ? {} : { netns: o.netns }), ...(device ? { device } : {}),
    });
    this.#udp = udp;
    if (this.#maxQueueAgeMs > 0) udp.setTimestamps(true);
    // Fix the batch's address stride once; replies copy source sockaddrs straight in.
    this.#addrLen = udp.family === AF_INET ? 16 : SOCKADDR_SLOT;
    this.#send.setDestinationSockaddr(0, new Uint8Array(this.#addrLen));
    const local = udp.localAddress();
    this.address = local.address;
    this.port = local.port;
    try {
      if (o.tcp !== false) {
        this.#tcp = await serveTcp(o.address, this.port, o.netns, (c) => this.#onTcp(c), {
          maxConnections: this.limits.tcpMaxConns,
          onError: (err) => this.limits.log(`dns tcp ${this.address}:${this.port}: ${err.message}`),
          ...(device ? { device } : {}),
        });
      }
    } catch (err) {
      udp.close();
      throw err;
    }
    udp.onBatch((v) => this.#onUdp(v), () => {
      this.stats.droppedOther++;
    });
  }

  get forwarder(): Forwarder | undefined {
    return this.#forwarder;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.updateStats();
    retireListener(this);
    this.#udp?.close();
    this.#forwarder?.close();
    const tcp = this.#tcp;
    if (tcp) await tcp.close();
  }

  #refresh(): void {
    if (this.#version !== this.resolver.version) {
      this.#version = this.resolver.version;
      this.#scopes.clear();
      this.#cacheSize = 0;
    }
  }

  /** Reads kernel-side counters into stats (called by DnsService.stats()). */
  updateStats(): void {
    const udp = this.#udp;
    if (!udp || udp.closed) return;
    try {
      this.stats.droppedKernel = udp.drops();
    } catch {
      // SO_MEMINFO unsupported: leave the counter as it is
    }
  }

  /** The UDP hot path: one recvmmsg batch in, one sendmmsg batch out, nothing allocated on a cache hit. */
  #onUdp(view: UdpBatchView): void {
    this.#refresh();
    const batch = this.#send;
    const limiter = this.limits.rateLimiter;
    const scopes = this.#scopes;
    const open = scopes.open && !limiter;
    const now = limiter ? performance.now() : 0;
    const slot = batch.slotSize;
    const addrLen = this.#addrLen;
    const inAddrs = view.addrs;
    const outAddrs = batch.addrs;
    const buf = view.buffer;
    const maxAge = this.#maxQueueAgeMs;
    const stamps = view.stamps;
    const wall = maxAge > 0 ? Date.now() : 0;
    let n = 0;
    for (let i = 0; i < view.count; i++) {
      const len = view.length(i);
      this.stats.queries++;
      if (len < HEADER_SIZE || view.truncated(i)) {
        this.stats.droppedOther++;
        continue;
      }
      if (maxAge > 0) {
        const t = stamps[i]!;
        if (t !== 0 && wall - t > maxAge) {
          this.stats.droppedLate++;
          continue;
        }
      }
      let scope: Scope | undefined;
      if (open) scope = scopes.forIPv4(0);
      else {
        let client: number | string;
        const v4 = view.sourceIPv4(i);
        if (v4 !== 0) {
          client = v4;
          scope = scopes.forIPv4(v4);
        } else {
          client = view.sourceAddress(i);
          scope = scopes.forAddress(client);
        }
        if (!scope) {
          this.stats.droppedSource++;
          continue;
        }
        if (limiter && !limiter.allow(client, now)) {
          this.stats.droppedRate++;
          continue;
        }
      }
      const w = this.#handle(buf, view.offset(i), len, scope!, false, batch.buffer, n * slot, slot, view, i);
      if (w > 0) {
        RESPONSES_BY_RCODE[batch.buffer[n * slot + 3]! & 0xf]!.value++;
        batch.setLength(n, w);
        const from = i * SOCKADDR_SLOT;
        const to = n * addrLen;
        for (let k = 0; k < addrLen; k++) outAddrs[to + k] = inAddrs[from + k]!;
        if (++n === REPLY_FLUSH) {
          this.#flush(n);
          n = 0;
        }
      }
    }
    if (n > 0) this.#flush(n);
  }

  /** sendmmsg the first n replies; a short send (EAGAIN) is retried once for the rest, then counted. */
  #flush(n: number): void {
    const udp = this.#udp;
    if (!udp || udp.closed) return;
    const batch = this.#send;
    let sent: number;
    try {
      sent = udp.sendBatch(batch, n);
    } catch {
      this.stats.droppedSend += n;
      return;
    }
    if (sent >= n) return;
    // Slide the unsent replies to the front and try once more.
    const slot = batch.slotSize;
    const a = this.#addrLen;
    const rest = n - sent;
    batch.buffer.copyWithin(0, sent * slot, n * slot);
    batch.addrs.copyWithin(0, sent * a, n * a);
    batch.lengths.copyWithin(0, sent, n);
    try {
      sent = udp.sendBatch(batch, rest);
    } catch {
      sent = 0;
    }
    this.stats.droppedSend += rest - sent;
  }

  /**
   * Answers the query at query[qoff, qoff+qlen) into out[off..]; returns the
   * length, NO_REPLY or FORWARDED. For UDP, `view`/`slot` say where the
   * client's sockaddr is (copied only when forwarding); `tcpReply`
   * receives a forwarded answer over TCP.
   */
  #handle(query: Uint8Array, qoff: number, qlen: number, scope: Scope, tcp: boolean, out: Uint8Array, off: number, room: number,
    view: UdpBatchView | null, slot: number, tcpReply?: (bytes: Buffer | null, shape: QuestionShape, copy: Buffer) => void): number {
    const q = this.#q;
    const ednsSize = this.limits.ednsSize;
    try {
      parseQuery(query, qlen, q, qoff);
    } catch (err) {
      if (!(err instanceof DnsDecodeError)) throw err;
      // Nothing for a datagram claiming to be a response: avoids ping-pong.
      if (query[qoff + 2]! & 0x80) return NO_REPLY;
      this.stats.formerr++;
      return writeError(query, undefined, Rcode.FORMERR, out, off, ednsSize, qoff);
    }
    switch (acceptQuery(q)) {
      case Accept.IGNORE:
        this.stats.droppedOther++;
        return NO_REPLY;
      case Accept.NOTIMP:
        return writeError(query, q, Rcode.NOTIMP, out, off, ednsSize, qoff);
      case Accept.FORMERR:
        this.stats.formerr++;
        return writeError(query, undefined, Rcode.FORMERR, out, off, ednsSize, qoff);
      case Accept.BADVERS:
        return writeError(query, q, Rcode.BADVERS, out, off, ednsSize, qoff);
      case Accept.REFUSED:
        this.stats.refused++;
        return writeError(query, q, Rcode.REFUSED, out, off, ednsSize, qoff);
    }
    const limit = tcp ? MAX_MESSAGE : Math.min(room, udpLimit(q, this.limits.maxUdpResponse));
    const entry = this.#lookup(scope, q, query, qoff);
    if (entry === 'servfail') {
      this.stats.servfail++;
      return writeError(query, q, Rcode.SERVFAIL, out, off, ednsSize, qoff);
    }
    const chase = entry instanceof Chase ? entry : undefined;
    if (entry !== 'forward' && (!chase || !this.#forwarder)) {
      this.stats.answered++;
      const len = writeFromTemplate(chase ? chase.local : (entry as Template), query, q, out, off, limit, ednsSize, qoff);
      if (out[off + 2]! & (FLAG_TC >> 8)) this.stats.truncated++;
      return len;
    }
    const fwd = this.#forwarder;
    if (!fwd) {
      this.stats.servfail++;
      return writeError(query, q, Rcode.SERVFAIL, out, off, ednsSize, qoff);
    }
    if (!fwd.tryAcquire()) {
      this.stats.refused++;
      const t = Date.now();
      if (t - this.#lastRefusedLog > 2000) {
        this.#lastRefusedLog = t;
        this.limits.log(`dns: more than ${fwd.maxInflight} concurrent forwarded queries on ${this.address}:${this.port}, answering REFUSED`);
      }
      return writeError(query, q, Rcode.REFUSED, out, off, ednsSize, qoff);
    }
    this.stats.forwarded++;
    // Everything the reply needs must be copied: the receive buffer and q are reused.
    const copy = Buffer.from(query.subarray(qoff, qoff + qlen));
    const shape: QuestionShape = { qdcount: 1, questionEnd: q.questionEnd, hasEdns: q.hasEdns, ednsFlags: q.ednsFlags };
    const question = { key: q.key, qtype: q.qtype, qclass: q.qclass };
    const dest = view ? Buffer.from(view.sourceSockaddr(slot)) : null;
    void (chase ? forwardChase(fwd, chase, copy, tcp, ednsSize) : fwd.forward(copy, question, tcp)).then((reply) => {
      if (reply === null) this.stats.servfail++;
      if (tcpReply) tcpReply(reply, shape, copy);
      else if (dest) this.#udpReply(copy, shape, reply, limit, dest);
    });
    return FORWARDED;
  }

  #lookup(scope: Scope, q: QueryInfo, query: Uint8Array, qoff: number): Template | Chase | 'forward' | 'servfail' {
    if (q.qclass !== CLASS_IN) return 'forward';
    const at = qoff + HEADER_SIZE;
    const nameLen = q.nameEnd - HEADER_SIZE;
    let entry = scope.cache.get(query, at, nameLen, q.nameHash, q.qtype, q.qclass);
    if (entry !== undefined) {
      CACHE_HITS.value++;
      return entry;
    }
    CACHE_MISSES.value++;
    const key = q.key;
    const res = this.resolver.resolve(scope.networks, key, q.qtype);
    if (res.kind === 'forward') {
      const single = this.opts.singleLabelNoForward && q.labels === 1 && (q.qtype === RrType.A || q.qtype === RrType.AAAA);
      entry = single ? buildTemplate(key, q.qtype, q.qclass, { kind: 'nodata' }) : 'forward';
    } else if (res.kind === 'servfail') {
      entry = 'servfail';
    } else {
      try {
        entry = res.kind === 'chase'
          ? new Chase(res.chain, res.target, buildTemplate(key, q.qtype, q.qclass, { kind: 'answer', answers: res.chain, additionals: [] }))
          : buildTemplate(key, q.qtype, q.qclass, res);
      } catch (err) {
        if (!(err instanceof WeftError)) throw err;
        entry = 'servfail';
      }
    }
    // Bounded memory: forget everything rather than grow without limit.
    if (++this.#cacheSize > this.limits.maxCacheEntries) {
      this.#scopes.clear();
      this.#cacheSize = 1;
    }
    scope.cache.set(query, at, nameLen, q.nameHash, q.qtype, q.qclass, entry);
    return entry;
  }

  /** Queues a forwarded answer (or SERVFAIL / TC) for the client; queued replies leave in one sendmmsg. */
  #udpReply(query: Buffer, shape: QuestionShape, reply: Buffer | null, limit: number, dest: Buffer): void {
    const sock = this.#udp;
    if (!sock || sock.closed) return;
    const batch = this.#fwdOut;
    const i = this.#fwdCount;
    const at = i * batch.slotSize;
    let len: number;
    if (reply === null) {
      len = writeError(query, shape, Rcode.SERVFAIL, batch.buffer, at, this.limits.ednsSize);
    } else if (reply.length > limit || reply.length > batch.slotSize) {
      // No amplification: an upstream answer bigger than the client allows keeps the answers that fit, TC=1.
      len = writeTruncatedReply(reply, query, shape, batch.buffer, at, Math.min(limit, batch.slotSize), this.limits.ednsSize);
      this.stats.truncated++;
    } else {
      batch.buffer.set(reply, at);
      len = reply.length;
    }
    RESPONSES_BY_RCODE[batch.buffer[at + 3]! & 0xf]!.value++;
    batch.setLength(i, len);
    batch.setDestinationSockaddr(i, dest);
    this.#fwdCount = i + 1;
    if (this.#fwdCount === batch.capacity) this.#flushForwarded();
    else if (i === 0) setImmediate(() => this.#flushForwarded());
  }

  #flushForwarded(): void {
    const n = this.#fwdCount;
    this.#fwdCount = 0;
    const sock = this.#udp;
    if (n === 0 || !sock || sock.closed) return;
    let sent = 0;
    try {
      sent = sock.sendBatch(this.#fwdOut, n);
    } catch {
      // counted below
    }
    this.stats.droppedSend += n - sent;
  }

  #onTcp(conn: TcpConnection): void {
    this.stats.tcpConnections++;
    const client = conn.remoteAddress ?? '';
    const scope = this.#scopes.forAddress(client);
    const count = this.#tcpClients.get(client) ?? 0;
    if (!scope || count >= this.limits.tcpMaxConnsPerClient) {
      if (!scope) this.stats.droppedSource++;
      else this.stats.droppedRate++;
      conn.destroy();
      return;
    }
    this.#tcpClients.set(client, count + 1);
    conn.once('close', () => {
      const c = (this.#tcpClients.get(client) ?? 1) - 1;
      if (c <= 0) this.#tcpClients.delete(client);
      else this.#tcpClients.set(client, c);
    });
    conn.on('error', () => conn.destroy());
    conn.setNoDelay(true);
    // Idle (or 1-byte-per-second) connections are closed: CVE-2024-8418.
    conn.setTimeout(this.limits.tcpIdleMs, () => conn.destroy());
    let pending: Buffer = Buffer.alloc(0);
    let served = 0;
    let inflight = 0;
    const send = (bytes: Uint8Array) => {
      if (conn.destroyed) return;
      RESPONSES_BY_RCODE[bytes[3]! & 0xf]!.value++;
      const frame = Buffer.alloc(2 + bytes.length);
      frame.writeUInt16BE(bytes.length, 0);
      frame.set(bytes, 2);
      conn.write(frame);
      if (served >= this.limits.tcpMaxQueriesPerConn && inflight === 0) conn.end();
    };
    const pump = () => {
      while (pending.length >= 2 && !conn.destroyed) {
        if (inflight >= TCP_INFLIGHT_PER_CONN) {
          conn.pause();
          return;
        }
        const n = pending.readUInt16BE(0);
        if (n === 0) {
          conn.destroy();
          return;
        }
        if (pending.length < 2 + n) return;
        const query = pending.subarray(2, 2 + n);
        pending = pending.subarray(2 + n);
        if (served >= this.limits.tcpMaxQueriesPerConn) {
          conn.end();
          return;
        }
        served++;
        this.stats.queries++;
        if (n < HEADER_SIZE) {
          conn.destroy();
          return;
        }
        if (this.limits.rateLimiter && !this.limits.rateLimiter.allow(client, performance.now())) {
          this.stats.droppedRate++;
          continue;
        }
        this.#refresh();
        const out = this.#tcpOut;
        const w = this.#handle(query, 0, n, scope, true, out, 2, MAX_MESSAGE, null, 0, (reply, shape, copy) => {
          inflight--;
          if (reply) send(reply);
          else {
            const e = Buffer.alloc(shape.questionEnd + 11);
            send(e.subarray(0, writeError(copy, shape, Rcode.SERVFAIL, e, 0, this.limits.ednsSize)));
          }
          if (conn.isPaused()) {
            conn.resume();
            pump();
          }
        });
        if (w > 0) send(Buffer.from(out.subarray(2, 2 + w)));
        else if (w === FORWARDED) inflight++;
      }
    };
    conn.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pump();
    });
  }
}
