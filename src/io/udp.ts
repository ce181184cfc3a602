/**
 * A batched, non-blocking UDP socket over the native addon (recvmmsg /
 * sendmmsg), optionally opened inside another network namespace.
 *
 * Receive path: the socket owns one receive buffer cut into `batchSize`
 * slots of `slotSize` bytes. When the fd is readable, recvBatch fills the
 * slots and `onBatch(view)` runs once per batch. The view is reused: its
 * data is valid only during the callback (copy what you keep). Accessors
 * read lengths and source sockaddrs in place; only `sourceAddress(i)`
 * builds a string.
 *
 * Send path: `sendTo` for one datagram, `sendBatch` with a UdpSendBatch
 * (slots + per-slot or shared destination) for many. Both are
 * non-blocking: a full socket buffer means "not sent" (false / fewer than
 * asked), never an exception, because UDP callers drop rather than queue.
 */
import { InvalidArgumentError, SocketClosedError, SocketPollError } from '../errors.js';
import { formatIPv6, ipVersion } from '../wire/ip.js';
import { native, netnsPath } from './native.js';
import { FdWatcher, READABLE } from './poll.js';
import { AF_INET, AF_INET6, SOCK_DGRAM, parseSockaddrInet, sockaddrInet } from './sockaddr.js';

const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_REUSEPORT = 15;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SO_BINDTODEVICE = 25;
/** u32[SK_MEMINFO_VARS]; index 8 is SK_MEMINFO_DROPS. */
const SO_MEMINFO = 55;
/** SO_TIMESTAMP (the timeval variant): an arrival time on every datagram. */
const SO_TIMESTAMP = 29;
const IPPROTO_UDP = 17;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const UDP_GRO = 104;

/** sizeof(struct sockaddr_in6): the addon's per-slot address stride. */
export const SOCKADDR_SLOT = 28;
/** recvmmsg/sendmmsg batch limit of the addon (MAX_BATCH in native/weft.c). */
export const MAX_BATCH = 1024;
/** Largest UDP payload over IPv4 (65535 - 20 - 8); a GRO super-datagram fits. */
export const MAX_DATAGRAM = 65507;
/** Receive rounds per readiness event, so one busy socket cannot starve the loop. */
const MAX_ROUNDS_PER_WAKEUP = 16;

export interface UdpOpenOptions {
  /** Local address to bind ('0.0.0.0', '::', '198.18.0.1' ...). */
  address: string;
  /** Local port; 0 picks one (see localAddress()). */
  port: number;
  /** Network namespace name (/var/run/netns/NAME) or absolute path. */
  netns?: string;
  /** SO_BINDTODEVICE: only datagrams that came in on this interface are received. */
  device?: string;
  reuseAddr?: boolean;
  reusePort?: boolean;
  /** IPv6 sockets only: refuse IPv4-mapped traffic (default false: dual-stack). */
  v6Only?: boolean;
  recvBufferBytes?: number;
  sendBufferBytes?: number;
  /** Datagrams per recvmmsg (1..1024, default 64). */
  batchSize?: number;
  /** Bytes per receive slot (default 2048; use 65535 with GRO). */
  slotSize?: number;
}

/** The datagrams of one receive batch. Valid only inside onBatch. */
export class UdpBatchView {
  /** Datagrams in this batch. */
  count = 0;
  /** The whole slot buffer; slot i starts at i * slotSize. */
  readonly buffer: Buffer;
  readonly lengths: Int32Array;
  readonly addrs: Buffer;
  /** UDP_GRO segment size per slot (0: not coalesced), when GRO is on. */
  readonly segments: Int32Array;
  /** Kernel arrival time per slot (ms since the epoch, 0: none), when timestamps are on. */
  readonly stamps: Float64Array;
  /** The kernel's (seconds, nanoseconds) per slot, as the addon writes them. */
  readonly kernelStamps: Uint32Array;

  constructor(readonly slotSize: number, readonly capacity: number) {
    this.buffer = Buffer.alloc(slotSize * capacity);
    this.lengths = new Int32Array(capacity);
    this.addrs = Buffer.alloc(SOCKADDR_SLOT * capacity);
    this.segments = new Int32Array(capacity);
    this.stamps = new Float64Array(capacity);
    this.kernelStamps = new Uint32Array(2 * capacity);
  }

  /** Byte offset of datagram i in `buffer`. */
  offset(i: number): number {
    return i * this.slotSize;
  }

  /** Bytes of datagram i held in its slot (clamped when it was truncated). */
  length(i: number): number {
    const n = this.lengths[i]!;
    return n < 0 ? Math.min(-n, this.slotSize) : n;
  }

  /** Whether datagram i was larger than its slot (MSG_TRUNC). */
  truncated(i: number): boolean {
    return this.lengths[i]! < 0;
  }

  /** Datagram i's bytes (a subarray of the shared buffer, no copy). */
  data(i: number): Buffer {
    const off = i * this.slotSize;
    return this.buffer.subarray(off, off + this.length(i));
  }

  /** GRO segment size of slot i (0 when the datagram was not coalesced). */
  segmentSize(i: number): number {
    return this.segments[i]!;
  }

  /** AF_INET (2) or AF_INET6 (10). */
  sourceFamily(i: number): number {
    const o = i * SOCKADDR_SLOT;
    return this.addrs[o]! | (this.addrs[o + 1]! << 8);
  }

  sourcePort(i: number): number {
    const o = i * SOCKADDR_SLOT;
    return (this.addrs[o + 2]! << 8) | this.addrs[o + 3]!;
  }

  /** IPv4 source as a u32 (host order) without building a string; 0 for IPv6. */
  sourceIPv4(i: number): number {
    const o = i * SOCKADDR_SLOT;
    if (this.sourceFamily(i) !== AF_INET) return 0;
    return ((this.addrs[o + 4]! << 24) | (this.addrs[o + 5]! << 16) | (this.addrs[o + 6]! << 8) | this.addrs[o + 7]!) >>> 0;
  }

  /** The raw source sockaddr bytes (16 for IPv4, 28 for IPv6), reusable with sendToSockaddr. */
  sourceSockaddr(i: number): Buffer {
    const o = i * SOCKADDR_SLOT;
    return this.addrs.subarray(o, o + (this.sourceFamily(i) === AF_INET ? 16 : SOCKADDR_SLOT));
  }

  /** The source address as text (allocates). */
  sourceAddress(i: number): string {
    const o = i * SOCKADDR_SLOT;
    if (this.sourceFamily(i) === AF_INET6) return formatIPv6(this.addrs, o + 8);
    return parseSockaddrInet(this.addrs, o).address;
  }
}

/** Outgoing datagrams for sendBatch: fill slots, set lengths and destinations. */
export class UdpSendBatch {
  readonly buffer: Buffer;
  readonly lengths: Int32Array;
  readonly addrs: Buffer;
  #addrLen = 0;
  #shared = false;

  constructor(readonly slotSize: number, readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_BATCH) {
      throw new InvalidArgumentError(`batch capacity must be 1..${MAX_BATCH}, got ${capacity}`);
    }
    if (!Number.isInteger(slotSize) || slotSize < 1 || slotSize > 65535) {
      throw new InvalidArgumentError(`slot size must be 1..65535, got ${slotSize}`);
    }
    this.buffer = Buffer.alloc(slotSize * capacity);
    this.lengths = new Int32Array(capacity);
    this.addrs = Buffer.alloc(SOCKADDR_SLOT * capacity);
  }

  /** Slot i's whole writable area. */
  slot(i: number): Buffer {
    const off = i * this.slotSize;
    return this.buffer.subarray(off, off + this.slotSize);
  }

  /** Copies bytes into slot i and records its length. */
  set(i: number, bytes: Uint8Array): void {
    if (bytes.length > this.slotSize) throw new InvalidArgumentError(`datagram of ${bytes.length} bytes exceeds slot size ${this.slotSize}`);
    this.buffer.set(bytes, i * this.slotSize);
    this.lengths[i] = bytes.length;
  }

  setLength(i: number, length: number): void {
    this.lengths[i] = length;
  }

  /** Every datagram goes to one destination. */
  setSharedDestination(address: string, port: number): void {
    const sa = sockaddrInet(address, port);
    sa.copy(this.addrs, 0);
    this.#addrLen = sa.length;
    this.#shared = true;
  }

  /**
   * Per-slot destination. All slots of one batch must share a family
   * (sendmmsg takes one address length per call here).
   */
  setDestination(i: number, address: string, port: number): void {
    this.setDestinationSockaddr(i, sockaddrInet(address, port));
  }

  /** Per-slot destination from raw sockaddr bytes (e.g. UdpBatchView.sourceSockaddr). */
  setDestinationSockaddr(i: number, sockaddr: Uint8Array): void {
    if (this.#shared) this.#shared = false;
    this.addrs.set(sockaddr, i * this.#stride(sockaddr.length));
  }

  #stride(len: number): number {
    if (this.#addrLen !== 0 && this.#addrLen !== len) {
      throw new InvalidArgumentError('one send batch cannot mix IPv4 and IPv6 destinations');
    }
    this.#addrLen = len;
    return len;
  }

  /** @internal what the addon needs for the address arguments. */
  addressArgs(_count: number): { addrs: Buffer | null; addrLen: number } {
    if (this.#addrLen === 0) return { addrs: null, addrLen: 0 };
    // The addon treats addrs shorter than count*addrLen as one shared address;
    // per-slot addresses pass the whole buffer (no view allocated per batch).
    const addrs = this.#shared ? this.addrs.subarray(0, this.#addrLen) : this.addrs;
    return { addrs, addrLen: this.#addrLen };
  }
}

export type BatchHandler = (view: UdpBatchView) => void;

export class UdpSocket {
  #fd: number;
  #watcher: FdWatcher | undefined;
  #view: UdpBatchView;
  #onBatch: BatchHandler | undefined;
  #onError: ((err: unknown) => void) | undefined;
  #gro = false;
  #stamps = false;
  // One-entry destination cache: request/response peers repeat the same address.
  #lastAddress = '';
  #lastPort = -1;
  #lastSockaddr: Buffer = Buffer.alloc(0);
  readonly family: number;

  private constructor(fd: number, family: number, view: UdpBatchView) {
    this.#fd = fd;
    this.family = family;
    this.#view = view;
  }

  /** Opens, configures and binds a socket; closes the fd if any step fails. */
  static open(opts: UdpOpenOptions): UdpSocket {
    const version = ipVersion(opts.address);
    const family = version === 4 ? AF_INET : version === 6 ? AF_INET6 : 0;
    if (family === 0) throw new InvalidArgumentError(`invalid IP address ${JSON.stringify(opts.address)}`);
    const batchSize = opts.batchSize ?? 64;
    const slotSize = opts.slotSize ?? 2048;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
      throw new InvalidArgumentError(`batchSize must be 1..${MAX_BATCH}, got ${batchSize}`);
    }
    if (!Number.isInteger(slotSize) || slotSize < 64 || slotSize > 65535) {
      throw new InvalidArgumentError(`slotSize must be 64..65535, got ${slotSize}`);
    }
    const sockaddr = sockaddrInet(opts.address, opts.port);
    const ns = opts.netns === undefined ? null : netnsPath(opts.netns);
    const n = native();
    const fd = n.openSocket(family, SOCK_DGRAM, IPPROTO_UDP, ns);
    try {
      if (opts.reuseAddr) n.setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      if (opts.reusePort) n.setsockoptInt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
      if (family === AF_INET6) n.setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts.v6Only ? 1 : 0);
      if (opts.recvBufferBytes) setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, opts.recvBufferBytes);
      if (opts.sendBufferBytes) setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, opts.sendBufferBytes);
      if (opts.device) n.setsockoptBuf(fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${opts.device}\0`));
      n.bind(fd, sockaddr);
    } catch (err) {
      n.close(fd);
      throw err;
    }
    return new UdpSocket(fd, family, new UdpBatchView(slotSize, batchSize));
  }

  /** Wraps a bound socket fd opened elsewhere (another thread of this process); close() closes it. */
  static fromFd(fd: number, family: number, opts: { batchSize?: number; slotSize?: number } = {}): UdpSocket {
    return new UdpSocket(fd, family, new UdpBatchView(opts.slotSize ?? 2048, opts.batchSize ?? 64));
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The bound address and port (useful after binding port 0). */
  localAddress(): { address: string; port: number } {
    return parseSockaddrInet(native().getsockname(this.#checkOpen()));
  }

  /** connect(2): fixes the peer so sends may omit it and only its datagrams arrive. */
  connect(address: string, port: number): void {
    native().connect(this.#checkOpen(), sockaddrInet(address, port));
  }

  /**
   * Starts delivering batches to onBatch. Receive errors (ICMP-reported
   * ECONNREFUSED on a connected socket, ...) go to onError and receiving
   * continues; without onError they are ignored, as UDP loss is.
   */
  onBatch(handler: BatchHandler, onError?: (err: unknown) => void): void {
    this.#checkOpen();
    this.#onBatch = handler;
    this.#onError = onError;
    if (!this.#watcher) this.#watcher = new FdWatcher(this.#fd, (_events, status) => this.#readable(status));
    this.#watcher.watch(READABLE);
  }

  /** Stops receiving (the socket stays open). */
  pause(): void {
    this.#watcher?.watch(0);
  }

  /**
   * Receives one batch now, without the event loop (tests, polling
   * loops). Returns the view (count 0 when nothing was waiting).
   */
  receiveBatch(): UdpBatchView {
    const v = this.#view;
    v.count = native().recvBatch(this.#checkOpen(), v.buffer, v.slotSize, v.capacity, v.lengths, v.addrs, this.#gro ? v.segments : null, this.#stamps ? v.kernelStamps : null);
    if (this.#stamps) {
      const k = v.kernelStamps;
      for (let i = 0; i < v.count; i++) v.stamps[i] = k[2 * i]! * 1000 + k[2 * i + 1]! / 1e6;
    }
    return v;
  }

  #readable(status: number): void {
    if (this.#fd < 0 || !this.#onBatch) return;
    if (status < 0) {
      this.#onError?.(new SocketPollError(`poll on UDP socket failed with status ${status}`));
      return;
    }
    for (let round = 0; round < MAX_ROUNDS_PER_WAKEUP && this.#fd >= 0; round++) {
      let v: UdpBatchView;
      try {
        v = this.receiveBatch();
      } catch (err) {
        this.#onError?.(err);
        continue;
      }
      if (v.count === 0) return;
      this.#onBatch(v);
      if (v.count < v.capacity) return;
    }
  }

  /** Sends one datagram; false when the socket buffer is full (dropped). */
  sendTo(buf: Uint8Array, offset: number, length: number, address: string, port: number): boolean {
    if (address !== this.#lastAddress || port !== this.#lastPort) {
      this.#lastSockaddr = sockaddrInet(address, port);
      this.#lastAddress = address;
      this.#lastPort = port;
    }
    return this.sendToSockaddr(buf, offset, length, this.#lastSockaddr);
  }

  /** sendTo with raw sockaddr bytes (no parsing); null for a connected socket. */
  sendToSockaddr(buf: Uint8Array, offset: number, length: number, sockaddr: Uint8Array | null): boolean {
    if (offset < 0 || length < 0 || offset + length > buf.length) {
      throw new InvalidArgumentError(`range ${offset}+${length} outside a ${buf.length}-byte buffer`);
    }
    return native().sendTo(this.#checkOpen(), buf, offset, length, sockaddr) >= 0;
  }

  /** Sends the first `count` slots of a batch; returns how many went out. */
  sendBatch(batch: UdpSendBatch, count = batch.capacity): number {
    if (!Number.isInteger(count) || count < 0 || count > batch.capacity) {
      throw new InvalidArgumentError(`count must be 0..${batch.capacity}, got ${count}`);
    }
    if (count === 0) return 0;
    const { addrs, addrLen } = batch.addressArgs(count);
    return native().sendBatch(this.#checkOpen(), batch.buffer, batch.slotSize, count, batch.lengths, addrs, addrLen);
  }

  /** UDP_GRO: the kernel may coalesce same-flow datagrams into one slot (see segmentSize). */
  setGro(on: boolean): void {
    native().setsockoptInt(this.#checkOpen(), SOL_UDP, UDP_GRO, on ? 1 : 0);
    this.#gro = on;
  }

  /** SO_TIMESTAMP: every received datagram carries the kernel's arrival time (UdpBatchView.stamps). */
  setTimestamps(on: boolean): void {
    native().setsockoptInt(this.#checkOpen(), SOL_SOCKET, SO_TIMESTAMP, on ? 1 : 0);
    this.#stamps = on;
  }

  /** UDP_SEGMENT (GSO): sends larger than size are split into size-byte datagrams; 0 turns it off. */
  setGsoSegment(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > 65535) throw new InvalidArgumentError(`GSO segment size must be 0..65535, got ${size}`);
    native().setsockoptInt(this.#checkOpen(), SOL_UDP, UDP_SEGMENT, size);
  }

  /** Datagrams the kernel dropped on this socket (receive buffer full), from SO_MEMINFO. */
  drops(): number {
    return native().getsockoptBuf(this.#checkOpen(), SOL_SOCKET, SO_MEMINFO, 36).readUInt32LE(32);
  }

  /** Stops watching and closes the fd. Safe to call twice. */
  close(): void {
    if (this.#fd < 0) return;
    this.#watcher?.close();
    this.#watcher = undefined;
    const fd = this.#fd;
    this.#fd = -1;
    native().close(fd);
  }

  #checkOpen(): number {
    if (this.#fd < 0) throw new SocketClosedError('UDP socket is closed');
    return this.#fd;
  }
}

/** Sets a socket buffer size, past rmem_max when privileged (the FORCE variant). */
function setBuffer(fd: number, force: number, plain: number, bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 1024 || bytes > 1 << 30) {
    throw new InvalidArgumentError(`socket buffer size must be 1024..2^30 bytes, got ${bytes}`);
  }
  try {
    native().setsockoptInt(fd, SOL_SOCKET, force, bytes);
  } catch {
    native().setsockoptInt(fd, SOL_SOCKET, plain, bytes);
  }
}
