/**
 * Docker's embedded-DNS semantics over a DnsRecords store, pure (no I/O):
 * given the networks a client may see, a lower-cased question name and a
 * type, decide: answer, empty NOERROR (NODATA), SERVFAIL, or forward.
 *
 * - Lookups run over the client's networks in order; the first network
 *   holding the name wins. `a.b.c` also matches `a.b` on network `c` and
 *   `a` on network `b.c` (Sandbox.ResolveName).
 * - A name that exists for another family (AAAA for an IPv4-only name) and
 *   MX for any existing name get NODATA, never forwarded (moby#20448, #2041).
 * - Other types are answered when the store holds them, else forwarded, as
 *   Docker forwards TXT/CNAME/... even for container names.
 * - PTR answers `<name>.<network>` for addresses added with `ptr`; a name
 *   that cannot form a valid PTR target gets SERVFAIL (moby#46928).
 */
import { CLASS_IN, RrType } from '../wire/dns/constants.js';
import type { DnsRecord } from '../wire/dns/message.js';
import { isValidName } from '../wire/dns/name.js';
import type { DnsRecords, NameRecord } from './records.js';
import { reverseName } from './reverse.js';

export const DEFAULT_TTL = 600;

export type Resolution =
  | { kind: 'answer'; answers: DnsRecord[]; additionals: DnsRecord[] }
  | { kind: 'nodata' }
  | { kind: 'servfail' }
  | { kind: 'forward' };

interface NameSet {
  a: DnsRecord[];
  aaaa: DnsRecord[];
  cname: DnsRecord[];
  ptr: DnsRecord[];
  srv: DnsRecord[];
  txt: DnsRecord[];
  /** A PTR target that would be invalid on the wire. */
  badPtr: boolean;
}

const NODATA: Resolution = { kind: 'nodata' };
const FORWARD: Resolution = { kind: 'forward' };
const SERVFAIL: Resolution = { kind: 'servfail' };
const MAX_CNAME_HOPS = 8;

export class DnsResolver {
  #index = new Map<string, Map<string, NameSet>>();
  #version = -1;

  constructor(readonly records: DnsRecords, readonly defaultTtl = DEFAULT_TTL) {}

  /** Changes when the store changes; callers caching answers compare it. */
  get version(): number {
    return this.records.version;
  }

  resolve(networks: readonly string[], key: string, qtype: number): Resolution {
    this.#refresh();
    const found = this.#find(networks, key);
    if (!found) return FORWARD;
    const [net, set] = found;
    switch (qtype) {
      case RrType.A:
      case RrType.AAAA: {
        const direct = qtype === RrType.A ? set.a : set.aaaa;
        if (direct.length > 0) return answer(direct);
        if (set.cname.length > 0) return this.#chase(net, set, qtype);
        return NODATA;
      }
      case RrType.MX:
        return NODATA;
      case RrType.CNAME:
        return set.cname.length > 0 ? answer(set.cname) : FORWARD;
      case RrType.PTR:
        if (set.badPtr) return SERVFAIL;
        return set.ptr.length > 0 ? answer(set.ptr) : FORWARD;
      case RrType.TXT:
        return set.txt.length > 0 ? answer(set.txt) : FORWARD;
      case RrType.SRV: {
        if (set.srv.length === 0) return FORWARD;
        const glue: DnsRecord[] = [];
        for (const s of set.srv) {
          const t = this.#index.get(net)?.get((s.data as { target: string }).target);
          if (t) glue.push(...t.a, ...t.aaaa);
        }
        return { kind: 'answer', answers: set.srv, additionals: glue };
      }
      default:
        return FORWARD;
    }
  }

  /** Whether a name exists on any of the networks (for policies such as ndots). */
  exists(networks: readonly string[], key: string): boolean {
    this.#refresh();
    return this.#find(networks, key) !== undefined;
  }

  #chase(net: string, set: NameSet, qtype: number): Resolution {
    const answers: DnsRecord[] = [];
    let cur: NameSet | undefined = set;
    for (let hop = 0; cur && hop < MAX_CNAME_HOPS; hop++) {
      const direct = qtype === RrType.A ? cur.a : cur.aaaa;
      if (direct.length > 0) {
        answers.push(...direct);
        break;
      }
      if (cur.cname.length === 0) break;
      answers.push(cur.cname[0]!);
      cur = this.#index.get(net)?.get((cur.cname[0]!.data as { target: string }).target);
    }
    return answer(answers);
  }

  #find(networks: readonly string[], key: string): [string, NameSet] | undefined {
    for (const n of networks) {
      const net = n.toLowerCase();
      const set = this.#index.get(net)?.get(key);
      if (set) return [net, set];
    }
    // Qualified forms: the longest owner first ("a.b" on "c", then "a" on "b.c").
    for (let dot = key.lastIndexOf('.'); dot > 0; dot = key.lastIndexOf('.', dot - 1)) {
      if (key[dot - 1] === '\\') continue;
      const suffix = key.slice(dot + 1);
      if (!networks.some((n) => n.toLowerCase() === suffix)) continue;
      const set = this.#index.get(suffix)?.get(key.slice(0, dot));
      if (set) return [suffix, set];
    }
    return undefined;
  }

  #refresh(): void {
    if (this.#version === this.records.version) return;
    this.#version = this.records.version;
    const index = new Map<string, Map<string, NameSet>>();
    const setFor = (net: string, name: string): NameSet => {
      let names = index.get(net);
      if (!names) index.set(net, (names = new Map()));
      let s = names.get(name);
      if (!s) names.set(name, (s = { a: [], aaaa: [], cname: [], ptr: [], srv: [], txt: [], badPtr: false }));
      return s;
    };
    for (const r of this.records.list()) {
      const net = r.network.toLowerCase();
      const ttl = r.ttl ?? this.defaultTtl;
      const rr = (type: number, data: DnsRecord['data'], name = r.name): DnsRecord => ({ name, type, class: CLASS_IN, ttl, data });
      const s = setFor(net, r.name);
      this.#add(r, s, rr);
      if ((r.type === 'A' || r.type === 'AAAA') && r.ptr) {
        const rev = reverseName(r.address);
        const target = `${r.name}.${r.network.toLowerCase()}`;
        const ps = setFor(net, rev);
        if (isValidName(target)) ps.ptr.push(rr(RrType.PTR, { kind: 'name', target }, rev));
        else ps.badPtr = true;
      }
    }
    this.#index = index;
  }

  #add(r: NameRecord, s: NameSet, rr: (type: number, data: DnsRecord['data']) => DnsRecord): void {
    switch (r.type) {
      case 'A':
        s.a.push(rr(RrType.A, { kind: 'a', address: r.address }));
        break;
      case 'AAAA':
        s.aaaa.push(rr(RrType.AAAA, { kind: 'aaaa', address: r.address }));
        break;
      case 'CNAME':
        s.cname.push(rr(RrType.CNAME, { kind: 'name', target: r.target }));
        break;
      case 'PTR':
        s.ptr.push(rr(RrType.PTR, { kind: 'name', target: r.target }));
        break;
      case 'SRV':
        s.srv.push(rr(RrType.SRV, { kind: 'srv', priority: r.priority, weight: r.weight, port: r.port, target: r.target }));
        break;
      case 'TXT':
        s.txt.push(rr(RrType.TXT, { kind: 'txt', strings: r.text.map((t) => new Uint8Array(Buffer.from(t))) }));
        break;
    }
  }
}

function answer(answers: DnsRecord[]): Resolution {
  return { kind: 'answer', answers, additionals: [] };
}
