/**
 * Who may ask a listener, and which networks' names they see. A listener
 * serves a list of networks; a network may restrict its clients to some
 * source subnets. A client sees the networks whose subnets contain it (all
 * unrestricted networks included); a client that sees none, or that is
 * outside the listener's `allow` list, gets no answer at all (docs/reliability.md
 * D17: answering strangers is how dnsmasq and LXD became reflectors).
 */
import { InvalidArgumentError } from '../errors.js';
import { AF_INET, ipv4TextToNumber, ipv4ToNumber, isIPv4, networkOf, parseIPv6Into, parsePrefix } from '../wire/ip.js';
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

interface V6Range {
  /** The network's 16 bytes (host bits zero). */
  net: Uint8Array;
  prefixLength: number;
}

interface Matcher {
  v4: V4Range[];
  v6: V6Range[];
}

function matcher(cidrs: string[]): Matcher {
  const m: Matcher = { v4: [], v6: [] };
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
      m.v6.push({ net: networkOf(p), prefixLength: p.prefixLength });
    }
  }
  return m;
}

function hasV4(m: Matcher, ip: number): boolean {
  for (const r of m.v4) if (((ip & r.mask) >>> 0) === r.net) return true;
  return false;
}

const V6_CLIENT = new Uint8Array(16);

/**
 * Whether an IPv6 client (text; a link-local one carries its %zone) is
 * inside one of m's IPv6 subnets; anything unparsable is not.
 */
function hasV6(m: Matcher, address: string): boolean {
  if (m.v6.length === 0) return false;
  const zone = address.indexOf('%');
  if (!parseIPv6Into(zone < 0 ? address : address.slice(0, zone), V6_CLIENT)) return false;
  for (const r of m.v6) if (inPrefix(V6_CLIENT, r)) return true;
  return false;
}

function inPrefix(ip: Uint8Array, r: V6Range): boolean {
  const whole = r.prefixLength >> 3;
  for (let i = 0; i < whole; i++) if (ip[i] !== r.net[i]) return false;
  const bits = r.prefixLength & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (ip[whole]! & mask) === r.net[whole];
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
    if (this.#allow && !hasV6(this.#allow, address)) return undefined;
    let mask = 0;
    for (let i = 0; i < this.#nets.length; i++) {
      const m = this.#nets[i]!.m;
      if (!m || hasV6(m, address)) mask |= 1 << i;
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
