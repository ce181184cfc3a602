/**
 * Per-client token buckets (BIND/CoreDNS RRL in spirit): a client may send
 * `qps` queries per second with bursts up to `burst`; excess is dropped so
 * the server cannot be turned into a reflector. Memory is bounded: at most
 * `maxClients` buckets; when full, buckets that have refilled (idle
 * clients) are swept, and if none have, the table starts over (fail open
 * rather than grow).
 */
export class RateLimiter {
  #buckets = new Map<number | string, { tokens: number; last: number }>();

  constructor(readonly qps: number, readonly burst = qps * 2, readonly maxClients = 8192) {}

  /** Whether `client` may send one more query at `nowMs`. */
  allow(client: number | string, nowMs: number): boolean {
    let b = this.#buckets.get(client);
    if (!b) {
      if (this.#buckets.size >= this.maxClients) this.#sweep(nowMs);
      b = { tokens: this.burst, last: nowMs };
      this.#buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.last) * this.qps) / 1000);
      b.last = nowMs;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get clients(): number {
    return this.#buckets.size;
  }

  #sweep(nowMs: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((nowMs - b.last) * this.qps) / 1000 >= this.burst) this.#buckets.delete(k);
    }
    if (this.#buckets.size >= this.maxClients) this.#buckets.clear();
  }
}
