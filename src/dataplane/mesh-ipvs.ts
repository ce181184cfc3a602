/**
 * The mesh on IPVS, Docker's way adapted (docs/overlay.md): the
 * weft_mesh nft table marks packets to published ports with the
 * (service, port) fwmark before routing and masquerades marked flows;
 * IPVS fwmark services (one per mark) balance to MASQ destinations
 * backend:target. Sync is level-triggered: dump IPVS, then add, update
 * and delete so the kernel matches the desired state. Only services whose
 * fwmark is in weft's range are touched.
 */
import { writeSysctls } from '../io/sysctl.js';
import { IpvsClient } from '../netlink/ipvs/client.js';
import type { IpvsServiceKey } from '../netlink/ipvs/types.js';
import { type MeshDataplane, type MeshState, SERVICE_MARK_BASE, SERVICE_MARK_LIMIT } from './mesh-model.js';
import { NftMeshDataplane } from './nft-mesh.js';

/** Docker's "performance" sysctls plus what masquerading IPVS traffic needs. */
export const IPVS_SYSCTLS = {
  'net.ipv4.vs.conntrack': 1,
  'net.ipv4.vs.conn_reuse_mode': 0,
  'net.ipv4.vs.expire_nodest_conn': 1,
  'net.ipv4.vs.expire_quiescent_template': 1,
};

const SCHED: Record<string, string> = { rr: 'rr', wrr: 'wrr', random: 'rr', sh: 'sh', lc: 'lc' };

export class IpvsMeshDataplane implements MeshDataplane {
  readonly kind = 'ipvs' as const;
  readonly nft: NftMeshDataplane;
  #sysctlsDone = false;

  private constructor(readonly netns: string | undefined, readonly ipvs: IpvsClient) {
    this.nft = new NftMeshDataplane(netns, { ipvs: true });
  }

  static async open(netns: string | undefined): Promise<IpvsMeshDataplane> {
    return new IpvsMeshDataplane(netns, await IpvsClient.open(netns === undefined ? {} : { netns }));
  }

  async sync(state: MeshState): Promise<void> {
    if (!this.#sysctlsDone) {
      await writeSysctls(this.netns, IPVS_SYSCTLS);
      this.#sysctlsDone = true;
    }
    const want = new Map<number, { scheduler: string; dests: Map<string, { port: number; weight: number }> }>();
    for (const svc of state.services) {
      svc.ports.forEach((p, i) => {
        const dests = new Map<string, { port: number; weight: number }>();
        for (const b of svc.backends) dests.set(`${b.address}:${p.target}`, { port: p.target, weight: b.weight });
        want.set(svc.marks[i]!, { scheduler: SCHED[svc.scheduler] ?? 'rr', dests });
      });
    }
    // New marks first, then IPVS services, so no packet is marked for a service that does not exist...
    const have = (await this.ipvs.services()).filter((s) => s.fwmark !== undefined && s.fwmark >= SERVICE_MARK_BASE && s.fwmark <= SERVICE_MARK_LIMIT);
    for (const [mark, w] of want) {
      const key: IpvsServiceKey = { fwmark: mark };
      const cur = have.find((s) => s.fwmark === mark);
      if (!cur) await this.ipvs.addService({ ...key, scheduler: w.scheduler }, { idempotent: true });
      else if (cur.scheduler !== w.scheduler) await this.ipvs.updateService({ ...key, scheduler: w.scheduler });
      const dests = cur ? await this.ipvs.dests(key) : [];
      for (const d of dests) {
        const id = `${d.address}:${d.port}`;
        if (w.dests.has(id)) continue;
        // Quiesce, then delete: expire_nodest_conn drops its connections on their next packet.
        await this.ipvs.updateDest(key, { address: d.address, port: d.port, weight: 0, forward: 'masq' }).catch(() => {});
        await this.ipvs.deleteDest(key, { address: d.address, port: d.port }, { idempotent: true });
      }
      for (const [id, d] of w.dests) {
        const address = id.slice(0, id.lastIndexOf(':'));
        const cur2 = dests.find((x) => `${x.address}:${x.port}` === id);
        if (!cur2) await this.ipvs.addDest(key, { address, port: d.port, weight: d.weight, forward: 'masq' }, { idempotent: true });
        else if (cur2.weight !== d.weight || cur2.forward !== 'masq') await this.ipvs.updateDest(key, { address, port: d.port, weight: d.weight, forward: 'masq' });
      }
    }
    await this.nft.sync(state);
    // ...and stale services only after their marks are gone.
    for (const s of have) if (!want.has(s.fwmark!)) await this.ipvs.deleteService({ fwmark: s.fwmark! }, { idempotent: true });
  }

  async teardown(): Promise<void> {
    await this.nft.teardown();
    for (const s of await this.ipvs.services()) {
      if (s.fwmark !== undefined && s.fwmark >= SERVICE_MARK_BASE && s.fwmark <= SERVICE_MARK_LIMIT) {
        await this.ipvs.deleteService({ fwmark: s.fwmark }, { idempotent: true });
      }
    }
  }

  close(): void {
    this.ipvs.close();
  }
}
