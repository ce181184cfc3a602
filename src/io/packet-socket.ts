/**
 * A capturing AF_PACKET socket on one interface, in any network namespace
 * (the addon opens it inside the namespace). Packets arrive in batches
 * (recvmmsg) into one preallocated buffer; a classic BPF program, when
 * given, is attached before bind(2) so nothing unfiltered is ever queued
 * (the socket is opened with protocol 0, which receives nothing until bind).
 */
import { native, netnsPath } from './native.js';
import { FdWatcher, READABLE } from './poll.js';
import { AF_PACKET, SOCK_RAW, sockaddrPacket } from './sockaddr.js';

const ETH_P_ALL = 0x0003;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_TIMESTAMPNS = 35;
const SOL_PACKET = 263;
const PACKET_STATISTICS = 6;
/** sockaddr_ll slot size the addon fills per datagram. */
export const ADDR_SLOT = 28;

export interface PacketSocketOptions {
  ifindex: number;
  /** Namespace name (iproute2) or path; omitted = ours. */
  netns?: string;
  /** Encoded sock_filter array (src/trace/bpf.ts encodeBpf). */
  filter?: Uint8Array;
  /** Bytes kept per packet (longer packets are cut). */
  snaplen?: number;
  /** Packets per recvmmsg batch. */
  batch?: number;
  receiveBuffer?: number;
  /** Ask the kernel for each packet's receive time (SO_TIMESTAMPNS): PacketBatch.stamps. */
  timestamps?: boolean;
}

/** One batch: packet i is buf[i*slotSize, + caplen(i)); its sockaddr_ll is addrs[i*28 ...]. */
export interface PacketBatch {
  buf: Buffer;
  slotSize: number;
  count: number;
  /** Captured length per slot (negative: truncated to the slot, see caplen()). */
  lengths: Int32Array;
  addrs: Buffer;
  /** Kernel receive time per slot (seconds, nanoseconds; 0, 0 if none), with `timestamps`. */
  stamps: Uint32Array | null;
}

export interface PacketStats {
  /** Packets the kernel passed the filter (including those it then dropped). */
  received: number;
  /** Packets the kernel dropped because the socket's queue was full. */
  dropped: number;
}

export class PacketSocket {
  readonly fd: number;
  readonly #batch: PacketBatch;
  #watcher: FdWatcher | undefined;
  #received = 0;
  #dropped = 0;
  #closed = false;

  private constructor(fd: number, slotSize: number, count: number, timestamps: boolean) {
    this.fd = fd;
    this.#batch = {
      buf: Buffer.alloc(slotSize * count), slotSize, count: 0, lengths: new Int32Array(count), addrs: Buffer.alloc(ADDR_SLOT * count),
      stamps: timestamps ? new Uint32Array(2 * count) : null,
    };
  }

  static open(opts: PacketSocketOptions): PacketSocket {
    const n = native();
    const fd = n.openSocket(AF_PACKET, SOCK_RAW, 0, opts.netns ? netnsPath(opts.netns) : null);
    try {
      if (opts.receiveBuffer) n.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, opts.receiveBuffer);
      if (opts.timestamps) n.setsockoptInt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
      if (opts.filter && opts.filter.length > 0) n.attachFilter(fd, opts.filter);
      n.bind(fd, sockaddrPacket(opts.ifindex, ETH_P_ALL));
    } catch (err) {
      n.close(fd);
      throw err;
    }
    return new PacketSocket(fd, Math.max(64, Math.min(opts.snaplen ?? 65536, 262144)), Math.max(1, Math.min(opts.batch ?? 64, 1024)), opts.timestamps === true);
  }

  /** Calls onBatch whenever packets are queued, until close(). The batch is reused. */
  start(onBatch: (batch: PacketBatch) => void): void {
    const b = this.#batch;
    this.#watcher = new FdWatcher(this.fd, () => {
      // Drain what is queued, a bounded number of batches per wakeup.
      for (let round = 0; round < 16 && !this.#closed; round++) {
        const got = native().recvBatch(this.fd, b.buf, b.slotSize, b.lengths.length, b.lengths, b.addrs, null, b.stamps);
        if (got <= 0) return;
        b.count = got;
        onBatch(b);
        if (got < b.lengths.length) return;
      }
    });
    this.#watcher.watch(READABLE);
  }

  /** Kernel counters since the socket opened (the kernel resets them on each read; we add up). */
  stats(): PacketStats {
    if (!this.#closed) {
      const raw = native().getsockoptBuf(this.fd, SOL_PACKET, PACKET_STATISTICS, 8);
      this.#received += raw.readUInt32LE(0);
      this.#dropped += raw.readUInt32LE(4);
    }
    return { received: this.#received, dropped: this.#dropped };
  }

  close(): void {
    if (this.#closed) return;
    this.stats();
    this.#closed = true;
    this.#watcher?.close();
    native().close(this.fd);
  }
}

/** Captured bytes in slot i of a batch. */
export function caplen(batch: PacketBatch, i: number): number {
  const l = batch.lengths[i]!;
  return l < 0 ? Math.min(-l, batch.slotSize) : Math.min(l, batch.slotSize);
}

/** sockaddr_ll sll_pkttype of slot i (0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing). */
export function packetType(batch: PacketBatch, i: number): number {
  return batch.addrs[i * ADDR_SLOT + 10]!;
}

/** sockaddr_ll sll_hatype (ARPHRD_*) of slot i. */
export function hardwareType(batch: PacketBatch, i: number): number {
  return batch.addrs[i * ADDR_SLOT + 8]! | (batch.addrs[i * ADDR_SLOT + 9]! << 8);
}
