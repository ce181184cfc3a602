/**
 * The proxy ARP/NDP responder attached to an L2 port outside a VTEP: an
 * AF_PACKET socket on the far end of a veth whose other end is a bridge
 * port (io/tap.ts PacketPort), or any FramePort. It answers requests the
 * bridge floods to it from the owned-endpoint table and announces moves.
 *
 * When weft relies on the kernel's own proxy_arp instead, it must also
 * set neigh.<dev>.proxy_delay=0: the default delays broadcast answers by
 * a random 0-0.8 s (docs/performance.md); `enableKernelProxyArp` does both.
 */
import type { FramePort, FrameBatch } from '../io/tap.js';
import { netSysctl, type SysctlChanges } from '../io/sysctl.js';
import { NA_LENGTH, ProxyNeighbourTable, ProxyResponder, type ProxyResponderOptions, type ProxySetResult } from './proxy-arp.js';

export class ProxyArpPort {
  readonly responder: ProxyResponder;
  readonly #port: FramePort;
  readonly #out = Buffer.alloc(NA_LENGTH);
  /** Frames written back that the port did not take (full). */
  sendFailures = 0;

  constructor(port: FramePort, table = new ProxyNeighbourTable(), opts: ProxyResponderOptions = {}) {
    this.#port = port;
    this.responder = new ProxyResponder(table, opts);
  }

  get table(): ProxyNeighbourTable {
    return this.responder.table;
  }

  start(): void {
    this.#port.start((b) => this.#frames(b));
  }

  #frames(b: FrameBatch): void {
    const now = Date.now();
    for (let i = 0; i < b.count; i++) {
      const n = this.responder.handle(b.buffer, i * b.slotSize, b.lengths[i]!, now, this.#out, 0);
      if (n > 0 && !this.#port.write(this.#out, 0, n)) this.sendFailures++;
    }
  }

  /** Sets an owned endpoint; a new or moved one is announced on the port. */
  set(ip: string, mac: string): ProxySetResult {
    const r = this.table.set(ip, mac);
    if (r !== 'unchanged') {
      const n = this.responder.announce(ip, this.#out, 0);
      if (!this.#port.write(this.#out, 0, n)) this.sendFailures++;
    }
    return r;
  }

  delete(ip: string): boolean {
    return this.table.delete(ip);
  }

  close(): void {
    this.#port.close();
  }
}

/** Turns on the kernel's proxy_arp for dev with proxy_delay=0 (restorable through `changes`). */
export async function enableKernelProxyArp(changes: SysctlChanges, dev: string): Promise<void> {
  await changes.set({ [netSysctl.proxyArp(dev)]: 1, [netSysctl.proxyDelay(dev)]: 0 });
}
