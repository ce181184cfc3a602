/**
 * IPVS over generic netlink (family "IPVS", uapi linux/ip_vs.h): virtual
 * services keyed by VIP:port/proto or by firewall mark, destinations (real
 * servers) with weights and forwarding methods, schedulers, the TCP/UDP
 * timeouts, and stats. One IpvsClient talks to one network namespace (IPVS
 * state is per namespace). Replies are untrusted: anything malformed or not
 * what the command answers with is an IpvsReplyError, never a crash.
 */
import { AttrWriter, attrMap, read } from './attrs.js';
import { NetlinkClient } from './client.js';
import { NLM_F_CREATE, NLM_F_EXCL } from './constants.js';
import { NetlinkDecodeError, NetlinkError } from './errors.js';
import { type GenlFamily, openGenl, parseGenl, resolveFamily, writeGenlHeader } from './genl.js';
import type { Message } from './message.js';
import { WeftError, InvalidArgumentError } from '../errors.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = {
  NEW_SERVICE: 1, SET_SERVICE: 2, DEL_SERVICE: 3, GET_SERVICE: 4,
  NEW_DEST: 5, SET_DEST: 6, DEL_DEST: 7, GET_DEST: 8,
  SET_CONFIG: 12, GET_CONFIG: 13, SET_INFO: 14, GET_INFO: 15, ZERO: 16, FLUSH: 17,
} as const;

const CMD_ATTR_SERVICE = 1;
const CMD_ATTR_DEST = 2;
const CMD_ATTR_TIMEOUT_TCP = 4;
const CMD_ATTR_TIMEOUT_TCP_FIN = 5;
const CMD_ATTR_TIMEOUT_UDP = 6;

const SVC_AF = 1, SVC_PROTOCOL = 2, SVC_ADDR = 3, SVC_PORT = 4, SVC_FWMARK = 5, SVC_SCHED = 6, SVC_FLAGS = 7,
  SVC_TIMEOUT = 8, SVC_NETMASK = 9, SVC_STATS = 10, SVC_PE = 11, SVC_STATS64 = 12;
const DEST_ADDR = 1, DEST_PORT = 2, DEST_FWD = 3, DEST_WEIGHT = 4, DEST_U_THRESH = 5, DEST_L_THRESH = 6,
  DEST_ACTIVE = 7, DEST_INACT = 8, DEST_PERSIST = 9, DEST_STATS = 10, DEST_AF = 11, DEST_STATS64 = 12;
const INFO_VERSION = 1, INFO_CONN_TAB_SIZE = 2;
const STATS_CONNS = 1, STATS_INPKTS = 2, STATS_OUTPKTS = 3, STATS_INBYTES = 4, STATS_OUTBYTES = 5, STATS_CPS = 6,
  STATS_INPPS = 7, STATS_OUTPPS = 8, STATS_INBPS = 9, STATS_OUTBPS = 10;

const AF_INET = 2;
const AF_INET6 = 10;
export const IPPROTO = { tcp: 6, udp: 17, sctp: 132 } as const;
export type IpvsProtocol = keyof typeof IPPROTO;

/** Service flags (IP_VS_SVC_F_*). */
export const IPVS_SVC_F = { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;

export const FWD_METHODS = { masq: 0, local: 1, tunnel: 2, droute: 3, bypass: 4 } as const;
export type ForwardMethod = keyof typeof FWD_METHODS;
const FWD_NAMES = Object.fromEntries(Object.entries(FWD_METHODS).map(([k, v]) => [v, k])) as Record<number, ForwardMethod>;

export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'dh', 'sed', 'nq', 'lblc', 'lblcr', 'mh', 'fo', 'ovf', 'twos'] as const;

/** A virtual service: either `address`+`port`+`protocol`, or `fwmark`. */
export interface IpvsServiceKey {
  family?: 4 | 6;
  protocol?: IpvsProtocol;
  address?: string;
  port?: number;
  fwmark?: number;
}

export interface IpvsServiceSpec extends IpvsServiceKey {
  /** Scheduler name; default rr. */
  scheduler?: string;
  flags?: number;
  /** Persistence timeout in seconds (with IPVS_SVC_F.PERSISTENT). */
  timeout?: number;
  netmask?: number;
}

export interface IpvsStats {
  conns: bigint; inPkts: bigint; outPkts: bigint; inBytes: bigint; outBytes: bigint;
  cps: bigint; inPps: bigint; outPps: bigint; inBps: bigint; outBps: bigint;
}

export interface IpvsService extends Required<Pick<IpvsServiceSpec, 'family' | 'scheduler' | 'flags' | 'timeout' | 'netmask'>> {
  protocol?: IpvsProtocol | number;
  address?: string;
  port?: number;
  fwmark?: number;
  pe?: string;
  stats?: IpvsStats;
}

export interface IpvsDestSpec {
  address: string;
  /** 0 keeps the service's port (fwmark services). */
  port?: number;
  weight?: number;
  forward?: ForwardMethod;
  upperThreshold?: number;
  lowerThreshold?: number;
}

export interface IpvsDest extends Required<IpvsDestSpec> {
  family: 4 | 6;
  activeConns: number;
  inactiveConns: number;
  persistentConns: number;
  stats?: IpvsStats;
}

export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

/** IPVS answered with something that is not what the command replies with. */
export class IpvsReplyError extends WeftError {
  constructor(what: string, reason: string) {
    super('EIPVSREPLY', `${what}: unexpected IPVS reply: ${reason}`);
  }
}

// ---------- encoding ----------

function ipBytes(text: string, family: 4 | 6 | undefined, what: string): { family: 4 | 6; bytes: Buffer } {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255) || family === 6) throw new InvalidArgumentError(`${what}: bad IPv4 address ${JSON.stringify(text)}`);
    return { family: 4, bytes: Buffer.from(parts) };
  }
  if (text.includes(':') && family !== 4) {
    const halves = text.split('::');
    if (halves.length > 2) throw new InvalidArgumentError(`${what}: bad IPv6 address ${JSON.stringify(text)}`);
    const parse = (s: string) => (s ? s.split(':') : []).map((h) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(h)) throw new InvalidArgumentError(`${what}: bad IPv6 address ${JSON.stringify(text)}`);
      return parseInt(h, 16);
    });
    const head = parse(halves[0]!);
    const tail = halves.length === 2 ? parse(halves[1]!) : [];
    const fill = 8 - head.length - tail.length;
    if (fill < 0 || (halves.length === 1 && fill !== 0)) throw new InvalidArgumentError(`${what}: bad IPv6 address ${JSON.stringify(text)}`);
    const words = [...head, ...new Array<number>(fill).fill(0), ...tail];
    const b = Buffer.alloc(16);
    words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
    return { family: 6, bytes: b };
  }
  throw new InvalidArgumentError(`${what}: bad address ${JSON.stringify(text)}`);
}

function formatAddr(family: 4 | 6, d: Buffer): string {
  if (family === 4) {
    if (d.length < 4) throw new NetlinkDecodeError(`IPv4 address of ${d.length} bytes`, 0);
    return `${d[0]}.${d[1]}.${d[2]}.${d[3]}`;
  }
  if (d.length < 16) throw new NetlinkDecodeError(`IPv6 address of ${d.length} bytes`, 0);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(d.readUInt16BE(i));
  // RFC 5952: compress the longest run (2+) of zero words.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
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

// ---------- decoding ----------

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
function decoding<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof IpvsReplyError) throw err;
    if (err instanceof NetlinkDecodeError || err instanceof RangeError) throw new IpvsReplyError(what, (err as Error).message);
    throw err;
  }
}

// ---------- client ----------

export interface IpvsOpenOptions {
  netns?: string;
  timeoutMs?: number;
}

/** An IPVS handle on one namespace. `IpvsClient.open()` throws FamilyNotFoundError without IPVS. */
export class IpvsClient {
  readonly client: NetlinkClient;
  readonly family: GenlFamily;

  constructor(client: NetlinkClient, family: GenlFamily) {
    this.client = client;
    this.family = family;
  }

  static async open(opts: IpvsOpenOptions = {}): Promise<IpvsClient> {
    const client = openGenl(opts);
    try {
      return new IpvsClient(client, await resolveFamily(client, IPVS_GENL_NAME));
    } catch (err) {
      client.close();
      throw err;
    }
  }

  close(): void {
    this.client.close();
  }

  async #do(cmd: number, what: string, build: (w: AttrWriter) => void, flags = 0): Promise<Message[]> {
    // Encode first so bad input fails before anything is sent.
    const w = new AttrWriter();
    build(w);
    const body = w.finish();
    return this.client.request({
      type: this.family.id, flags, what,
      build: (out) => {
        writeGenlHeader(out, cmd, IPVS_GENL_VERSION);
        out.bytes(body);
      },
    });
  }

  async #dump(cmd: number, what: string, build?: (w: AttrWriter) => void): Promise<Message[]> {
    const w = new AttrWriter();
    build?.(w);
    const body = w.finish();
    return this.client.dump({
      type: this.family.id, what,
      build: (out) => {
        writeGenlHeader(out, cmd, IPVS_GENL_VERSION);
        if (body.length) out.bytes(body);
      },
    });
  }

  /** Only replies of our family with the expected command and attribute. */
  #replies(what: string, msgs: Message[], cmd: number, attr: number): Buffer[] {
    return decoding(what, () => msgs.map((m) => {
      if (m.type !== this.family.id) throw new IpvsReplyError(what, `message type ${m.type}, expected ${this.family.id}`);
      const g = parseGenl(m);
      if (g.cmd !== cmd) throw new IpvsReplyError(what, `command ${g.cmd}, expected ${cmd}`);
      const body = g.attrs.get(attr);
      if (!body) throw new IpvsReplyError(what, `no attribute ${attr}`);
      return body;
    }));
  }

  /** Creates a service; EEXIST unless `idempotent` (then it is updated). */
  async addService(spec: IpvsServiceSpec, opts: { idempotent?: boolean } = {}): Promise<void> {
    try {
      await this.#do(IPVS_CMD.NEW_SERVICE, `ipvs add service ${describe(spec)}`, (w) => encodeService(w, spec, true), NLM_F_CREATE | NLM_F_EXCL);
    } catch (err) {
      if (opts.idempotent && err instanceof NetlinkError && err.code === 'EEXIST') return this.updateService(spec);
      throw err;
    }
  }

  /** Changes scheduler, flags, timeout or netmask of an existing service. */
  async updateService(spec: IpvsServiceSpec): Promise<void> {
    await this.#do(IPVS_CMD.SET_SERVICE, `ipvs edit service ${describe(spec)}`, (w) => encodeService(w, spec, true));
  }

  /** Deletes a service and its destinations; a missing one is ENOENT unless `idempotent`. */
  async deleteService(key: IpvsServiceKey, opts: { idempotent?: boolean } = {}): Promise<void> {
    try {
      await this.#do(IPVS_CMD.DEL_SERVICE, `ipvs delete service ${describe(key)}`, (w) => encodeService(w, key, false));
    } catch (err) {
      if (opts.idempotent && isMissing(err)) return;
      throw err;
    }
  }

  async services(): Promise<IpvsService[]> {
    const what = 'ipvs service dump';
    const bodies = this.#replies(what, await this.#dump(IPVS_CMD.GET_SERVICE, what), IPVS_CMD.NEW_SERVICE, CMD_ATTR_SERVICE);
    return decoding(what, () => bodies.map(decodeService));
  }

  async addDest(svc: IpvsServiceKey, d: IpvsDestSpec, opts: { idempotent?: boolean } = {}): Promise<void> {
    try {
      await this.#do(IPVS_CMD.NEW_DEST, `ipvs add destination ${d.address} to ${describe(svc)}`, (w) => {
        encodeService(w, svc, false);
        encodeDest(w, d, true);
      }, NLM_F_CREATE | NLM_F_EXCL);
    } catch (err) {
      if (opts.idempotent && err instanceof NetlinkError && err.code === 'EEXIST') return this.updateDest(svc, d);
      throw err;
    }
  }

  async updateDest(svc: IpvsServiceKey, d: IpvsDestSpec): Promise<void> {
    await this.#do(IPVS_CMD.SET_DEST, `ipvs edit destination ${d.address} of ${describe(svc)}`, (w) => {
      encodeService(w, svc, false);
      encodeDest(w, d, true);
    });
  }

  async deleteDest(svc: IpvsServiceKey, d: Pick<IpvsDestSpec, 'address' | 'port'>, opts: { idempotent?: boolean } = {}): Promise<void> {
    try {
      await this.#do(IPVS_CMD.DEL_DEST, `ipvs delete destination ${d.address} of ${describe(svc)}`, (w) => {
        encodeService(w, svc, false);
        encodeDest(w, d, false);
      });
    } catch (err) {
      if (opts.idempotent && isMissing(err)) return;
      throw err;
    }
  }

  async dests(svc: IpvsServiceKey): Promise<IpvsDest[]> {
    const what = `ipvs destination dump of ${describe(svc)}`;
    const msgs = await this.#dump(IPVS_CMD.GET_DEST, what, (w) => encodeService(w, svc, false));
    const bodies = this.#replies(what, msgs, IPVS_CMD.NEW_DEST, CMD_ATTR_DEST);
    return decoding(what, () => bodies.map((b) => decodeDest(b, svc.family ?? 4)));
  }

  /** Deletes every service (ipvsadm -C). */
  async flush(): Promise<void> {
    await this.#do(IPVS_CMD.FLUSH, 'ipvs flush', () => {});
  }

  /** Zeroes the counters of one service, or of all. */
  async zero(svc?: IpvsServiceKey): Promise<void> {
    await this.#do(IPVS_CMD.ZERO, 'ipvs zero counters', (w) => {
      if (svc) encodeService(w, svc, false);
    });
  }

  async timeouts(): Promise<IpvsTimeouts> {
    const what = 'ipvs get timeouts';
    const msgs = await this.#do(IPVS_CMD.GET_CONFIG, what, () => {});
    return decoding(what, () => {
      const m = msgs[0];
      if (!m || m.type !== this.family.id) throw new IpvsReplyError(what, 'no config reply');
      const a = parseGenl(m).attrs;
      const get = (t: number) => {
        const v = a.get(t);
        if (!v) throw new IpvsReplyError(what, `no timeout attribute ${t}`);
        return read.u32(v);
      };
      return { tcp: get(CMD_ATTR_TIMEOUT_TCP), tcpFin: get(CMD_ATTR_TIMEOUT_TCP_FIN), udp: get(CMD_ATTR_TIMEOUT_UDP) };
    });
  }

  /** Sets timeouts in seconds; an omitted one is left as is (0 means unchanged to the kernel). */
  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<void> {
    for (const v of Object.values(t)) {
      if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new InvalidArgumentError(`bad timeout ${v}`);
    }
    await this.#do(IPVS_CMD.SET_CONFIG, 'ipvs set timeouts', (w) => {
      w.u32(CMD_ATTR_TIMEOUT_TCP, t.tcp ?? 0);
      w.u32(CMD_ATTR_TIMEOUT_TCP_FIN, t.tcpFin ?? 0);
      w.u32(CMD_ATTR_TIMEOUT_UDP, t.udp ?? 0);
    });
  }

  /** IPVS version (e.g. "1.2.1") and connection table size. */
  async info(): Promise<{ version: string; connTableSize: number }> {
    const what = 'ipvs get info';
    const msgs = await this.#do(IPVS_CMD.GET_INFO, what, () => {});
    return decoding(what, () => {
      const m = msgs[0];
      if (!m || m.type !== this.family.id) throw new IpvsReplyError(what, 'no info reply');
      const a = parseGenl(m).attrs;
      const v = a.get(INFO_VERSION);
      const size = a.get(INFO_CONN_TAB_SIZE);
      if (!v || !size) throw new IpvsReplyError(what, 'info without version or table size');
      const n = read.u32(v);
      return { version: `${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`, connTableSize: read.u32(size) };
    });
  }
}

function isMissing(err: unknown): boolean {
  // IPVS answers ESRCH for a missing service and ENOENT for a missing destination.
  return err instanceof NetlinkError && (err.code === 'ESRCH' || err.code === 'ENOENT');
}

export function describe(k: IpvsServiceKey): string {
  if (k.fwmark !== undefined) return `fwmark ${k.fwmark}`;
  return `${k.protocol ?? '?'} ${k.address ?? '?'}:${k.port ?? '?'}`;
}
