/**
 * Forwards questions the local records cannot answer to up to 3 upstreams,
 * from inside the listener's namespace (so an internal network's routing
 * stays in force: CVE-2024-29018).
 *
 * - Each attempt uses a fresh socket (new random source port) and a random
 *   ID; a reply counts only if it comes from the upstream (connected
 *   socket), decodes cleanly, and matches ID and question (RFC 5452).
 *   Anything else is ignored and we keep waiting until the deadline
 *   (TuDoor: one junk packet must not fail the query).
 * - SERVFAIL/REFUSED from an upstream -> next upstream. TC over UDP -> the
 *   same upstream over TCP. Per-attempt timeout plus a total budget keep the
 *   client's SERVFAIL ahead of glibc's 5 s timeout (reliability F1).
 * - At most `maxInflight` forwards at once; callers answer REFUSED beyond
 *   (tryAcquire), as CoreDNS max_concurrent does.
 */
import { randomFillSync } from 'node:crypto';
import type net from 'node:net';
import { UdpSocket } from '../io/udp.js';
import { Rcode } from '../wire/dns/constants.js';
import { decodeMessage } from '../wire/dns/message.js';
import { nameKey } from '../wire/dns/name.js';
import type { HostPort } from './hostport.js';
import { connectTcp } from './netns-tcp.js';

export interface ForwarderOptions {
  upstreams: HostPort[];
  netns?: string;
  /** Per upstream attempt (default 2000 ms). */
  timeoutMs?: number;
  /** Whole forward, all attempts (default 4500 ms). */
  budgetMs?: number;
  /** Concurrent forwards (default 1024, Docker's maxConcurrent). */
  maxInflight?: number;
}

export interface Question {
  key: string;
  qtype: number;
  qclass: number;
}

/** Most upstreams tried (Docker maxExtDNS). */
export const MAX_UPSTREAMS = 3;
/** Receive slot for UDP replies; a larger reply is treated like TC and fetched over TCP. */
const UDP_REPLY_SLOT = 8192;

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

export class Forwarder {
  readonly upstreams: HostPort[];
  #inflight = 0;
  readonly timeoutMs: number;
  readonly budgetMs: number;
  readonly maxInflight: number;

  constructor(private readonly opts: ForwarderOptions) {
    this.upstreams = opts.upstreams.slice(0, MAX_UPSTREAMS);
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.budgetMs = opts.budgetMs ?? 4500;
    this.maxInflight = opts.maxInflight ?? 1024;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Takes a forwarding slot; false when at the cap (answer REFUSED). */
  tryAcquire(): boolean {
    if (this.#inflight >= this.maxInflight) return false;
    this.#inflight++;
    return true;
  }

  /**
   * Forwards `query` (the client's bytes; not modified) after tryAcquire()
   * succeeded, and releases the slot. Resolves to the reply with the
   * client's ID restored, or null when no upstream gave a usable answer.
   * Never rejects.
   */
  async forward(query: Uint8Array, q: Question, tcp: boolean): Promise<Buffer | null> {
    const clientId = (query[0]! << 8) | query[1]!;
    const deadline = Date.now() + this.budgetMs;
    try {
      for (const up of this.upstreams) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const timeout = Math.min(this.timeoutMs, left);
        let r = tcp ? await this.#tcp(up, query, q, timeout) : await this.#udp(up, query, q, timeout);
        if (r.kind === 'tc') r = await this.#tcp(up, query, q, Math.max(1, Math.min(this.timeoutMs, deadline - Date.now())));
        if (r.kind !== 'reply') continue;
        const rcode = r.bytes[3]! & 0xf;
        if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) continue;
        r.bytes[0] = clientId >> 8;
        r.bytes[1] = clientId & 0xff;
        return r.bytes;
      }
      return null;
    } catch {
      return null;
    } finally {
      this.#inflight--;
    }
  }

  #udp(up: HostPort, query: Uint8Array, q: Question, timeoutMs: number): Promise<Attempt> {
    return new Promise((resolve) => {
      let sock: UdpSocket;
      const id = randomId();
      const out = Buffer.from(query);
      out[0] = id >> 8;
      out[1] = id & 0xff;
      try {
        sock = UdpSocket.open({
          address: up.address.includes(':') ? '::' : '0.0.0.0', port: 0, batchSize: 4, slotSize: UDP_REPLY_SLOT,
          ...(this.opts.netns === undefined ? {} : { netns: this.opts.netns }),
        });
        sock.connect(up.address, up.port);
      } catch {
        resolve({ kind: 'fail' });
        return;
      }
      let done = false;
      const finish = (a: Attempt) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.close();
        resolve(a);
      };
      const timer = setTimeout(() => finish({ kind: 'fail' }), timeoutMs);
      sock.onBatch((view) => {
        for (let i = 0; i < view.count && !done; i++) {
          if (view.truncated(i)) {
            if (matchesHeader(view.data(i), id)) finish({ kind: 'tc' });
            continue;
          }
          const data = view.data(i);
          if (!valid(data, id, q)) continue;
          if (data[2]! & 0x02) finish({ kind: 'tc' });
          else finish({ kind: 'reply', bytes: Buffer.from(data) });
        }
      }, (err) => {
        // ICMP port unreachable on the connected socket: this upstream is down.
        if ((err as { code?: string }).code === 'ECONNREFUSED') finish({ kind: 'fail' });
      });
      try {
        if (!sock.sendToSockaddr(out, 0, out.length, null)) finish({ kind: 'fail' });
      } catch {
        finish({ kind: 'fail' });
      }
    });
  }

  async #tcp(up: HostPort, query: Uint8Array, q: Question, timeoutMs: number): Promise<Attempt> {
    const started = Date.now();
    let conn: net.Socket;
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
