/**
 * One DNS listener: a UDP socket (batched recvmmsg/sendmmsg) and a TCP
 * server on one address inside one namespace, answering for a set of
 * networks. Policy per packet, in order (reliability §3.3):
 *   shorter than a header, oversized, or a response (QR) -> silence;
 *   client outside every network / the allow list -> silence;
 *   over its rate -> silence;
 *   malformed -> FORMERR (header only, never larger than the query);
 *   opcode != QUERY -> NOTIMP; bad counts -> FORMERR; EDNS version -> BADVERS;
 *   local records -> answer from a template (TC=1 when over the UDP size);
 *   otherwise forward (REFUSED at the concurrency cap, SERVFAIL when every
 *   upstream fails or forwarding is off).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { WeftError } from '../errors.js';
import { UdpSendBatch, UdpSocket, type UdpBatchView } from '../io/udp.js';
import { CLASS_IN, FLAG_TC, HEADER_SIZE, MAX_MESSAGE, Rcode, RrType } from '../wire/dns/constants.js';
import { DnsDecodeError } from '../wire/dns/errors.js';
import { Accept, QueryInfo, acceptQuery, parseQuery, udpLimit } from '../wire/dns/query.js';
import { buildTemplate, writeError, writeFromTemplate, type QuestionShape, type Template } from './answer.js';
import { Forwarder } from './forwarder.js';
import type { HostPort } from './hostport.js';
import { listenTcp } from './netns-tcp.js';
import type { RateLimiter } from './ratelimit.js';
import type { DnsResolver } from './resolver.js';
import { ClientScopes, type NetworkScope, type Scope } from './scope.js';

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
  tcpConnections: number;
}

export function emptyStats(): DnsStats {
  return {
    queries: 0, answered: 0, forwarded: 0, formerr: 0, servfail: 0, refused: 0, truncated: 0,
    droppedSource: 0, droppedRate: 0, droppedOther: 0, tcpConnections: 0,
  };
}

/** Returned by #handle: no reply (dropped). */
const NO_REPLY = 0;
/** Returned by #handle: a forward started; its callback replies later. */
const FORWARDED = -1;
const UDP_BATCH = 64;
const TCP_INFLIGHT_PER_CONN = 16;

export class DnsListener {
  readonly stats = emptyStats();
  #udp: UdpSocket | undefined;
  #tcp: net.Server | undefined;
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
  address = '';
  port = 0;

  constructor(readonly opts: ListenOptions, private readonly resolver: DnsResolver, private readonly limits: ListenerLimits, upstreams: HostPort[]) {
    this.#scopes = new ClientScopes(opts.networks, opts.allow);
    this.#send = new UdpSendBatch(Math.max(512, limits.maxUdpResponse), UDP_BATCH);
    const port = opts.port ?? 53;
    // Never forward to ourselves (aardvark#415; Docker filterExtServers).
    const ups = (opts.upstreams ?? upstreams).filter((u) => !(u.address === opts.address && (u.port === port || port === 0)));
    if (ups.length > 0) {
      this.#forwarder = new Forwarder({
        upstreams: ups, timeoutMs: limits.forwardTimeoutMs, budgetMs: limits.forwardBudgetMs, maxInflight: limits.maxInflightForwards,
        ...(opts.netns === undefined ? {} : { netns: opts.netns }),
      });
    }
  }

  /** Opens the sockets. */
  async start(): Promise<void> {
    const o = this.opts;
    const udp = UdpSocket.open({
      address: o.address, port: o.port ?? 53, batchSize: UDP_BATCH, slotSize: 4096, recvBufferBytes: 4 << 20,
      ...(o.netns === undefined ? {} : { netns: o.netns }),
    });
    this.#udp = udp;
    const local = udp.localAddress();
    this.address = local.address;
    this.port = local.port;
    try {
      if (o.tcp !== false) {
        const server = net.createServer({ pauseOnConnect: false }, (c) => this.#onTcp(c));
        server.maxConnections = this.limits.tcpMaxConns;
        server.on('error', (err) => this.limits.log(`dns tcp ${this.address}:${this.port}: ${err.message}`));
        await listenTcp(o.address, this.port, o.netns, server);
        this.#tcp = server;
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
    this.#udp?.close();
    const tcp = this.#tcp;
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
  }

  #refresh(): void {
    if (this.#version !== this.resolver.version) {
      this.#version = this.resolver.version;
      this.#scopes.clear();
      this.#cacheSize = 0;
    }
  }

  #onUdp(view: UdpBatchView): void {
    this.#refresh();
    const now = performance.now();
    const batch = this.#send;
    const limiter = this.limits.rateLimiter;
    let n = 0;
    for (let i = 0; i < view.count; i++) {
      const len = view.length(i);
      this.stats.queries++;
      if (len < HEADER_SIZE || view.truncated(i)) {
        this.stats.droppedOther++;
        continue;
      }
      let scope: Scope | undefined;
      let client: number | string;
      const v4 = view.sourceIPv4(i);
      if (v4 !== 0) {
        client = v4;
        scope = this.#scopes.forIPv4(v4);
      } else {
        client = view.sourceAddress(i);
        scope = this.#scopes.forAddress(client);
      }
      if (!scope) {
        this.stats.droppedSource++;
        continue;
      }
      if (limiter && !limiter.allow(client, now)) {
        this.stats.droppedRate++;
        continue;
      }
      const off = view.offset(i);
      const query = view.buffer.subarray(off, off + len);
      const sa = view.sourceSockaddr(i);
      const outOff = n * batch.slotSize;
      const w = this.#handle(query, scope, false, batch.buffer, outOff, batch.slotSize, sa);
      if (w > 0) {
        batch.setLength(n, w);
        batch.setDestinationSockaddr(n, sa);
        n++;
      }
    }
    if (n > 0 && this.#udp && !this.#udp.closed) {
      try {
        this.#udp.sendBatch(batch, n);
      } catch {
        this.stats.droppedOther += n;
      }
    }
  }

  /**
   * Answers one query into out[off..]; returns the length, NO_REPLY or FORWARDED.
   * `replyTo` (UDP sockaddr) or `tcpReply` receives a forwarded answer later.
   */
  #handle(query: Uint8Array, scope: Scope, tcp: boolean, out: Uint8Array, off: number, room: number,
    replyTo: Uint8Array | null, tcpReply?: (bytes: Buffer | null, shape: QuestionShape) => void): number {
    const q = this.#q;
    const ednsSize = this.limits.ednsSize;
    try {
      parseQuery(query, query.length, q);
    } catch (err) {
      if (!(err instanceof DnsDecodeError)) throw err;
      // Nothing for a datagram claiming to be a response: avoids ping-pong.
      if (query[2]! & 0x80) return NO_REPLY;
      this.stats.formerr++;
      return writeError(query, undefined, Rcode.FORMERR, out, off, ednsSize);
    }
    switch (acceptQuery(q)) {
      case Accept.IGNORE:
        this.stats.droppedOther++;
        return NO_REPLY;
      case Accept.NOTIMP:
        return writeError(query, q, Rcode.NOTIMP, out, off, ednsSize);
      case Accept.FORMERR:
        this.stats.formerr++;
        return writeError(query, undefined, Rcode.FORMERR, out, off, ednsSize);
      case Accept.BADVERS:
        return writeError(query, q, Rcode.BADVERS, out, off, ednsSize);
    }
    const limit = tcp ? MAX_MESSAGE : Math.min(room, udpLimit(q, this.limits.maxUdpResponse));
    const entry = this.#lookup(scope, q);
    if (entry === 'servfail') {
      this.stats.servfail++;
      return writeError(query, q, Rcode.SERVFAIL, out, off, ednsSize);
    }
    if (entry !== 'forward') {
      this.stats.answered++;
      const len = writeFromTemplate(entry, query, q, out, off, limit, ednsSize);
      if (out[off + 2]! & (FLAG_TC >> 8)) this.stats.truncated++;
      return len;
    }
    const fwd = this.#forwarder;
    if (!fwd) {
      this.stats.servfail++;
      return writeError(query, q, Rcode.SERVFAIL, out, off, ednsSize);
    }
    if (!fwd.tryAcquire()) {
      this.stats.refused++;
      const t = Date.now();
      if (t - this.#lastRefusedLog > 2000) {
        this.#lastRefusedLog = t;
        this.limits.log(`dns: more than ${fwd.maxInflight} concurrent forwarded queries on ${this.address}:${this.port}, answering REFUSED`);
      }
      return writeError(query, q, Rcode.REFUSED, out, off, ednsSize);
    }
    this.stats.forwarded++;
    // Everything the reply needs must be copied: the receive buffer and q are reused.
    const copy = Buffer.from(query);
    const shape: QuestionShape = { qdcount: 1, questionEnd: q.questionEnd, hasEdns: q.hasEdns };
    const question = { key: q.key, qtype: q.qtype, qclass: q.qclass };
    const dest = replyTo ? Buffer.from(replyTo) : null;
    void fwd.forward(copy, question, tcp).then((reply) => {
      if (reply === null) this.stats.servfail++;
      if (tcpReply) tcpReply(reply, shape);
      else if (dest) this.#udpReply(copy, shape, reply, limit, dest);
    });
    return FORWARDED;
  }

  #lookup(scope: Scope, q: QueryInfo): Template | 'forward' | 'servfail' {
    if (q.qclass !== CLASS_IN) return 'forward';
    const key = `${q.qtype}|${q.key}`;
    let entry = scope.cache.get(key);
    if (entry !== undefined) return entry;
    const res = this.resolver.resolve(scope.networks, q.key, q.qtype);
    if (res.kind === 'forward') {
      const single = this.opts.singleLabelNoForward && q.labels === 1 && (q.qtype === RrType.A || q.qtype === RrType.AAAA);
      entry = single ? buildTemplate(q.key, q.qtype, q.qclass, { kind: 'nodata' }) : 'forward';
    } else if (res.kind === 'servfail') {
      entry = 'servfail';
    } else {
      try {
        entry = buildTemplate(q.key, q.qtype, q.qclass, res);
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
    scope.cache.set(key, entry);
    return entry;
  }

  #udpReply(query: Buffer, shape: QuestionShape, reply: Buffer | null, limit: number, dest: Buffer): void {
    const sock = this.#udp;
    if (!sock || sock.closed) return;
    let bytes: Uint8Array;
    if (reply === null) {
      const out = Buffer.alloc(shape.questionEnd + 11);
      bytes = out.subarray(0, writeError(query, shape, Rcode.SERVFAIL, out, 0, this.limits.ednsSize));
    } else if (reply.length > limit) {
      // No amplification: an upstream answer bigger than the client allows becomes TC=1 (client retries over TCP).
      const out = Buffer.alloc(shape.questionEnd + 11);
      const n = writeError(query, shape, reply[3]! & 0xf, out, 0, this.limits.ednsSize);
      out[2] = out[2]! | (FLAG_TC >> 8);
      bytes = out.subarray(0, n);
      this.stats.truncated++;
    } else {
      bytes = reply;
    }
    try {
      sock.sendToSockaddr(bytes, 0, bytes.length, dest);
    } catch {
      this.stats.droppedOther++;
    }
  }

  #onTcp(conn: net.Socket): void {
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
        const w = this.#handle(query, scope, true, out, 2, MAX_MESSAGE, null, (reply, shape) => {
          inflight--;
          if (reply) send(reply);
          else {
            const e = Buffer.alloc(shape.questionEnd + 11);
            send(e.subarray(0, writeError(Buffer.from(query), shape, Rcode.SERVFAIL, e, 0, this.limits.ednsSize)));
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
