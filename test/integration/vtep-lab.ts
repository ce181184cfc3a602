/**
 * Shared setup for the VTEP tests and the VTEP benchmark: lab host A runs
 * weft's userspace VTEP (in this process), lab host B a kernel vxlan
 * device created with weft's netlink code, same VNI, learning off, static
 * entries only (Docker's model). Overlay addresses 198.19.0.1 (A) and
 * 198.19.0.2 (B).
 */
import { Lab, type LabHost } from '../support/lab.js';
import { sh } from '../support/exec.js';
import { Rtnl } from '../../src/netlink/rtnetlink/handle.js';
import { addLink, setLink } from '../../src/netlink/rtnetlink/link-ops.js';
import { addAddress } from '../../src/netlink/rtnetlink/addr.js';
import { addNeighbour } from '../../src/netlink/rtnetlink/neigh.js';
import { addFdb } from '../../src/netlink/rtnetlink/fdb.js';
import { UserspaceVtep, type UserspaceVtepOptions } from '../../src/dataplane/vtep-runtime.js';

export const VNI = 42;
export const MAC_A = '02:42:c6:13:00:01';
export const MAC_B = '02:42:c6:13:00:02';
export const IP_A = '198.19.0.1';
export const IP_B = '198.19.0.2';

export interface VtepPair {
  lab: Lab;
  a: LabHost;
  b: LabHost;
  vtep: UserspaceVtep;
  close(): Promise<void>;
}

/** Builds A (userspace) and B (kernel); `extra` tweaks the VTEP options. Cleans up if any step fails. */
export async function vtepPair(extra: Partial<UserspaceVtepOptions> = {}, moreHosts: string[] = []): Promise<VtepPair & { others: LabHost[] }> {
  const lab = await Lab.create();
  let vtep: UserspaceVtep | undefined;
  try {
    const a = await lab.host('a');
    const b = await lab.host('b');
    const others: LabHost[] = [];
    for (const h of moreHosts) others.push(await lab.host(h));
    const rtnl = Rtnl.open({ netns: b.netns });
    try {
      await addLink(rtnl, { name: 'vx0', kind: 'vxlan', mtu: 1450, address: MAC_B, vxlan: { id: VNI, port: 4789, local: b.address, dev: 'eth0', learning: false } });
      await addAddress(rtnl, { dev: 'vx0', address: `${IP_B}/24` });
      await setLink(rtnl, 'vx0', { up: true });
      await addFdb(rtnl, { dev: 'vx0', mac: MAC_A, dst: a.address, self: true });
      await addNeighbour(rtnl, { dev: 'vx0', dst: IP_A, lladdr: MAC_A, state: 'permanent' });
    } finally {
      rtnl.close();
    }
    await wireChecksums(b);
    vtep = await UserspaceVtep.open({
      netns: a.netns, tap: 'wt0', vni: VNI, local: a.address, mtu: 1450, address: `${IP_A}/24`, mac: MAC_A,
      fdb: [{ mac: MAC_B, remote: b.address }], proxy: [{ ip: IP_B, mac: MAC_B }], ...extra,
    });
    const v = vtep;
    return { lab, a, b, others, vtep: v, close: async () => { await v.close(); await lab.destroy(); } };
  } catch (err) {
    await vtep?.close();
    await lab.destroy();
    throw err;
  }
}

/**
 * veth hands CHECKSUM_PARTIAL packets to its peer without computing the
 * checksum (a real NIC computes it on the wire). The kernel vxlan on B
 * leaves the inner TCP/UDP checksum partial, so a userspace receiver
 * would see a wrong checksum and A's kernel would drop the frame. Turning
 * tx checksumming off on B's underlay veth makes B's packets look like
 * they came off a wire.
 */
export async function wireChecksums(host: LabHost): Promise<void> {
  const py = `from pyroute2.ethtool import Ethtool
e = Ethtool()
f = e.get_features('${host.underlay}')
f.features['tx-checksum-ip-generic'].enable = False
e.set_features('${host.underlay}', f)`;
  await sh(['ip', 'netns', 'exec', host.netns, '/usr/bin/python3', '-c', py]);
}
