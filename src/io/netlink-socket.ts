/**
 * A non-blocking AF_NETLINK socket of any protocol, optionally opened inside
 * another network namespace, read on the event loop. Datagrams are handed to
 * the consumer as views into one reused buffer: valid only during the call.
 */
import { SysError } from '../errors.js';
import { native } from './native.js';
import { FdWatcher, READABLE } from './poll.js';
import { AF_NETLINK, SOCK_RAW, sockaddrNetlink } from './sockaddr.js';

const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_SNDBUF = 7;
const SO_RCVBUFFORCE = 33;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

/** Large enough for any single netlink datagram the kernel sends (dumps use ≤ 32 KiB). */
const RECEIVE_BUFFER = 256 * 1024;
/** Datagrams drained per readiness callback before yielding to the loop. */
const DRAIN_LIMIT = 256;

export interface NetlinkSocketOptions {
  /** Namespace path (/var/run/netns/X, /proc/PID/ns/net); default: ours. */
  netnsPath?: string;
  /** Multicast groups (numbers, as in RTNLGRP_*) to join. */
  groups?: number[];
  /** Kernel receive buffer (SO_RCVBUF[FORCE]); large for event listeners. */
  receiveBufferBytes?: number;
}

export type DatagramHandler = (datagram: Buffer, length: number) => void;
export type ErrorHandler = (err: Error) => void;

export class NetlinkSocket {
  readonly fd: number;
  readonly portId: number;
  #watcher: FdWatcher | undefined;
  #buffer = Buffer.alloc(RECEIVE_BUFFER);
  #onDatagram: DatagramHandler | undefined;
  #onError: ErrorHandler | undefined;
  #closed = false;
  static #kernel = sockaddrNetlink(0, 0);

  private constructor(fd: number, portId: number) {
    this.fd = fd;
    this.portId = portId;
  }

  static open(protocol: number, opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const n = native();
    const fd = n.openSocket(AF_NETLINK, SOCK_RAW, protocol, opts.netnsPath ?? null);
    try {
      n.setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, 1 << 20);
      const rcv = opts.receiveBufferBytes ?? 1 << 20;
      try {
        n.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcv);
      } catch {
        n.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, rcv);
      }
      // Errors carry the kernel's explanation; capped so they stay small.
      n.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      n.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      n.bind(fd, sockaddrNetlink(0, 0));
      for (const g of opts.groups ?? []) n.setsockoptInt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
      const name = n.getsockname(fd);
      return new NetlinkSocket(fd, name.readUInt32LE(4));
    } catch (err) {
      n.close(fd);
      throw err;
    }
  }

  /** Joins a multicast group after opening. */
  addMembership(group: number): void {
    native().setsockoptInt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
  }

  /** Sends one datagram (one or more messages) to the kernel. */
  send(data: Uint8Array, length = data.length): void {
    const sent = native().sendTo(this.fd, data, 0, length, NetlinkSocket.#kernel);
    if (sent === -1) {
      // Netlink sends to the kernel do not normally block; treat as a full buffer.
      throw new SysError('EAGAIN', 11, 'sendto', 'netlink send would block');
    }
  }

  /** Starts delivering datagrams (and receive errors such as ENOBUFS). */
  listen(onDatagram: DatagramHandler, onError: ErrorHandler): void {
    this.#onDatagram = onDatagram;
    this.#onError = onError;
    this.#watcher ??= new FdWatcher(this.fd, () => this.#drain());
    this.#watcher.watch(READABLE);
  }

  /** Reads what is queued without waiting (used by tests and after listen). */
  #drain(): void {
    const n = native();
    for (let i = 0; i < DRAIN_LIMIT && !this.#closed; i++) {
      let len: number;
      try {
        len = n.recvFrom(this.fd, this.#buffer, 0, this.#buffer.length, null);
      } catch (err) {
        this.#onError?.(err as Error);
        continue;
      }
      if (len < 0) return;
      if (len > this.#buffer.length) {
        this.#onError?.(new SysError('EMSGSIZE', 90, 'recvfrom', `netlink datagram of ${len} bytes truncated`));
        continue;
      }
      this.#onDatagram?.(this.#buffer, len);
    }
  }

  /** Stops reading (keeps the fd, e.g. for a synchronous caller). */
  pause(): void {
    this.#watcher?.watch(0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    native().close(this.fd);
  }
}
