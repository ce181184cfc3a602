/**
 * IPVS over generic netlink (family "IPVS", uapi linux/ip_vs.h): virtual
 * services keyed by VIP:port/proto or by firewall mark, destinations (real
 * servers) with weights and forwarding methods, schedulers, the TCP/UDP
 * timeouts, and stats. One IpvsClient talks to one network namespace (IPVS
 * state is per namespace). Replies are untrusted: anything malformed or not
 * what the command answers with is an IpvsReplyError, never a crash.
 *
 * Split as moby/ipvs is: this client, the shapes (types.ts), the attribute
 * codec (codec.ts) and the numbers (constants.ts).
 */
import { AttrWriter, read } from '../attrs.js';
import { NetlinkClient } from '../client.js';
import { NLM_F_CREATE, NLM_F_EXCL } from '../constants.js';
import { type GenlFamily, openGenl, parseGenl, resolveFamily, writeGenlHeader } from '../genl.js';
import type { Message } from '../message.js';
import { InvalidArgumentError, IpvsReplyError, isErrno } from '../../errors.js';
import { decodeDest, decodeService, decoding, describe, encodeDest, encodeService } from './codec.js';
import {
  CMD_ATTR_DEST, CMD_ATTR_SERVICE, CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, CMD_ATTR_TIMEOUT_UDP, INFO_CONN_TAB_SIZE, INFO_VERSION,
  IPVS_CMD, IPVS_GENL_NAME, IPVS_GENL_VERSION,
} from './constants.js';
import type { IpvsDest, IpvsDestSpec, IpvsService, IpvsServiceKey, IpvsServiceSpec, IpvsTimeouts } from './types.js';

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
      if (opts.idempotent && isErrno(err, 'EEXIST')) return this.updateService(spec);
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
      if (opts.idempotent && isErrno(err, 'EEXIST')) return this.updateDest(svc, d);
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
  return isErrno(err, 'ESRCH', 'ENOENT');
}
