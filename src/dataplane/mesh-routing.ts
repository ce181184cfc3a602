/**
 * Policy routing for the source-preserving mesh mode: per peer host P, a
 * rule `fwmark PEER_MARK_BASE|P lookup TABLE_BASE+P` (RTM_NEWRULE) and, in
 * that table, `default via <P's underlay address>`. nft-mesh.ts marks the
 * replies of flows that came in through P, so they leave through P, where
 * conntrack un-DNATs them (the client sees the address it connected to).
 */
import { NLM_F_CREATE, NLM_F_EXCL } from '../netlink/constants.js';
import { isErrno } from '../errors.js';
import { Rtnl } from '../netlink/rtnetlink/handle.js';
import { deleteRoute, replaceRoute } from '../netlink/rtnetlink/route.js';
import { PEER_MARK_BASE, type MeshPeer } from './mesh-model.js';

const RTM_NEWRULE = 32;
const RTM_DELRULE = 33;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FR_ACT_TO_TBL = 1;
const AF_INET = 2;

export const MESH_TABLE_BASE = 0x5746;
export const MESH_RULE_PRIORITY = 5746;

async function ruleRequest(rtnl: Rtnl, type: number, flags: number, peer: number): Promise<void> {
  await rtnl.client.request({
    type, flags, what: `${type === RTM_NEWRULE ? 'add' : 'delete'} mesh rule for peer ${peer}`,
    build: (w) => {
      const at = w.zeros(12); // struct fib_rule_hdr
      w.buf[at] = AF_INET;
      w.buf[at + 4] = 252; // RT_TABLE_COMPAT: the real id is in FRA_TABLE
      w.buf[at + 7] = FR_ACT_TO_TBL;
      w.u32(FRA_PRIORITY, MESH_RULE_PRIORITY);
      w.u32(FRA_FWMARK, (PEER_MARK_BASE | peer) >>> 0);
      w.u32(FRA_FWMASK, 0xffffffff);
      w.u32(FRA_TABLE, MESH_TABLE_BASE + peer);
    },
  });
}

/** Installs rules and tables for `peers` (idempotent) and removes those of peers in `gone`. */
export async function syncMeshRouting(netns: string | undefined, selfIndex: number, peers: MeshPeer[], gone: number[] = []): Promise<void> {
  const rtnl = Rtnl.open(netns === undefined ? {} : { netns });
  try {
    for (const p of peers) {
      if (p.index === selfIndex) continue;
      await replaceRoute(rtnl, { dst: 'default', gateway: p.address, table: MESH_TABLE_BASE + p.index });
      try {
        await ruleRequest(rtnl, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, p.index);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
    }
    for (const index of gone) await removePeer(rtnl, index);
  } finally {
    rtnl.client.close();
  }
}

async function removePeer(rtnl: Rtnl, index: number): Promise<void> {
  try {
    await ruleRequest(rtnl, RTM_DELRULE, 0, index);
  } catch (err) {
    if (!isErrno(err, 'ENOENT', 'ESRCH')) throw err;
  }
  try {
    await deleteRoute(rtnl, { dst: 'default', table: MESH_TABLE_BASE + index });
  } catch {
    // already gone
  }
}

/** Removes the rules and tables of every index given. */
export async function clearMeshRouting(netns: string | undefined, indexes: number[]): Promise<void> {
  await syncMeshRouting(netns, 0, [], indexes);
}
