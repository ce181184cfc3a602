/**
 * XFRM message payloads (linux/xfrm.h): encoders for the states and policies
 * weft installs, decoders for dump replies. Pure: no sockets. The encoders
 * produce what `ip xfrm` sends for the same command (test/fixtures/xfrm).
 * Key material goes into the request buffer only; nothing here formats it.
 */
import { AttrWriter, attrMap } from '../attrs.js';
import { NetlinkDecodeError } from '../../errors.js';
import { formatIp, parsePrefix } from '../../wire/ip.js';
import {
  ALGO_NAME_LEN, IPPROTO_ESP, LIFETIME_CFG_LEN, LIFETIME_CUR_LEN, SELECTOR_LEN, USERPOLICY_ID_LEN,
  USERPOLICY_INFO_LEN, USERSA_ID_LEN, USERSA_INFO_LEN, USER_TMPL_LEN, XFRMA_ALG_AEAD, XFRMA_MARK,
  XFRMA_SRCADDR, XFRMA_TMPL, XFRM_INF, XFRM_MODE_TRANSPORT, XFRM_POLICY_ALLOW,
} from './constants.js';

const AF_INET = 2;
const AF_INET6 = 10;

/** An ESP transport-mode SA with an AEAD (rfc4106(gcm(aes))). */
export interface XfrmState {
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  /** Algorithm name, e.g. rfc4106(gcm(aes)). */
  aead: string;
  /** Key material including the 4-byte salt for rfc4106. */
  key: Uint8Array;
  icvBits: number;
}

/** An SA as identified by the kernel: (dst, spi, proto) plus the source. */
export interface XfrmStateId {
  src: string;
  dst: string;
  spi: number;
}

/** An SA found by a dump (no key material is decoded). */
export interface XfrmStateInfo extends XfrmStateId {
  proto: number;
  reqid: number;
  mode: number;
}

export interface XfrmSelector {
  src: string;
  dst: string;
  /** Host prefixes by default (/32, /128). */
  srcPrefix?: number;
  dstPrefix?: number;
  proto?: number;
  dport?: number;
  sport?: number;
}

export interface XfrmMark {
  value: number;
  mask: number;
}

/** An outbound (or inbound) policy with one ESP transport template. */
export interface XfrmPolicy {
  selector: XfrmSelector;
  dir: number;
  mark?: XfrmMark;
  priority?: number;
  tmpl: { src: string; dst: string; spi: number; reqid: number };
}

export interface XfrmPolicyId {
  selector: XfrmSelector;
  dir: number;
  mark?: XfrmMark;
}

/** A policy found by a dump. */
export interface XfrmPolicyInfo {
  selector: Required<Pick<XfrmSelector, 'src' | 'dst' | 'srcPrefix' | 'dstPrefix' | 'proto' | 'dport'>>;
  dir: number;
  mark?: XfrmMark;
  tmpls: { src: string; dst: string; spi: number; reqid: number; proto: number }[];
}

interface Addr {
  family: number;
  bytes: Buffer;
}

function addr(s: string): Addr {
  const p = parsePrefix(s, 'XFRM address');
  return { family: p.bytes.length === 4 ? AF_INET : AF_INET6, bytes: Buffer.from(p.bytes) };
}

function writeAddr(b: Buffer, at: number, a: Addr): void {
  b.fill(0, at, at + 16);
  a.bytes.copy(b, at);
}

function readAddr(b: Buffer, at: number, family: number): string {
  return formatIp(b, at, family === AF_INET ? 4 : 16);
}

function writeSelector(b: Buffer, at: number, s: XfrmSelector): void {
  const src = addr(s.src);
  const dst = addr(s.dst);
  const full = src.family === AF_INET ? 32 : 128;
  writeAddr(b, at, dst);
  writeAddr(b, at + 16, src);
  b.writeUInt16BE(s.dport ?? 0, at + 32);
  b.writeUInt16BE(s.dport !== undefined ? 0xffff : 0, at + 34);
  b.writeUInt16BE(s.sport ?? 0, at + 36);
  b.writeUInt16BE(s.sport !== undefined ? 0xffff : 0, at + 38);
  b.writeUInt16LE(src.family, at + 40);
  b[at + 42] = s.dstPrefix ?? full;
  b[at + 43] = s.srcPrefix ?? full;
  b[at + 44] = s.proto ?? 0;
}

function writeInfiniteLifetime(b: Buffer, at: number): void {
  for (let i = 0; i < 4; i++) b.writeBigUInt64LE(XFRM_INF, at + i * 8);
}

/** XFRM_MSG_NEWSA payload: xfrm_usersa_info + XFRMA_ALG_AEAD. */
export function encodeNewState(w: AttrWriter, s: XfrmState): void {
  const src = addr(s.src);
  const dst = addr(s.dst);
  const at = w.zeros(USERSA_INFO_LEN);
  const b = w.buf;
  const id = at + SELECTOR_LEN;
  writeAddr(b, id, dst);
  b.writeUInt32BE(s.spi >>> 0, id + 16);
  b[id + 20] = IPPROTO_ESP;
  writeAddr(b, id + USERSA_ID_LEN, src);
  const lft = id + USERSA_ID_LEN + 16;
  writeInfiniteLifetime(b, lft);
  const tail = lft + LIFETIME_CFG_LEN + LIFETIME_CUR_LEN + 12;
  b.writeUInt32LE(s.reqid >>> 0, tail + 4);
  b.writeUInt16LE(dst.family, tail + 8);
  b[tail + 10] = XFRM_MODE_TRANSPORT;
  const algo = Buffer.alloc(ALGO_NAME_LEN + 8 + s.key.length);
  if (Buffer.byteLength(s.aead) >= ALGO_NAME_LEN) throw new RangeError('AEAD name too long');
  algo.write(s.aead, 0);
  algo.writeUInt32LE(s.key.length * 8, ALGO_NAME_LEN);
  algo.writeUInt32LE(s.icvBits, ALGO_NAME_LEN + 4);
  algo.set(s.key, ALGO_NAME_LEN + 8);
  w.binary(XFRMA_ALG_AEAD, algo);
  algo.fill(0);
}

/** XFRM_MSG_DELSA payload: xfrm_usersa_id + XFRMA_SRCADDR. */
export function encodeStateId(w: AttrWriter, s: XfrmStateId): void {
  const dst = addr(s.dst);
  const at = w.zeros(USERSA_ID_LEN);
  writeAddr(w.buf, at, dst);
  w.buf.writeUInt32BE(s.spi >>> 0, at + 16);
  w.buf.writeUInt16LE(dst.family, at + 20);
  w.buf[at + 22] = IPPROTO_ESP;
  const src = Buffer.alloc(16);
  addr(s.src).bytes.copy(src);
  w.binary(XFRMA_SRCADDR, src);
}

function writeMark(w: AttrWriter, m: XfrmMark | undefined): void {
  if (!m) return;
  const v = Buffer.alloc(8);
  v.writeUInt32LE(m.value >>> 0, 0);
  v.writeUInt32LE(m.mask >>> 0, 4);
  w.binary(XFRMA_MARK, v);
}

/** XFRM_MSG_NEWPOLICY / UPDPOLICY payload: xfrm_userpolicy_info + XFRMA_TMPL + XFRMA_MARK. */
export function encodePolicy(w: AttrWriter, p: XfrmPolicy): void {
  const at = w.zeros(USERPOLICY_INFO_LEN);
  const b = w.buf;
  writeSelector(b, at, p.selector);
  writeInfiniteLifetime(b, at + SELECTOR_LEN);
  const tail = at + SELECTOR_LEN + LIFETIME_CFG_LEN + LIFETIME_CUR_LEN;
  b.writeUInt32LE(p.priority ?? 0, tail);
  b[tail + 8] = p.dir;
  b[tail + 9] = XFRM_POLICY_ALLOW;
  const t = Buffer.alloc(USER_TMPL_LEN);
  const tdst = addr(p.tmpl.dst);
  writeAddr(t, 0, tdst);
  t.writeUInt32BE(p.tmpl.spi >>> 0, 16);
  t[20] = IPPROTO_ESP;
  t.writeUInt16LE(tdst.family, 24);
  writeAddr(t, 28, addr(p.tmpl.src));
  t.writeUInt32LE(p.tmpl.reqid >>> 0, 44);
  t[48] = XFRM_MODE_TRANSPORT;
  t.writeUInt32LE(0xffffffff, 52);
  t.writeUInt32LE(0xffffffff, 56);
  t.writeUInt32LE(0xffffffff, 60);
  w.binary(XFRMA_TMPL, t);
  writeMark(w, p.mark);
}

/** XFRM_MSG_DELPOLICY payload: xfrm_userpolicy_id + XFRMA_MARK. */
export function encodePolicyId(w: AttrWriter, p: XfrmPolicyId): void {
  const at = w.zeros(USERPOLICY_ID_LEN);
  writeSelector(w.buf, at, p.selector);
  w.buf[at + SELECTOR_LEN + 4] = p.dir;
  writeMark(w, p.mark);
}

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) throw new NetlinkDecodeError(`${what}: ${b.length} bytes, need ${n}`, 0);
}

function readMark(attrs: Map<number, Buffer>): XfrmMark | undefined {
  const m = attrs.get(XFRMA_MARK);
  return m && m.length >= 8 ? { value: m.readUInt32LE(0), mask: m.readUInt32LE(4) } : undefined;
}

/** An XFRM_MSG_NEWSA from a GETSA dump (the key is not read). */
export function decodeState(payload: Buffer): XfrmStateInfo {
  need(payload, USERSA_INFO_LEN, 'xfrm_usersa_info');
  const id = SELECTOR_LEN;
  const tail = id + USERSA_ID_LEN + 16 + LIFETIME_CFG_LEN + LIFETIME_CUR_LEN + 12;
  const family = payload.readUInt16LE(tail + 8);
  return {
    dst: readAddr(payload, id, family),
    spi: payload.readUInt32BE(id + 16),
    proto: payload[id + 20]!,
    src: readAddr(payload, id + USERSA_ID_LEN, family),
    reqid: payload.readUInt32LE(tail + 4),
    mode: payload[tail + 10]!,
  };
}

/** An XFRM_MSG_NEWPOLICY from a GETPOLICY dump. */
export function decodePolicy(payload: Buffer): XfrmPolicyInfo {
  need(payload, USERPOLICY_INFO_LEN, 'xfrm_userpolicy_info');
  const family = payload.readUInt16LE(40);
  const attrs = attrMap(payload, USERPOLICY_INFO_LEN);
  const tmpls: XfrmPolicyInfo['tmpls'] = [];
  const t = attrs.get(XFRMA_TMPL);
  for (let off = 0; t && off + USER_TMPL_LEN <= t.length; off += USER_TMPL_LEN) {
    const tf = t.readUInt16LE(off + 24);
    tmpls.push({
      dst: readAddr(t, off, tf), spi: t.readUInt32BE(off + 16), proto: t[off + 20]!,
      src: readAddr(t, off + 28, tf), reqid: t.readUInt32LE(off + 44),
    });
  }
  const mark = readMark(attrs);
  return {
    selector: {
      dst: readAddr(payload, 0, family), src: readAddr(payload, 16, family),
      dport: payload.readUInt16BE(32), dstPrefix: payload[42]!, srcPrefix: payload[43]!, proto: payload[44]!,
    },
    dir: payload[SELECTOR_LEN + LIFETIME_CFG_LEN + LIFETIME_CUR_LEN + 8]!,
    ...(mark ? { mark } : {}),
    tmpls,
  };
}
