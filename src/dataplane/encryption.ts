/**
 * Overlay encryption in the kernel (docs/encryption.md): ESP transport-mode
 * SAs and outbound policies over NETLINK_XFRM, in the namespace that holds
 * the VXLAN sockets (the host's). Reconciliation reads what weft installed
 * (reqid / mark 0xd0c4e3, nothing else is touched), plans with planSas and
 * applies in that order, so it is both the first install, the key rotation
 * and the repair after `ip xfrm state flush`.
 */
import { randomBytes } from 'node:crypto';
import { EncryptionUnavailableError, errnoOf, isErrno } from '../errors.js';
import { deleteNetns, ensureNetns } from '../io/netns.js';
import { IPPROTO_UDP, XFRM_POLICY_OUT } from '../netlink/xfrm/constants.js';
import { Xfrm } from '../netlink/xfrm/handle.js';
import {
  ENCRYPTION_AEAD, ENCRYPTION_ICV_BITS, ENCRYPTION_MARK, ENCRYPTION_REQID, type InstalledSas, type KeyRing, type SaOp,
  keyMaterial, planSas, sortedKeys,
} from './encryption-keys.js';
import { VXLAN_PORT } from './nft-overlay.js';

const MARK = { value: ENCRYPTION_MARK, mask: 0xffffffff };

function missing(what: string, cause?: unknown): EncryptionUnavailableError {
  return new EncryptionUnavailableError(
    `encrypted overlay unavailable: required modules to install IPsec rules are missing (${what})`, { cause });
}

/**
 * Proves the kernel can hold an rfc4106(gcm(aes)) ESP SA, in a throw-away
 * namespace (nothing touches the host's SAD). Throws EncryptionUnavailableError
 * naming what is missing.
 */
export async function probeEsp(probeNetns = `wf-xprobe-${process.pid}`): Promise<void> {
  await ensureNetns(probeNetns);
  let x: Xfrm | undefined;
  try {
    try {
      x = Xfrm.open({ netns: probeNetns, timeoutMs: 10_000 });
    } catch (err) {
      throw missing('no NETLINK_XFRM socket: kernel without CONFIG_XFRM_USER / module xfrm_user', err);
    }
    const key = randomBytes(20);
    try {
      await x.addState({ src: '198.18.255.1', dst: '198.18.255.2', spi: 0x100, reqid: ENCRYPTION_REQID, aead: ENCRYPTION_AEAD, key, icvBits: ENCRYPTION_ICV_BITS });
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'ENOSYS' || /algorithm not found/i.test((err as { extackMessage?: string }).extackMessage ?? '')) {
        throw missing(`the kernel has no AEAD ${ENCRYPTION_AEAD}: modules aes/gcm/rfc4106 (crypto) not available`, err);
      }
      if (errno === 'EPROTONOSUPPORT' || errno === 'ENOPROTOOPT') throw missing('no ESP transform: module esp4', err);
      throw missing(`the kernel refused a test ESP state: ${errno ?? 'error'}`, err);
    } finally {
      key.fill(0);
    }
  } finally {
    x?.close();
    await deleteNetns(probeNetns, { ignoreMissing: true });
  }
}

/** weft's installed SAs and outbound policies in a namespace. */
export async function readInstalled(x: Xfrm, local: string): Promise<InstalledSas> {
  const [states, policies] = await Promise.all([x.listStates(), x.listPolicies()]);
  const out: InstalledSas = { states: [], policies: new Map() };
  for (const s of states) if (s.reqid === ENCRYPTION_REQID) out.states.push({ src: s.src, dst: s.dst, spi: s.spi });
  for (const p of policies) {
    if (p.dir !== XFRM_POLICY_OUT || p.mark?.value !== ENCRYPTION_MARK || p.selector.src !== local) continue;
    out.policies.set(p.selector.dst, p.tmpls[0]?.spi ?? 0);
  }
  return out;
}

export interface EncryptionSpec {
  local: string;
  remotes: string[];
  ring: KeyRing;
  port?: number;
}

/** Makes the namespace's weft SAs and policies match spec; returns the ops applied. */
export async function reconcileEncryption(netns: string | undefined, spec: EncryptionSpec): Promise<SaOp[]> {
  const x = Xfrm.open(netns !== undefined ? { netns } : {});
  try {
    const ops = planSas(spec.local, spec.remotes, spec.ring, await readInstalled(x, spec.local));
    for (const op of ops) await applyOp(x, spec, op);
    return ops;
  } finally {
    x.close();
  }
}

async function applyOp(x: Xfrm, spec: EncryptionSpec, op: SaOp): Promise<void> {
  const port = spec.port ?? VXLAN_PORT;
  switch (op.op) {
    case 'addState': {
      const k = sortedKeys(spec.ring).find((r) => r.tag === op.tag)!;
      const key = keyMaterial(k, op.spi);
      try {
        await x.addState({ src: op.src, dst: op.dst, spi: op.spi, reqid: ENCRYPTION_REQID, aead: ENCRYPTION_AEAD, key, icvBits: ENCRYPTION_ICV_BITS });
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      } finally {
        key.fill(0);
      }
      return;
    }
    case 'putPolicy':
      await x.putPolicy({
        selector: { src: spec.local, dst: op.remote, proto: IPPROTO_UDP, dport: port }, dir: XFRM_POLICY_OUT, mark: MARK,
        tmpl: { src: spec.local, dst: op.remote, spi: op.spi, reqid: ENCRYPTION_REQID },
      }, { replace: true });
      return;
    case 'deleteState':
      await x.deleteState(op, { ignoreMissing: true });
      return;
    case 'deletePolicy':
      await x.deletePolicy({ selector: { src: spec.local, dst: op.remote, proto: IPPROTO_UDP, dport: port }, dir: XFRM_POLICY_OUT, mark: MARK }, { ignoreMissing: true });
  }
}
