/**
 * Layer-2 frame ports for the userspace data plane: a TAP device (optionally
 * created inside another network namespace) and an AF_PACKET socket bound
 * to an existing interface (a bridge port). Both read frames in batches
 * into one reused buffer and write them back out; neither allocates per
 * frame.
 *
 * A TAP opened here is not persistent: the kernel removes the interface
 * when the last fd closes, so `close()` (or the process dying) cleans up.
 */
import { InvalidArgumentError, SocketClosedError } from '../errors.js';
import { native, netnsPath } from './native.js';
import { PacketSocket, caplen, packetType } from './packet-socket.js';
import { FdWatcher, READABLE } from './poll.js';
import { sockaddrPacket } from './sockaddr.js';
import { VNET_HDR_TUNNEL_LEN } from '../wire/virtio-net.js';

/** _IOW('T', 203, int) */
const TUNSETPERSIST = 0x400454cb;
const TUNSETOWNER = 0x400454cc;
const TUNSETGROUP = 0x400454ce;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const IFF_MULTI_QUEUE = 0x0100;
/** _IOW('T', 208, unsigned int) */
export const TUNSETOFFLOAD = 0x400454d0;
/** _IOW('T', 216, int) */
export const TUNSETVNETHDRSZ = 0x400454d8;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
/** GSO over UDP tunnels (Linux 6.17+): frames written with a 24-byte virtio_net_hdr may be VXLAN super-packets. */
export const TUN_F_UDP_TUNNEL_GSO = 0x80;
/** What a VTEP asks for: partial checksums and TCP super-segments, UDP ones where the kernel has them (6.2+). */
export const TAP_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
/** Frame slot that holds any frame of a TAP with offloads: virtio_net_hdr + Ethernet + VLAN tag + a 64 kB IP packet. */
export const MAX_FRAME_SLOT = 65536 + 128;
/** sockaddr_ll packet types. */
const PACKET_OUTGOING = 4;
const ETH_P_ALL = 0x0003;
const MAX_ROUNDS = 16;

/** A batch of frames: frame i is buffer[i * slotSize, + lengths[i]). */
export class FrameBatch {
  readonly buffer: Buffer;
  readonly lengths: Int32Array;
  count = 0;
  constructor(readonly slotSize: number, readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) throw new InvalidArgumentError(`batch capacity must be 1..1024, got ${capacity}`);
    if (!Number.isInteger(slotSize) || slotSize < 64 || slotSize > MAX_FRAME_SLOT) throw new InvalidArgumentError(`slot size must be 64..${MAX_FRAME_SLOT}, got ${slotSize}`);
    this.buffer = Buffer.alloc(slotSize * capacity);
    this.lengths = new Int32Array(capacity);
  }
}

/** What the VTEP and the proxy responder need from an L2 port. */
export interface FramePort {
  readonly name: string;
  /** Calls onFrames(batch) whenever frames arrive; the batch is reused. */
  start(onFrames: (batch: FrameBatch) => void, onError?: (err: unknown) => void): void;
  /** Writes the first `count` frames of batch; returns how many went out. */
  writeBatch(batch: FrameBatch, count: number): number;
  /** Writes one frame; false when the port could not take it now. */
  write(buf: Uint8Array, offset: number, length: number): boolean;
  close(): void;
}

export interface TapOptions {
  /** Interface name (≤ 15 chars); the kernel picks tapN when omitted. */
  name?: string;
  netns?: string;
  /** Frames per read batch (default 64) and bytes per frame slot (default 2048). */
  batch?: number;
  slotSize?: number;
  /** IFF_VNET_HDR: every frame carries a virtio_net_hdr (needed for offloads). */
  vnetHeader?: boolean;
  /**
   * IFF_MULTI_QUEUE with this many queues (one fd each, same interface):
   * the kernel hands the frames of one flow to one queue. Use openQueues.
   */
  queues?: number;
}

export class TapDevice implements FramePort {
  readonly fd: number;
  readonly name: string;
  readonly vnetHeader: boolean;
  readonly #batch: FrameBatch;
  #watcher: FdWatcher | undefined;
  #closed = false;

  private constructor(fd: number, name: string, batch: FrameBatch, vnet: boolean) {
    this.fd = fd;
    this.name = name;
    this.#batch = batch;
    this.vnetHeader = vnet;
  }

  static open(opts: TapOptions = {}): TapDevice {
    if (opts.name !== undefined && !/^[^\s/:]{1,15}$/.test(opts.name)) throw new InvalidArgumentError(`invalid interface name ${JSON.stringify(opts.name)}`);
    const batch = new FrameBatch(opts.slotSize ?? 2048, opts.batch ?? 64);
    const flags = IFF_TAP | IFF_NO_PI | (opts.vnetHeader ? IFF_VNET_HDR : 0) | ((opts.queues ?? 1) > 1 ? IFF_MULTI_QUEUE : 0);
    const { fd, name } = native().openTun(opts.name ?? null, flags, opts.netns === undefined ? null : netnsPath(opts.netns));
    return new TapDevice(fd, name, batch, opts.vnetHeader ?? false);
  }

  /**
   * A multi-queue TAP: `opts.queues` fds attached to one interface. The
   * interface lives while any queue is open; all are closed on failure.
   */
  static openQueues(opts: TapOptions & { queues: number }): TapDevice[] {
    if (!Number.isInteger(opts.queues) || opts.queues < 2 || opts.queues > 64) throw new InvalidArgumentError(`TAP queues must be 2..64, got ${opts.queues}`);
    const first = TapDevice.open(opts);
    const out = [first];
    try {
      while (out.length < opts.queues) out.push(TapDevice.open({ ...opts, name: first.name }));
    } catch (err) {
      for (const q of out) q.close();
      throw err;
    }
    return out;
  }

  /** Wraps a queue fd opened elsewhere (another thread of this process); close() closes it. */
  static fromFd(fd: number, name: string, opts: { batch?: number; slotSize?: number; vnetHeader?: boolean } = {}): TapDevice {
    return new TapDevice(fd, name, new FrameBatch(opts.slotSize ?? 2048, opts.batch ?? 64), opts.vnetHeader ?? false);
  }

  /** TUNSETOFFLOAD: which offloads (TUN_F_*) the reader can take. */
  setOffload(flags: number): void {
    native().ioctlInt(this.fd, TUNSETOFFLOAD, flags);
  }

  /**
   * Asks for `wanted` offloads (needs vnetHeader), dropping the UDP ones
   * when the kernel refuses them (EINVAL before 6.2); returns what was
   * granted. The virtio_net_hdr stays at the kernel's default 10 bytes.
   */
  enableOffloads(wanted = TAP_OFFLOADS): number {
    if (!this.vnetHeader) throw new InvalidArgumentError(`TAP ${this.name} was opened without a virtio_net_hdr`);
    try {
      this.setOffload(wanted);
      return wanted;
    } catch (err) {
      const fallback = wanted & ~(TUN_F_USO4 | TUN_F_USO6);
      if (fallback === wanted) throw err;
      this.setOffload(fallback);
      return fallback;
    }
  }

  /**
   * Makes the TAP take VXLAN super-packets written to it (the underlay TAP
   * of vtep-tunnel.ts): a 24-byte virtio_net_hdr with the tunnel offsets,
   * and TUN_F_UDP_TUNNEL_GSO, which a kernel before 6.17 refuses (EINVAL:
   * the caller falls back to the UDP socket).
   */
  enableTunnelOffload(): void {
    if (!this.vnetHeader) throw new InvalidArgumentError(`TAP ${this.name} was opened without a virtio_net_hdr`);
    this.setOffload(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UDP_TUNNEL_GSO);
    native().ioctlIntRef(this.fd, TUNSETVNETHDRSZ, VNET_HDR_TUNNEL_LEN);
  }

  /** Reads one batch now (no event loop). */
  readBatch(): FrameBatch {
    const b = this.#batch;
    b.count = native().readBatch(this.fd, b.buffer, b.slotSize, b.capacity, b.lengths);
    return b;
  }

  start(onFrames: (batch: FrameBatch) => void, onError?: (err: unknown) => void): void {
    if (this.#closed) throw new SocketClosedError(`TAP ${this.name} is closed`);
    this.#watcher ??= new FdWatcher(this.fd, () => {
      for (let round = 0; round < MAX_ROUNDS && !this.#closed; round++) {
        let b: FrameBatch;
        try {
          b = this.readBatch();
        } catch (err) {
          onError?.(err);
          return;
        }
        if (b.count === 0) return;
        onFrames(b);
        if (b.count < b.capacity) return;
      }
    });
    this.#watcher.watch(READABLE);
  }

  writeBatch(batch: FrameBatch, count: number): number {
    if (count <= 0) return 0;
    return native().writeBatch(this.fd, batch.buffer, batch.slotSize, count, batch.lengths);
  }

  /** Writes frames first .. first+count-1 of batch; returns how many went out (throws only when the first one fails). */
  writeBatchFrom(batch: FrameBatch, first: number, count: number): number {
    if (count <= 0) return 0;
    if (first === 0) return this.writeBatch(batch, count);
    return native().writeBatch(this.fd, batch.buffer.subarray(first * batch.slotSize), batch.slotSize, count, batch.lengths.subarray(first));
  }

  write(buf: Uint8Array, offset: number, length: number): boolean {
    // One write(2) is one frame on a TAP: a one-slot batch.
    oneLength[0] = length;
    return native().writeBatch(this.fd, buf.subarray(offset, offset + length), length, 1, oneLength) === 1;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    native().close(this.fd);
  }
}

const oneLength = new Int32Array(1);

export interface PacketPortOptions {
  ifindex: number;
  name: string;
  netns?: string;
  batch?: number;
  slotSize?: number;
  /** Classic BPF program (8-byte sock_filter entries) applied before bind. */
  filter?: Uint8Array;
}

/**
 * An existing interface (e.g. a bridge port veth) seen through AF_PACKET:
 * receives what arrives on it (not what we or others send out of it) and
 * sends frames out of it.
 */
export class PacketPort implements FramePort {
  readonly name: string;
  readonly #socket: PacketSocket;
  readonly #dest: Buffer;
  readonly #frames: FrameBatch;

  private constructor(name: string, socket: PacketSocket, dest: Buffer, frames: FrameBatch) {
    this.name = name;
    this.#socket = socket;
    this.#dest = dest;
    this.#frames = frames;
  }

  static open(opts: PacketPortOptions): PacketPort {
    const slot = opts.slotSize ?? 2048;
    const socket = PacketSocket.open({
      ifindex: opts.ifindex, snaplen: slot, batch: opts.batch ?? 64,
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
    });
    return new PacketPort(opts.name, socket, sockaddrPacket(opts.ifindex, ETH_P_ALL), new FrameBatch(slot, opts.batch ?? 64));
  }

  start(onFrames: (batch: FrameBatch) => void): void {
    const out = this.#frames;
    this.#socket.start((b) => {
      // Keep only frames that arrived on the port (not our own or forwarded transmissions).
      let n = 0;
      for (let i = 0; i < b.count; i++) {
        if (packetType(b, i) === PACKET_OUTGOING || b.lengths[i]! < 0) continue;
        const len = caplen(b, i);
        b.buf.copy(out.buffer, n * out.slotSize, i * b.slotSize, i * b.slotSize + len);
        out.lengths[n++] = len;
      }
      out.count = n;
      if (n > 0) onFrames(out);
    });
  }

  writeBatch(batch: FrameBatch, count: number): number {
    let sent = 0;
    for (let i = 0; i < count; i++) if (this.write(batch.buffer, i * batch.slotSize, batch.lengths[i]!)) sent++;
    return sent;
  }

  write(buf: Uint8Array, offset: number, length: number): boolean {
    return native().sendTo(this.#socket.fd, buf, offset, length, this.#dest) >= 0;
  }

  stats(): { received: number; dropped: number } {
    return this.#socket.stats();
  }

  close(): void {
    this.#socket.close();
  }
}

/**
 * A persistent tun/tap device (`ip tuntap add`): TUNSETIFF on /dev/net/tun
 * inside netns with `flags` (IFF_TUN/IFF_TAP, IFF_NO_PI …), owner and group,
 * TUNSETPERSIST, then the fd is closed. Returns the kernel's name.
 */
export function createPersistentTun(name: string, flags: number, netns: string | undefined, owner?: number, group?: number): string {
  const n = native();
  const { fd, name: got } = n.openTun(name, flags, netns !== undefined ? netnsPath(netns) : null);
  try {
    if (owner !== undefined) n.ioctlInt(fd, TUNSETOWNER, owner);
    if (group !== undefined) n.ioctlInt(fd, TUNSETGROUP, group);
    n.ioctlInt(fd, TUNSETPERSIST, 1);
  } finally {
    n.close(fd);
  }
  return got;
}
