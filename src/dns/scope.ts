/**
 * Who may ask a listener, and which networks' names they see. A listener
 * serves a list of networks; a network may restrict its clients to some
 * source subnets. A client sees the networks whose subnets contain it (all
 * unrestricted networks included); a client that sees none, or that is
 * outside the listener's `allow` list, gets no answer at all (docs/reliability.md
 * D17: answering strangers is how dnsmasq and LXD became reflectors).
 */
import { BlockList } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { AF_INET, formatIPv6, ipv4TextToNumber, ipv4ToNumber, isIPv4, parsePrefix } from '../wire/ip.js';
import { AnswerCache } from './answer-cache.js';

export interface NetworkScope {
  name: string;
  /** Source subnets (CIDR) of this network's clients; absent: every client. */
  clients?: string[];
  /**
   * The interface this network's clients reach the listener through (its
   * bridge). A source address proves nothing, it can be spoofed from
   * anywhere the gateway address is routed: queries that did not come in
   * here are never seen (the listener's sockets are bound to it).
   */
  ingress?: string;
}

/**
 * The interface a listener's sockets are bound to: the ingress its networks
 * share, or undefined (no binding) when none is given. Networks with
 * different ingresses cannot share one listener.
 */
export function listenerIngress(networks: (string | NetworkScope)[]): string | undefined {
  const set = new Set(networks.map((n) => (typeof n === 'string' ? undefined : n.ingress)));
  if (set.size > 1) throw new InvalidArgumentError(`a DNS listener's networks come in through different interfaces: ${[...set].join(', ')}`);
  const [only] = set;
  if (only !== undefined && !/^[^\s/\0]{1,15}$/.test(only)) throw new InvalidArgumentError(`invalid ingress interface ${JSON.stringify(only)}`);
  return only;
}

/** The networks one class of clients sees, with its answer cache. */
export interface Scope {
  networks: string[];
  /** (name bytes, type, class) -> template, or a marker for forward/servfail. */
  cache: AnswerCache;
}

interface V4Range {
  net: number;
  mask: number;
}

interface Matcher {
  v4: V4Range[];
  v6: BlockList;
  hasV6: boolean;
}

function matcher(cidrs: string[]): Matcher {
  const m: Matcher = { v4: [], v6: new BlockList(), hasV6: false };
  for (const c of cidrs) {
    let p;
    try {
      p = parsePrefix(c, 'subnet');
    } catch {
      throw new InvalidArgumentError(`invalid subnet ${JSON.stringify(c)}`);
    }
    if (p.family === AF_INET) {
      const mask = p.prefixLength === 0 ? 0 : (0xffffffff << (32 - p.prefixLength)) >>> 0;
      m.v4.push({ net: (ipv4ToNumber(p.bytes) & mask) >>> 0, mask });
    } else {
      m.v6.addSubnet(formatIPv6(p.bytes), p.prefixLength, 'ipv6');
      m.hasV6 = true;
    }
  }
  return m;
}

function hasV4(m: Matcher, ip: number): boolean {
  for (const r of m.v4) if (((ip & r.mask) >>> 0) === r.net) return true;
  return false;
}

export class ClientScopes {
  readonly #nets: { name: string; m?: Matcher }[];
  readonly #allow: Matcher | undefined;
  readonly #open: boolean;
  readonly #scopes = new Map<number, Scope>();
  readonly #all: Scope;

  /** True when every client sees every network (no subnet or allow rules). */
  get open(): boolean {
    return this.#open;
  }

  constructor(networks: (string | NetworkScope)[], allow?: string[]) {
    if (networks.length === 0) throw new InvalidArgumentError('a DNS listener needs at least one network');
    if (networks.length > 30) throw new InvalidArgumentError('a DNS listener serves at most 30 networks');
    this.#nets = networks.map((n) => (typeof n === 'string' ? { name: n } : n.clients ? { name: n.name, m: matcher(n.clients) } : { name: n.name }));
    this.#allow = allow && allow.length > 0 ? matcher(allow) : undefined;
    this.#open = !this.#allow && this.#nets.every((n) => !n.m);
    this.#all = this.#scope((1 << this.#nets.length) - 1);
  }

  /** Scope of an IPv4 client (u32), or undefined to stay silent. */
  forIPv4(ip: number): Scope | undefined {
    if (this.#open) return this.#all;
    if (this.#allow && !hasV4(this.#allow, ip)) return undefined;
    let mask = 0;
    for (let i = 0; i < this.#nets.length; i++) {
      const m = this.#nets[i]!.m;
      if (!m || hasV4(m, ip)) mask |= 1 << i;
    }
    return mask === 0 ? undefined : this.#scope(mask);
  }

  /** Scope of a client given as text (IPv6, IPv4-mapped, or IPv4). */
  forAddress(address: string): Scope | undefined {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped || isIPv4(address)) return this.forIPv4(ipv4TextToNumber(mapped ? mapped[1]! : address));
    if (this.#open) return this.#all;
    if (this.#allow && !(this.#allow.hasV6 && this.#allow.v6.check(address, 'ipv6'))) return undefined;
    let mask = 0;
    for (let i = 0; i < this.#nets.length; i++) {
      const m = this.#nets[i]!.m;
      if (!m || (m.hasV6 && m.v6.check(address, 'ipv6'))) mask |= 1 << i;
    }
    return mask === 0 ? undefined : this.#scope(mask);
  }

  /** Drops every cached answer (records changed). */
  clear(): void {
    for (const s of this.#scopes.values()) s.cache.clear();
  }

  #scope(mask: number): Scope {
    let s = this.#scopes.get(mask);
    if (!s) {
      s = { networks: this.#nets.filter((_, i) => mask & (1 << i)).map((n) => n.name), cache: new AnswerCache() };
      this.#scopes.set(mask, s);
    }
    return s;
  }
}
