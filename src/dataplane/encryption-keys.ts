/**
 * Pure pieces of overlay encryption (docs/encryption.md): SPI derivation,
 * the per-pair SA set a host wants for a key ring, and the key ring's
 * rotation rule. No I/O, so the rotation guarantee is property tested.
 *
 * The ring holds up to three keys ordered by tag. The *primary* (the key a
 * host sends with) is the second newest, so a key is installed for
 * receiving on every host one rotation period before anyone sends with it,
 * and a key is pruned one period after everyone stopped sending with it:
 * two hosts at most one rotation apart always accept each other's packets.
 */
import { parsePrefix } from '../wire/ip.js';

/** Docker's reqid and policy mark: tell weft's XFRM objects from other VPNs'. */
export const ENCRYPTION_REQID = 0xd0c4e3;
export const ENCRYPTION_MARK = 0xd0c4e3;
export const ENCRYPTION_AEAD = 'rfc4106(gcm(aes))';
export const ENCRYPTION_ICV_BITS = 64;
/** AES-128 key bytes (the 4-byte salt is added per SA). */
export const KEY_BYTES = 16;
/** 1500 − 50 (VXLAN) − 26 (ESP: SPI, seq, IV, pad, ICV) (Docker's value). */
export const ENCRYPTED_OVERLAY_MTU = 1424;
export const RING_SIZE = 3;

export interface RingKey {
  /** Increasing per rotation (a Lamport-like clock shared through the store). */
  tag: number;
  /** Key bytes, hex. */
  key: string;
  /** ISO time the key was made. */
  created: string;
}

export interface KeyRing {
  keys: RingKey[];
}

/** FNV-1a 32 over (src as 16 bytes, IPv4-mapped; tag big-endian u32; dst as 16 bytes), as Docker's buildSPI. */
export function deriveSpi(src: string, dst: string, tag: number): number {
  let h = 0x811c9dc5;
  const feed = (b: Uint8Array) => {
    for (const x of b) {
      h ^= x;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  };
  const tagBytes = new Uint8Array(4);
  new DataView(tagBytes.buffer).setUint32(0, tag >>> 0);
  feed(mapped16(src));
  feed(tagBytes);
  feed(mapped16(dst));
  // SPIs 0-255 are reserved (RFC 4303 §2.1).
  return h < 256 ? h + 256 : h;
}

function mapped16(ip: string): Uint8Array {
  const b = parsePrefix(ip, 'address').bytes;
  if (b.length === 16) return b;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(b, 12);
  return out;
}

/** Keys sorted oldest first. */
export function sortedKeys(ring: KeyRing): RingKey[] {
  return [...ring.keys].sort((a, b) => a.tag - b.tag);
}

/** The key a host sends with: the second newest (the only one while the ring has one key). */
export function primaryKey(ring: KeyRing): RingKey | undefined {
  const k = sortedKeys(ring);
  if (k.length === 0) return undefined;
  return k.length === 1 ? k[0] : k[k.length - 2];
}

/** The ring after one rotation: a new newest key, the oldest dropped beyond RING_SIZE. */
export function rotateRing(ring: KeyRing, fresh: { key: string; created: string }): KeyRing {
  const k = sortedKeys(ring);
  const tag = (k.at(-1)?.tag ?? 0) + 1;
  return { keys: [...k, { tag, ...fresh }].slice(-RING_SIZE) };
}

/** A first ring: two keys, so the primary's successor is already installed for receiving. */
export function initialRing(make: () => { key: string; created: string }): KeyRing {
  return rotateRing(rotateRing({ keys: [] }, make()), make());
}

/** The 20 bytes of rfc4106 key material: key + salt (the SPI, big-endian), Docker's choice. */
export function keyMaterial(key: RingKey, spi: number): Buffer {
  const out = Buffer.alloc(KEY_BYTES + 4);
  Buffer.from(key.key, 'hex').copy(out, 0, 0, KEY_BYTES);
  out.writeUInt32BE(spi >>> 0, KEY_BYTES);
  return out;
}

/** The SAs and policy one host wants towards one remote VTEP. */
export interface PairSas {
  remote: string;
  /** Inbound SAs (remote → local), one per key in the ring. */
  inbound: { spi: number; tag: number }[];
  /** The outbound SA (local → remote) for the primary key. */
  outbound: { spi: number; tag: number };
}

export function pairSas(local: string, remote: string, ring: KeyRing): PairSas | undefined {
  const primary = primaryKey(ring);
  if (!primary) return undefined;
  return {
    remote,
    inbound: sortedKeys(ring).map((k) => ({ spi: deriveSpi(remote, local, k.tag), tag: k.tag })),
    outbound: { spi: deriveSpi(local, remote, primary.tag), tag: primary.tag },
  };
}

/** Short, non-secret identifier of a key for display: its tag. Key bytes are never shown. */
export function keyTag(k: RingKey | undefined): string {
  return k ? String(k.tag) : '-';
}

/** What a host has installed (weft's objects only: reqid / mark 0xd0c4e3). */
export interface InstalledSas {
  /** SAs as src → dst with their SPI. */
  states: { src: string; dst: string; spi: number }[];
  /** Outbound policies: remote → the SPI their template names. */
  policies: Map<string, number>;
}

export type SaOp =
  | { op: 'addState'; src: string; dst: string; spi: number; tag: number }
  | { op: 'putPolicy'; remote: string; spi: number }
  | { op: 'deleteState'; src: string; dst: string; spi: number }
  | { op: 'deletePolicy'; remote: string };

const said = (s: { src: string; dst: string; spi: number }) => `${s.src}>${s.dst}#${s.spi >>> 0}`;

/**
 * The operations, in a safe order, that take a host from `installed` to the
 * SAs for `remotes` under `ring` (Docker's updateNodeKey order): every new
 * inbound SA first, then the new outbound SA, then the policy switch, then
 * old outbound SAs, then pruned inbound SAs, and last the policies of peers
 * that left. At no step is a packet a peer may send rejected.
 */
export function planSas(local: string, remotes: string[], ring: KeyRing, installed: InstalledSas): SaOp[] {
  const have = new Set(installed.states.map(said));
  const want = new Set<string>();
  const addIn: SaOp[] = [];
  const addOut: SaOp[] = [];
  const policies: SaOp[] = [];
  const wantPolicy = new Set<string>();
  for (const remote of [...new Set(remotes)].sort()) {
    if (remote === local) continue;
    const p = pairSas(local, remote, ring);
    if (!p) continue;
    for (const i of p.inbound) {
      const s = { src: remote, dst: local, spi: i.spi };
      want.add(said(s));
      if (!have.has(said(s))) addIn.push({ op: 'addState', ...s, tag: i.tag });
    }
    const o = { src: local, dst: remote, spi: p.outbound.spi };
    want.add(said(o));
    if (!have.has(said(o))) addOut.push({ op: 'addState', ...o, tag: p.outbound.tag });
    wantPolicy.add(remote);
    if (installed.policies.get(remote) !== p.outbound.spi) policies.push({ op: 'putPolicy', remote, spi: p.outbound.spi });
  }
  const stale = installed.states.filter((s) => !want.has(said(s)));
  const delOut: SaOp[] = stale.filter((s) => s.src === local).map((s) => ({ op: 'deleteState', src: s.src, dst: s.dst, spi: s.spi }));
  const delIn: SaOp[] = stale.filter((s) => s.src !== local).map((s) => ({ op: 'deleteState', src: s.src, dst: s.dst, spi: s.spi }));
  const delPol: SaOp[] = [...installed.policies.keys()].filter((r) => !wantPolicy.has(r)).sort().map((remote) => ({ op: 'deletePolicy', remote }));
  return [...addIn, ...addOut, ...policies, ...delOut, ...delIn, ...delPol];
}

/** Applies one op to a model of installed SAs (the executor does the same to the kernel). */
export function applySaOp(installed: InstalledSas, op: SaOp): void {
  if (op.op === 'addState') installed.states.push({ src: op.src, dst: op.dst, spi: op.spi });
  else if (op.op === 'deleteState') installed.states = installed.states.filter((s) => said(s) !== said(op));
  else if (op.op === 'putPolicy') installed.policies.set(op.remote, op.spi);
  else installed.policies.delete(op.remote);
}
