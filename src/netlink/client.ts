/**
 * A netlink client over one socket (one protocol, one namespace): sequence
 * numbers, many requests in flight at once (pipelining), multipart dumps,
 * ACK/error -> NetlinkError with the kernel's extended-ACK text, multicast
 * events. Replies are matched by sequence number; datagrams are copied once
 * so reply views stay valid after the socket buffer is reused.
 */
import { errnoName, netnsPath } from '../io/native.js';
import { NetlinkSocket } from '../io/netlink-socket.js';
import { AttrWriter } from './attrs.js';
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST } from './constants.js';
import { DumpInterruptedError, NetlinkDecodeError, NetlinkError, NetlinkTimeoutError } from '../errors.js';
import { type Message, beginMessage, finishMessage, parseErrorPayload, parseMessages } from './message.js';

export interface ClientOptions {
  /** Namespace name (as `ip netns`) or path; default: ours. */
  netns?: string;
  /** Multicast groups to join (events). */
  groups?: number[];
  /** Per-request deadline; also bounds a dump that never ends. */
  timeoutMs?: number;
  receiveBufferBytes?: number;
}

interface Pending {
  what: string;
  type: number;
  replies: Message[];
  deadline: number;
  interrupted: boolean;
  resolve(replies: Message[]): void;
  reject(err: Error): void;
}

/** Builds the payload after the nlmsghdr (family header and attributes). */
export type PayloadBuilder = (w: AttrWriter) => void;

export interface RequestSpec {
  type: number;
  flags: number;
  build?: PayloadBuilder;
  what: string;
}

/** Results of a bulk send: success, or the kernel's error for that request. */
export type BulkResult = PromiseSettledResult<Message[]>;

interface Bulk {
  first: number;
  last: number;
  results: BulkResult[];
  specs: RequestSpec[];
}

const OK: BulkResult = Object.freeze({ status: 'fulfilled', value: [] }) as BulkResult;

/** Upper bound on messages collected for one dump, against a runaway peer. */
const MAX_DUMP_MESSAGES = 4_000_000;

/** What the client needs of a socket; tests substitute a scripted peer. */
export interface NetlinkTransport {
  readonly portId: number;
  send(data: Uint8Array, length?: number): void;
  listen(onDatagram: (datagram: Buffer, length: number) => void, onError: (err: Error) => void): void;
  close(): void;
}

export class NetlinkClient {
  readonly socket: NetlinkTransport;
  readonly timeoutMs: number;
  #seq = (Date.now() & 0x7fffffff) >>> 0;
  #pending = new Map<number, Pending>();
  #sweep: NodeJS.Timeout | undefined;
  #eventHandlers = new Set<(m: Message) => void>();
  #errorHandlers = new Set<(e: Error) => void>();
  #closed = false;
  #bulks: Bulk[] = [];
  #dumpQueue: Promise<void> = Promise.resolve();

  constructor(socket: NetlinkTransport, timeoutMs = 30_000) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    socket.listen((buf, len) => this.#onDatagram(buf, len), (err) => this.#onSocketError(err));
  }

  static open(protocol: number, opts: ClientOptions = {}): NetlinkClient {
    const socket = NetlinkSocket.open(protocol, {
      ...(opts.netns !== undefined ? { netnsPath: netnsPath(opts.netns) } : {}),
      ...(opts.groups ? { groups: opts.groups } : {}),
      ...(opts.receiveBufferBytes ? { receiveBufferBytes: opts.receiveBufferBytes } : {}),
    });
    return new NetlinkClient(socket, opts.timeoutMs ?? 30_000);
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    if (this.#seq === 0) this.#seq = 1; // 0 is what multicast events carry
    return this.#seq;
  }

  /** Encodes requests into one buffer (one datagram) and registers them. */
  #encode(specs: RequestSpec[], w: AttrWriter): Promise<Message[]>[] {
    return specs.map((spec) => {
      const seq = this.#nextSeq();
      const at = beginMessage(w, spec.type, spec.flags | NLM_F_REQUEST | NLM_F_ACK);
      spec.build?.(w);
      finishMessage(w, at, seq);
      return new Promise<Message[]>((resolve, reject) => {
        this.#pending.set(seq, {
          what: spec.what, type: spec.type, replies: [], interrupted: false,
          deadline: Date.now() + this.timeoutMs, resolve, reject,
        });
      });
    });
  }

  /** Sends one request and resolves with its reply messages once ACKed or DONE. */
  request(spec: RequestSpec): Promise<Message[]> {
    return this.batch([spec])[0]!;
  }

  /**
   * Sends many requests without waiting for each ACK: packed into datagrams
   * of at most `datagramBytes`, all in flight at once. Each promise settles
   * on its own ACK or error.
   */
  batch(specs: RequestSpec[], datagramBytes = 64 * 1024): Promise<Message[]>[] {
    if (this.#closed) throw new NetlinkError('EBADF', 9, specs[0]?.type ?? 0, specs[0]?.what ?? 'netlink request');
    const out: Promise<Message[]>[] = [];
    let w = new AttrWriter(Math.min(datagramBytes, 4096));
    let chunk: RequestSpec[] = [];
    const flush = () => {
      if (chunk.length === 0) return;
      const promises = this.#encode(chunk, w);
      try {
        this.socket.send(w.buf, w.length);
      } catch (err) {
        this.#failAll(promises.length, err as Error);
      }
      out.push(...promises);
      w = new AttrWriter(Math.min(datagramBytes, 4096));
      chunk = [];
    };
    for (const spec of specs) {
      chunk.push(spec);
      // Requests are small; a rough size estimate keeps datagrams bounded.
      if (chunk.length * 256 >= datagramBytes) flush();
    }
    flush();
    this.#armSweep();
    return out;
  }

  /**
   * Sends many change requests at kernel speed: packed into large datagrams
   * WITHOUT per-request ACKs (the kernel then answers only failures), then
   * one NLMSG_NOOP barrier with an ACK. Netlink handles a socket's requests
   * in order, so when the barrier is acknowledged every request before it
   * has been processed and every failure has arrived. Thousands of requests
   * need no window: success produces no reply to overflow the receive buffer.
   * Not for requests whose answer carries data (GET).
   */
  async bulk(specs: RequestSpec[], datagramBytes = 256 * 1024): Promise<BulkResult[]> {
    if (specs.length === 0) return [];
    if (this.#closed) throw new NetlinkError('EBADF', 9, specs[0]!.type, specs[0]!.what);
    // A contiguous block of sequence numbers that does not wrap.
    if (this.#seq > 0xffffffff - specs.length - 2) this.#seq = 0;
    const bulk: Bulk = { first: this.#seq + 1, last: this.#seq + specs.length, results: new Array<BulkResult>(specs.length).fill(OK), specs };
    this.#bulks.push(bulk);
    try {
      let w = new AttrWriter(Math.min(datagramBytes, 64 * 1024));
      for (const spec of specs) {
        const seq = this.#nextSeq();
        const at = beginMessage(w, spec.type, spec.flags | NLM_F_REQUEST);
        spec.build?.(w);
        finishMessage(w, at, seq);
        if (w.length >= datagramBytes - 4096) {
          this.socket.send(w.buf, w.length);
          w = new AttrWriter(Math.min(datagramBytes, 64 * 1024));
        }
      }
      if (w.length) this.socket.send(w.buf, w.length);
      await this.request({ type: NLMSG_NOOP, flags: 0, what: `barrier after ${specs.length} requests` });
      return bulk.results;
    } finally {
      this.#bulks.splice(this.#bulks.indexOf(bulk), 1);
    }
  }

  /** Routes a failure of a bulk request to its slot; false when seq is not a bulk's. */
  #settleBulk(m: Message): boolean {
    const bulk = this.#bulks.find((b) => m.seq >= b.first && m.seq <= b.last);
    if (!bulk) return false;
    const i = m.seq - bulk.first;
    const spec = bulk.specs[i]!;
    try {
      const e = parseErrorPayload(m);
      if (e.error !== 0) bulk.results[i] = { status: 'rejected', reason: this.#kernelError(-e.error, { what: spec.what, type: spec.type } as Pending, e) };
    } catch (err) {
      bulk.results[i] = { status: 'rejected', reason: err };
    }
    return true;
  }

  /** Rejects the most recently registered `count` requests (send failed). */
  #failAll(count: number, err: Error): void {
    const seqs = [...this.#pending.keys()].slice(-count);
    for (const s of seqs) {
      const p = this.#pending.get(s)!;
      this.#pending.delete(s);
      p.reject(err);
    }
  }

  /**
   * A dump request (NLM_F_DUMP), retried when the kernel marks it interrupted.
   * The kernel runs one dump per socket at a time (EBUSY otherwise), so dumps
   * are queued; plain requests still pipeline alongside.
   */
  dump(spec: Omit<RequestSpec, 'flags'> & { flags?: number }, retries = 3): Promise<Message[]> {
    const run = this.#dumpQueue.then(() => this.#dumpNow(spec, retries));
    this.#dumpQueue = run.then(() => undefined, () => undefined);
    return run;
  }

  async #dumpNow(spec: Omit<RequestSpec, 'flags'> & { flags?: number }, retries: number): Promise<Message[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request({ ...spec, flags: (spec.flags ?? 0) | NLM_F_DUMP });
      } catch (err) {
        if (!(err instanceof DumpInterruptedError) || attempt >= retries) throw err;
      }
    }
  }

  /** Subscribes to multicast notifications; returns an unsubscribe function. */
  onEvent(handler: (m: Message) => void, onError?: (e: Error) => void): () => void {
    this.#eventHandlers.add(handler);
    if (onError) this.#errorHandlers.add(onError);
    return () => {
      this.#eventHandlers.delete(handler);
      if (onError) this.#errorHandlers.delete(onError);
    };
  }

  #onDatagram(buf: Buffer, len: number): void {
    // One copy per datagram: replies may outlive the socket's buffer.
    const data = Buffer.from(buf.subarray(0, len));
    let messages: Message[];
    try {
      messages = parseMessages(data);
    } catch (err) {
      this.#onSocketError(err as Error);
      return;
    }
    for (const m of messages) {
      // Notifications carry the seq/pid of whoever caused them: only our own
      // port id with a pending seq is a reply.
      const mine = m.pid === this.socket.portId;
      const p = mine ? this.#pending.get(m.seq) : undefined;
      if (!p && mine && m.type === NLMSG_ERROR && this.#bulks.length && this.#settleBulk(m)) continue;
      if (!p) {
        for (const h of this.#eventHandlers) h(m);
        continue;
      }
      if (m.flags & NLM_F_DUMP_INTR) p.interrupted = true;
      if (m.type === NLMSG_ERROR) this.#settleError(m, p);
      else if (m.type === NLMSG_DONE) this.#settleDone(m, p);
      else if (m.type !== NLMSG_NOOP && m.type !== NLMSG_OVERRUN) {
        if (p.replies.length >= MAX_DUMP_MESSAGES) {
          this.#pending.delete(m.seq);
          p.reject(new NetlinkDecodeError(`${p.what}: more than ${MAX_DUMP_MESSAGES} replies`, m.offset));
        } else p.replies.push(m);
      }
    }
  }

  #settleError(m: Message, p: Pending): void {
    this.#pending.delete(m.seq);
    let e;
    try {
      e = parseErrorPayload(m);
    } catch (err) {
      p.reject(err as Error);
      return;
    }
    if (e.error === 0) {
      if (p.interrupted) p.reject(new DumpInterruptedError(p.what));
      else p.resolve(p.replies);
      return;
    }
    p.reject(this.#kernelError(-e.error, p, e));
  }

  #settleDone(m: Message, p: Pending): void {
    // A dump answers with DONE and, since we asked for ACKs, no further ACK
    // on most families; settle here. A negative int in DONE is an error.
    this.#pending.delete(m.seq);
    if (m.payload.length >= 4 && m.payload.readInt32LE(0) < 0) {
      const errno = -m.payload.readInt32LE(0);
      p.reject(this.#kernelError(errno, p, {}));
      return;
    }
    if (p.interrupted) p.reject(new DumpInterruptedError(p.what));
    else p.resolve(p.replies);
  }

  #kernelError(errno: number, p: Pending, ext: { extackMessage?: string; extackOffset?: number }): NetlinkError {
    const extack: { message?: string; offset?: number } = {};
    if (ext.extackMessage !== undefined) extack.message = ext.extackMessage;
    if (ext.extackOffset !== undefined) extack.offset = ext.extackOffset;
    return new NetlinkError(errnoName(errno), errno, p.type, p.what, extack);
  }

  #onSocketError(err: Error): void {
    // Lost replies (ENOBUFS): a bulk can no longer tell which requests failed.
    for (const b of this.#bulks) b.results.fill({ status: 'rejected', reason: err });
    for (const h of this.#errorHandlers) h(err);
  }

  #armSweep(): void {
    if (this.#sweep || this.#pending.size === 0) return;
    const period = Math.max(50, Math.min(1000, this.timeoutMs / 4));
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const [seq, p] of this.#pending) {
        if (p.deadline <= now) {
          this.#pending.delete(seq);
          p.reject(new NetlinkTimeoutError(p.what, this.timeoutMs));
        }
      }
      if (this.#pending.size === 0) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
    }, period);
  }

  /** Number of requests still waiting for an answer. */
  get inFlight(): number {
    return this.#pending.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    for (const [, p] of this.#pending) p.reject(new NetlinkError('ECANCELED', 125, p.type, `${p.what} (client closed)`));
    this.#pending.clear();
    this.socket.close();
  }
}
