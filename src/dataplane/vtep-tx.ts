/**
 * The VTEP's underlay output: VXLAN datagrams gathered into one sendmmsg
 * per batch. With UDP GSO (UDP_SEGMENT) the segments of one TCP
 * super-frame go out as one message of up to 64 kB, cut by the kernel
 * into equal datagrams (the last may be shorter), so a 64 kB TSO frame
 * read from the TAP costs one send slot instead of ~45.
 *
 * UDP_SEGMENT is a socket option here (the addon's sendmmsg takes no
 * per-message control data), so one sendmmsg carries messages of one
 * segment size; a plain datagram rides along when it is no larger than
 * that size (the kernel sends it unsegmented). The option is set only
 * when the size changes, i.e. once per bulk flow. If a GSO send fails
 * (a device without checksum offload answers EIO, a smaller path MTU
 * EINVAL), GSO is turned off for good and the batch is resent one
 * datagram at a time; from then on every datagram has its own slot.
 */
import { UdpSendBatch, MAX_DATAGRAM, type UdpSocket } from '../io/udp.js';
import * as vxlan from '../wire/vxlan.js';
import type { RemoteVtep } from './fdb-table.js';
import { viewOf, type GsoFrame } from './gso.js';
import type { VtepCounters } from './vtep.js';

/** The kernel's UDP_MAX_SEGMENTS on older kernels (newer ones allow 128). */
const MAX_GSO_SEGMENTS = 64;
/** Datagram slots per sendmmsg without GSO. */
const PLAIN_SLOTS = 512;

export class VxlanSender {
  readonly #udp: UdpSocket;
  readonly #vni: number;
  readonly #counters: VtepCounters;
  readonly #maxDatagram: number;
  #gso: boolean;
  #out: UdpSendBatch;
  #outView: DataView;
  #segmentsPerSlot: Int32Array;
  #remotes: (RemoteVtep | undefined)[];
  #n = 0;
  /** Segment size of the GSO messages queued in this batch (0: none). */
  #batchSeg = 0;
  /** Largest single datagram queued in this batch. */
  #maxPlain = 0;
  /** The socket's current UDP_SEGMENT. */
  #sockSeg = 0;
  /** The last send error (for stats), if any. */
  lastError: string | undefined;

  constructor(udp: UdpSocket, vni: number, counters: VtepCounters, maxDatagram: number, batch: number, udpGso: boolean) {
    this.#udp = udp;
    this.#vni = vni;
    this.#counters = counters;
    this.#maxDatagram = maxDatagram;
    this.#gso = udpGso;
    this.#out = udpGso ? new UdpSendBatch(MAX_DATAGRAM, batch) : new UdpSendBatch(maxDatagram, Math.max(batch, PLAIN_SLOTS));
    this.#outView = viewOf(this.#out.buffer);
    this.#segmentsPerSlot = new Int32Array(this.#out.capacity);
    this.#remotes = new Array<RemoteVtep | undefined>(this.#out.capacity).fill(undefined);
  }

  /** Whether UDP GSO is in use (false after a fallback). */
  get udpGso(): boolean {
    return this.#gso;
  }

  /** Queues the inner frame src[off, off+len) for `remote`. */
  plain(src: Buffer, off: number, len: number, remote: RemoteVtep): void {
    const dlen = len + vxlan.HEADER_LENGTH;
    if (this.#n === this.#out.capacity || (this.#batchSeg !== 0 && dlen > this.#batchSeg)) this.flush();
    const out = this.#out;
    const o = this.#n * out.slotSize;
    vxlan.encodeHeader(this.#vni, out.buffer, o);
    src.copy(out.buffer, o + vxlan.HEADER_LENGTH, off, off + len);
    if (dlen > this.#maxPlain) this.#maxPlain = dlen;
    this.#queued(dlen, 1, remote);
  }

  /** Queues every segment of the super-frame src[off..] that `frame` parsed. */
  segments(src: Buffer, off: number, frame: GsoFrame, remote: RemoteVtep): void {
    const n = frame.segments;
    const H = vxlan.HEADER_LENGTH;
    const seg = H + frame.hdrLen + frame.gsoSize;
    if (!this.#gso || n === 1) {
      for (let j = 0; j < n; j++) {
        const dlen = H + frame.segmentLength(j);
        if (this.#n === this.#out.capacity || (this.#batchSeg !== 0 && dlen > this.#batchSeg)) this.flush();
        const o = this.#n * this.#out.slotSize;
        vxlan.encodeHeader(this.#vni, this.#out.buffer, o);
        frame.write(src, off, j, 1, this.#out.buffer, this.#outView, o + H, 0);
        if (dlen > this.#maxPlain) this.#maxPlain = dlen;
        this.#queued(dlen, 1, remote);
      }
      return;
    }
    if (this.#batchSeg !== seg && (this.#batchSeg !== 0 || this.#maxPlain > seg)) this.flush();
    const per = Math.min(Math.floor(this.#out.slotSize / seg), MAX_GSO_SEGMENTS);
    for (let first = 0; first < n; first += per) {
      if (this.#n === this.#out.capacity) this.flush();
      this.#batchSeg = seg;
      const cnt = Math.min(per, n - first);
      const o = this.#n * this.#out.slotSize;
      const last = frame.write(src, off, first, cnt, this.#out.buffer, this.#outView, o + H, seg);
      for (let t = 0; t < cnt; t++) vxlan.encodeHeader(this.#vni, this.#out.buffer, o + t * seg);
      this.#queued((cnt - 1) * seg + H + last, cnt, remote);
    }
  }

  #queued(len: number, segs: number, remote: RemoteVtep): void {
    const i = this.#n++;
    this.#out.lengths[i] = len;
    this.#segmentsPerSlot[i] = segs;
    this.#remotes[i] = remote;
    this.#out.setDestinationSockaddr(i, remote.sockaddr);
  }

  /** Sends what is queued (one sendmmsg); counts datagrams sent and dropped. */
  flush(): void {
    const n = this.#n;
    if (n === 0) return;
    const c = this.#counters;
    let sent = 0;
    try {
      if (this.#gso) this.#setSegment();
      sent = this.#udp.sendBatch(this.#out, n);
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      if (this.#gso && this.#batchSeg !== 0) {
        this.#fallback();
        return;
      }
      for (let i = 0; i < n; i++) c.tx_errors += this.#segmentsPerSlot[i]!;
      this.#reset();
      return;
    }
    for (let i = 0; i < sent; i++) {
      c.tx_packets += this.#segmentsPerSlot[i]!;
      c.tx_bytes += this.#out.lengths[i]! - vxlan.HEADER_LENGTH * this.#segmentsPerSlot[i]!;
    }
    for (let i = sent; i < n; i++) c.tx_socket_full += this.#segmentsPerSlot[i]!;
    this.#reset();
  }

  #setSegment(): void {
    const want = this.#batchSeg;
    if (want !== 0) {
      if (this.#sockSeg !== want) {
        this.#udp.setGsoSegment(want);
        this.#sockSeg = want;
      }
    } else if (this.#sockSeg !== 0 && this.#maxPlain > this.#sockSeg) {
      this.#udp.setGsoSegment(0);
      this.#sockSeg = 0;
    }
  }

  #reset(): void {
    this.#n = 0;
    this.#batchSeg = 0;
    this.#maxPlain = 0;
  }

  /** GSO send failed: resend the batch datagram by datagram, then continue without GSO. */
  #fallback(): void {
    const c = this.#counters;
    const out = this.#out;
    const seg = this.#batchSeg;
    try {
      this.#udp.setGsoSegment(0);
    } catch {
      // the socket is unusable; the sends below fail and are counted
    }
    this.#sockSeg = 0;
    for (let i = 0; i < this.#n; i++) {
      const base = i * out.slotSize;
      const end = base + out.lengths[i]!;
      const sa = this.#remotes[i]!.sockaddr;
      for (let o = base; o < end; o += seg) {
        const l = Math.min(seg, end - o);
        let ok = false;
        try {
          ok = this.#udp.sendToSockaddr(out.buffer, o, l, sa);
        } catch {
          c.tx_errors++;
          continue;
        }
        if (ok) {
          c.tx_packets++;
          c.tx_bytes += l - vxlan.HEADER_LENGTH;
        } else c.tx_socket_full++;
      }
    }
    this.#gso = false;
    this.#out = new UdpSendBatch(this.#maxDatagram, PLAIN_SLOTS);
    this.#outView = viewOf(this.#out.buffer);
    this.#segmentsPerSlot = new Int32Array(this.#out.capacity);
    this.#remotes = new Array<RemoteVtep | undefined>(this.#out.capacity).fill(undefined);
    this.#reset();
  }
}

