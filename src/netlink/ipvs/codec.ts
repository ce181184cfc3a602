/**
 * IPVS attribute encoding and decoding: services and destinations inside
 * their nests, stats. Replies are untrusted: anything malformed is an
 * IpvsReplyError (via `decoding`), never a crash.
 */
import { AttrWriter, attrMap, read } from '../attrs.js';
import { InvalidArgumentError, IpvsReplyError, NetlinkDecodeError } from '../../errors.js';
import { AF_INET, AF_INET6, formatIp, parseIp } from '../../wire/ip.js';
import {
  CMD_ATTR_DEST, CMD_ATTR_SERVICE, DEST_ACTIVE, DEST_ADDR, DEST_AF, DEST_FWD, DEST_INACT, DEST_L_THRESH, DEST_PERSIST, DEST_PORT,
  DEST_STATS, DEST_STATS64, DEST_U_THRESH, DEST_WEIGHT, FWD_METHODS, FWD_NAMES, IPPROTO, type IpvsProtocol, STATS_CONNS, STATS_CPS,
  STATS_INBPS, STATS_INBYTES, STATS_INPKTS, STATS_INPPS, STATS_OUTBPS, STATS_OUTBYTES, STATS_OUTPKTS, STATS_OUTPPS, SVC_ADDR, SVC_AF,
  SVC_FLAGS, SVC_FWMARK, SVC_NETMASK, SVC_PE, SVC_PORT, SVC_PROTOCOL, SVC_SCHED, SVC_STATS, SVC_STATS64, SVC_TIMEOUT,
} from './constants.js';
import type { IpvsDest, IpvsDestSpec, IpvsService, IpvsServiceKey, IpvsServiceSpec, IpvsStats } from './types.js';


function ipBytes(text: string, family: 4 | 6 | undefined, what: string): { family: 4 | 6; bytes: Uint8Array } {
  const ip = parseIp(text, what);
  const f = ip.family === AF_INET ? 4 : 6;
  if (family !== undefined && family !== f) throw new InvalidArgumentError(`${what}: ${JSON.stringify(text)} is not an IPv${family} address`);
  return { family: f, bytes: ip.bytes };
}

function formatAddr(family: 4 | 6, d: Buffer): string {
  const need = family === 4 ? 4 : 16;
  if (d.length < need) throw new NetlinkDecodeError(`IPv${family} address of ${d.length} bytes`, 0);
  return formatIp(d, 0, need);
}

function familyAf(f: 4 | 6): number {
  return f === 6 ? AF_INET6 : AF_INET;
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`${what}: bad port ${port}`);
}

/** Writes the attributes that identify a service (inside an open SERVICE nest). */
function writeServiceKey(w: AttrWriter, key: IpvsServiceKey): 4 | 6 {
  if (key.fwmark !== undefined) {
    if (!Number.isInteger(key.fwmark) || key.fwmark <= 0 || key.fwmark > 0xffffffff) throw new InvalidArgumentError(`bad fwmark ${key.fwmark}`);
    const family = key.family ?? 4;
    w.u16(SVC_AF, familyAf(family));
    w.u32(SVC_FWMARK, key.fwmark);
    return family;
  }
  if (key.address === undefined || key.port === undefined || key.protocol === undefined) {
    throw new InvalidArgumentError('an IPVS service needs address, port and protocol, or fwmark');
  }
  const proto = IPPROTO[key.protocol];
  if (proto === undefined) throw new InvalidArgumentError(`bad protocol ${JSON.stringify(key.protocol)}`);
  checkPort(key.port, 'service');
  const { family, bytes } = ipBytes(key.address, key.family, 'service');
  w.u16(SVC_AF, familyAf(family));
  w.u16(SVC_PROTOCOL, proto);
  w.binary(SVC_ADDR, bytes);
  w.be16(SVC_PORT, key.port);
  return family;
}

/** The kernel wants scheduler, flags, timeout and netmask on NEW/SET ("full entry"). */
export function encodeService(w: AttrWriter, spec: IpvsServiceSpec, full: boolean): void {
  const nest = w.nest(CMD_ATTR_SERVICE);
  const family = writeServiceKey(w, spec);
  if (full) {
    const sched = spec.scheduler ?? 'rr';
    if (!/^[a-z0-9_]{1,15}$/.test(sched)) throw new InvalidArgumentError(`bad scheduler ${JSON.stringify(sched)}`);
    w.string(SVC_SCHED, sched);
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE((spec.flags ?? 0) >>> 0, 0);
    flags.writeUInt32LE(0xffffffff, 4); // mask: set every flag as given
    w.binary(SVC_FLAGS, flags);
    w.u32(SVC_TIMEOUT, spec.timeout ?? 0);
    w.u32(SVC_NETMASK, spec.netmask ?? (family === 4 ? 0xffffffff : 128));
  }
  w.end(nest);
}

export function encodeDest(w: AttrWriter, d: IpvsDestSpec, full: boolean): void {
  const nest = w.nest(CMD_ATTR_DEST);
  const { family, bytes } = ipBytes(d.address, undefined, 'destination');
  w.binary(DEST_ADDR, bytes);
  checkPort(d.port ?? 0, 'destination');
  w.be16(DEST_PORT, d.port ?? 0);
  w.u16(DEST_AF, familyAf(family));
  if (full) {
    const fwd = FWD_METHODS[d.forward ?? 'masq'];
    if (fwd === undefined) throw new InvalidArgumentError(`bad forwarding method ${JSON.stringify(d.forward)}`);
    const weight = d.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 0 || weight > 0x7fffffff) throw new InvalidArgumentError(`bad weight ${weight}`);
    w.u32(DEST_FWD, fwd);
    w.u32(DEST_WEIGHT, weight);
    w.u32(DEST_U_THRESH, d.upperThreshold ?? 0);
    w.u32(DEST_L_THRESH, d.lowerThreshold ?? 0);
  }
  w.end(nest);
}


function decodeStats(d: Buffer, wide: boolean): IpvsStats {
  const a = attrMap(d);
  const get = (t: number): bigint => {
    const v = a.get(t);
    if (!v) return 0n;
    if (wide || t === STATS_INBYTES || t === STATS_OUTBYTES) return read.u64(v);
    return BigInt(read.u32(v));
  };
  return {
    conns: get(STATS_CONNS), inPkts: get(STATS_INPKTS), outPkts: get(STATS_OUTPKTS), inBytes: get(STATS_INBYTES),
    outBytes: get(STATS_OUTBYTES), cps: get(STATS_CPS), inPps: get(STATS_INPPS), outPps: get(STATS_OUTPPS),
    inBps: get(STATS_INBPS), outBps: get(STATS_OUTBPS),
  };
}

function familyOf(af: number, what: string): 4 | 6 {
  if (af === AF_INET) return 4;
  if (af === AF_INET6) return 6;
  throw new NetlinkDecodeError(`${what}: address family ${af}`, 0);
}

export function decodeService(d: Buffer): IpvsService {
  const a = attrMap(d);
  const af = a.get(SVC_AF);
  if (!af) throw new NetlinkDecodeError('IPVS service without AF', 0);
  const family = familyOf(read.u16(af), 'IPVS service');
  const sched = a.get(SVC_SCHED);
  const flags = a.get(SVC_FLAGS);
  const out: IpvsService = {
    family,
    scheduler: sched ? read.string(sched) : '',
    flags: flags ? read.u32(flags) : 0,
    timeout: a.has(SVC_TIMEOUT) ? read.u32(a.get(SVC_TIMEOUT)!) : 0,
    netmask: a.has(SVC_NETMASK) ? read.u32(a.get(SVC_NETMASK)!) : 0,
  };
  const fwmark = a.has(SVC_FWMARK) ? read.u32(a.get(SVC_FWMARK)!) : 0;
  if (fwmark) out.fwmark = fwmark;
  else {
    const proto = a.get(SVC_PROTOCOL);
    const addr = a.get(SVC_ADDR);
    const port = a.get(SVC_PORT);
    if (!proto || !addr || !port) throw new NetlinkDecodeError('IPVS service with neither fwmark nor address/port/protocol', 0);
    const p = read.u16(proto);
    out.protocol = (Object.entries(IPPROTO).find(([, v]) => v === p)?.[0] as IpvsProtocol | undefined) ?? p;
    out.address = formatAddr(family, addr);
    out.port = read.be16(port);
  }
  if (a.has(SVC_PE)) out.pe = read.string(a.get(SVC_PE)!);
  if (a.has(SVC_STATS64)) out.stats = decodeStats(a.get(SVC_STATS64)!, true);
  else if (a.has(SVC_STATS)) out.stats = decodeStats(a.get(SVC_STATS)!, false);
  return out;
}

export function decodeDest(d: Buffer, serviceFamily: 4 | 6 = 4): IpvsDest {
  const a = attrMap(d);
  const addr = a.get(DEST_ADDR);
  const port = a.get(DEST_PORT);
  const fwd = a.get(DEST_FWD);
  const weight = a.get(DEST_WEIGHT);
  if (!addr || !port || !fwd || !weight) throw new NetlinkDecodeError('IPVS destination without address, port, forwarding method or weight', 0);
  const family = a.has(DEST_AF) ? familyOf(read.u16(a.get(DEST_AF)!), 'IPVS destination') : serviceFamily;
  const method = FWD_NAMES[read.u32(fwd) & 0x7];
  if (!method) throw new NetlinkDecodeError(`IPVS destination with forwarding method ${read.u32(fwd)}`, 0);
  const u32 = (t: number) => (a.has(t) ? read.u32(a.get(t)!) : 0);
  const out: IpvsDest = {
    family, address: formatAddr(family, addr), port: read.be16(port), forward: method, weight: read.u32(weight),
    upperThreshold: u32(DEST_U_THRESH), lowerThreshold: u32(DEST_L_THRESH),
    activeConns: u32(DEST_ACTIVE), inactiveConns: u32(DEST_INACT), persistentConns: u32(DEST_PERSIST),
  };
  if (a.has(DEST_STATS64)) out.stats = decodeStats(a.get(DEST_STATS64)!, true);
  else if (a.has(DEST_STATS)) out.stats = decodeStats(a.get(DEST_STATS)!, false);
  return out;
}

/** Runs `fn` turning decode failures into IpvsReplyError (one error type for callers). */
export function decoding<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof IpvsReplyError) throw err;
    if (err instanceof NetlinkDecodeError || err instanceof RangeError) throw new IpvsReplyError(what, (err as Error).message);
    throw err;
  }
}

/** A service key as text for messages (`tcp 198.18.0.1:80`, `fwmark 7`). */
export function describe(k: IpvsServiceKey): string {
  if (k.fwmark !== undefined) return `fwmark ${k.fwmark}`;
  return `${k.protocol ?? '?'} ${k.address ?? '?'}:${k.port ?? '?'}`;
}
