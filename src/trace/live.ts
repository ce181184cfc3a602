/**
 * Live capture for `weft trace capture` and `weft trace follow`: one
 * AF_PACKET socket per interface (in any namespace), the filter's outer
 * part compiled to classic BPF in the kernel and the whole filter applied
 * again here, every packet dissected into one reused Facts.
 */
import { PacketSocket, type PacketStats, caplen, packetType } from '../io/packet-socket.js';
import { Rtnl } from '../netlink/rtnetlink/handle.js';
import { NotFoundError } from '../errors.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../wire/capture-common.js';
import { compileBpf, encodeBpf } from './bpf.js';
import { dissect } from './dissect.js';
import { type Facts, newFacts } from './facts.js';
import type { FilterNode } from './filter.js';

const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
const ARPHRD_NONE = 65534;

export interface InterfaceInfo {
  index: number;
  linktype: number;
}

/**
 * ifindex and capture link type of an interface in a namespace. Kept in one
 * place so the lookup can change without touching the capture code.
 */
export async function lookupInterface(name: string, netns?: string): Promise<InterfaceInfo> {
  const rtnl = Rtnl.open(netns ? { netns } : {});
  try {
    const link = await rtnl.link(name);
    if (!link) throw new NotFoundError(`no interface ${JSON.stringify(name)}${netns ? ` in namespace ${netns}` : ''}`);
    const linktype = link.type === ARPHRD_ETHER || link.type === ARPHRD_LOOPBACK ? LINKTYPE_ETHERNET : link.type === ARPHRD_NONE ? LINKTYPE_RAW : LINKTYPE_ETHERNET;
    return { index: link.index, linktype };
  } finally {
    rtnl.client.close();
  }
}

export interface LivePacket {
  facts: Facts;
  data: Uint8Array;
  offset: number;
  caplen: number;
  sec: number;
  nsec: number;
  /** sll_pkttype: 4 = sent by this host. */
  packetType: number;
}

export interface LiveSourceOptions {
  iface: string;
  netns?: string;
  filter: FilterNode | null;
  snaplen?: number;
}

/** The wall clock in ns, for a packet the kernel sent no time for (Date.now has ms only). */
const hrBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export class LiveSource {
  readonly linktype: number;
  readonly kernelFilter: boolean;
  readonly #socket: PacketSocket;
  readonly #facts = newFacts();
  readonly #pkt: LivePacket;

  private constructor(socket: PacketSocket, linktype: number, kernelFilter: boolean) {
    this.#socket = socket;
    this.linktype = linktype;
    this.kernelFilter = kernelFilter;
    this.#pkt = { facts: this.#facts, data: new Uint8Array(0), offset: 0, caplen: 0, sec: 0, nsec: 0, packetType: 0 };
  }

  static async open(o: LiveSourceOptions): Promise<LiveSource> {
    const info = await lookupInterface(o.iface, o.netns);
    const program = info.linktype === LINKTYPE_ETHERNET ? compileBpf(o.filter) : undefined;
    const socket = PacketSocket.open({
      ifindex: info.index,
      ...(o.netns ? { netns: o.netns } : {}),
      ...(program ? { filter: encodeBpf(program) } : {}),
      snaplen: o.snaplen ?? 65536,
      receiveBuffer: 4 << 20,
      timestamps: true,
    });
    return new LiveSource(socket, info.linktype, program !== undefined);
  }

  /** Delivers each packet (dissected, not yet filtered in userspace). The object is reused. */
  start(each: (p: LivePacket) => void): void {
    this.#socket.start((batch) => {
      const p = this.#pkt;
      const stamps = batch.stamps;
      let fallbackSec = -1;
      let fallbackNsec = 0;
      for (let i = 0; i < batch.count; i++) {
        const off = i * batch.slotSize;
        const len = caplen(batch, i);
        dissect(this.#facts, batch.buf, off, off + len, this.linktype, len);
        p.data = batch.buf;
        p.offset = off;
        p.caplen = len;
        // The kernel's receive time of this packet (SO_TIMESTAMPNS), as tcpdump records it.
        if (stamps !== null && (stamps[2 * i] !== 0 || stamps[2 * i + 1] !== 0)) {
          p.sec = stamps[2 * i]!;
          p.nsec = stamps[2 * i + 1]!;
        } else {
          if (fallbackSec < 0) {
            const now = hrBase + process.hrtime.bigint();
            fallbackSec = Number(now / 1_000_000_000n);
            fallbackNsec = Number(now % 1_000_000_000n);
          }
          p.sec = fallbackSec;
          p.nsec = fallbackNsec;
        }
        p.packetType = packetType(batch, i);
        each(p);
      }
    });
  }

  stats(): PacketStats {
    return this.#socket.stats();
  }

  close(): PacketStats {
    this.#socket.close();
    return this.#socket.stats();
  }
}
