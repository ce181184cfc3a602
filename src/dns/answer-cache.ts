/**
 * Per-scope cache of what to answer for (name, type, class), looked up
 * straight from the query's wire bytes: the key is the question name's
 * lower-cased wire form, hashed while parsing (QueryInfo.nameHash), so a
 * hit builds no string and allocates nothing. Open hashing with chains in a
 * power-of-two table that doubles when it holds more entries than buckets.
 */
import { lowerNameBytes, sameNameBytes } from '../wire/dns/query.js';
import type { Template } from './answer.js';
import type { Chase } from './chase.js';

export type CacheValue = Template | Chase | 'forward' | 'servfail';

interface Entry {
  hash: number;
  qtype: number;
  qclass: number;
  /** Lower-cased wire name. */
  name: Uint8Array;
  value: CacheValue;
  next: Entry | undefined;
}

const INITIAL_BUCKETS = 64;

function mix(nameHash: number, qtype: number, qclass: number): number {
  return Math.imul(nameHash ^ (qtype | (qclass << 16)), 0x01000193);
}

export class AnswerCache {
  #buckets: (Entry | undefined)[] = new Array<Entry | undefined>(INITIAL_BUCKETS).fill(undefined);
  #mask = INITIAL_BUCKETS - 1;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The cached value for the name at buf[at, at+len), or undefined. */
  get(buf: Uint8Array, at: number, len: number, nameHash: number, qtype: number, qclass: number): CacheValue | undefined {
    const h = mix(nameHash, qtype, qclass);
    for (let e = this.#buckets[h & this.#mask]; e !== undefined; e = e.next) {
      if (e.hash === h && e.qtype === qtype && e.qclass === qclass && e.name.length === len && sameNameBytes(buf, at, e.name)) return e.value;
    }
    return undefined;
  }

  /** Stores a value (the caller checked get() missed). */
  set(buf: Uint8Array, at: number, len: number, nameHash: number, qtype: number, qclass: number, value: CacheValue): void {
    const h = mix(nameHash, qtype, qclass);
    if (this.#size >= this.#buckets.length) this.#grow();
    const i = h & this.#mask;
    this.#buckets[i] = { hash: h, qtype, qclass, name: lowerNameBytes(buf, at, len), value, next: this.#buckets[i] };
    this.#size++;
  }

  clear(): void {
    if (this.#size === 0) return;
    this.#buckets = new Array<Entry | undefined>(INITIAL_BUCKETS).fill(undefined);
    this.#mask = INITIAL_BUCKETS - 1;
    this.#size = 0;
  }

  #grow(): void {
    const old = this.#buckets;
    const buckets = new Array<Entry | undefined>(old.length * 2).fill(undefined);
    const mask = buckets.length - 1;
    for (let e of old) {
      while (e !== undefined) {
        const next = e.next;
        e.next = buckets[e.hash & mask];
        buckets[e.hash & mask] = e;
        e = next;
      }
    }
    this.#buckets = buckets;
    this.#mask = mask;
  }
}
