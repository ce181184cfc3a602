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
 * - A network may carry a domain (setDomain: the Docker network's name,
 *   while records stay filed under weft's network ID): qualified names and
 *   PTR targets use it, as Docker does (`c1.mynet.`).
 * - Every answer's owner is the question name (`web.mynet` gets
 *   `web.mynet A ...`, not `web A ...`: glibc and dnspython drop records
 *   owned by another name); a CNAME chain keeps its targets as owners.
 * - A CNAME chain for A/AAAA that leaves the local records ends in `chase`:
 *   the caller resolves the last target upstream and appends its answer.
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
  | { kind: 'forward' }
  /** The local CNAME chain (owners as they will be sent) ends at `target`, a name to resolve upstream. */
  | { kind: 'chase'; chain: DnsRecord[]; target: string };

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
  /** network (lower case) -> its domain (lower case). */
  #domains = new Map<string, string>();
  #domainChanges = 0;

  constructor(readonly records: DnsRecords, readonly defaultTtl = DEFAULT_TTL) {}

  /** Changes when the store or a domain changes; callers caching answers compare it. */
  get version(): number {
    return this.records.version + this.#domainChanges;
  }

  /**
   * The name a network goes by in qualified names and PTR targets (Docker's
   * network name), or undefined to use the network itself. Idempotent.
   */
  setDomain(network: string, domain: string | undefined): void {
    const net = network.toLowerCase();
    const d = domain?.toLowerCase();
    if (this.#domains.get(net) === d) return;
    if (d === undefined) this.#domains.delete(net);
    else this.#domains.set(net, d);
    this.#domainChanges++;
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
        if (direct.length > 0) return answer(owned(direct, key));
        if (set.cname.length > 0) return this.#chase(net, set, qtype, key);
        return NODATA;
      }
      case RrType.MX:
        return NODATA;
      case RrType.CNAME:
        return set.cname.length > 0 ? answer(owned(set.cname, key)) : FORWARD;
      case RrType.PTR:
        if (set.badPtr) return SERVFAIL;
        return set.ptr.length > 0 ? answer(owned(set.ptr, key)) : FORWARD;
      case RrType.TXT:
        return set.txt.length > 0 ? answer(owned(set.txt, key)) : FORWARD;
      case RrType.SRV: {
        if (set.srv.length === 0) return FORWARD;
        const glue: DnsRecord[] = [];
        for (const s of set.srv) {
          const t = this.#index.get(net)?.get((s.data as { target: string }).target);
          if (t) glue.push(...t.a, ...t.aaaa);
        }
        return { kind: 'answer', answers: owned(set.srv, key), additionals: glue };
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

  /** Follows CNAMEs among the network's names; a chain leaving them is a `chase`. */
  #chase(net: string, set: NameSet, qtype: number, key: string): Resolution {
    const answers: DnsRecord[] = [];
    let cur: NameSet | undefined = set;
    let owner = key;
    for (let hop = 0; cur && hop < MAX_CNAME_HOPS; hop++) {
      const direct = qtype === RrType.A ? cur.a : cur.aaaa;
      if (direct.length > 0) {
        answers.push(...owned(direct, owner));
        return answer(answers);
      }
      if (cur.cname.length === 0) return answer(answers);
      const cname = cur.cname[0]!;
      answers.push(cname.name === owner ? cname : { ...cname, name: owner });
      owner = (cname.data as { target: string }).target;
      cur = this.#index.get(net)?.get(owner);
    }
    // A local loop: answer what there is. Otherwise the chain left the local names.
    if (cur) return answer(answers);
    return { kind: 'chase', chain: answers, target: owner };
  }

  #find(networks: readonly string[], key: string): [string, NameSet] | undefined {
    for (const n of networks) {
      const net = n.toLowerCase();
      const set = this.#index.get(net)?.get(key);
      if (set) return [net, set];
    }
    // Qualified forms: the longest owner first ("a.b" on "c", then "a" on "b.c");
    // the suffix is a network's domain, or the network itself.
    for (let dot = key.lastIndexOf('.'); dot > 0; dot = key.lastIndexOf('.', dot - 1)) {
      if (key[dot - 1] === '\\') continue;
      const suffix = key.slice(dot + 1);
      for (const n of networks) {
        const net = n.toLowerCase();
        if (net !== suffix && this.#domains.get(net) !== suffix) continue;
        const set = this.#index.get(net)?.get(key.slice(0, dot));
        if (set) return [net, set];
      }
    }
    return undefined;
  }

  #refresh(): void {
    if (this.#version === this.version) return;
    this.#version = this.version;
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
        const target = `${r.name}.${this.#domains.get(net) ?? net}`;
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

/** The records with `owner` as their owner name (copies only when it differs: qualified questions). */
function owned(records: DnsRecord[], owner: string): DnsRecord[] {
  return records[0]?.name === owner ? records : records.map((r) => ({ ...r, name: owner }));
}
