/**
 * The DNS server's metrics. Responses by rcode and cache hits are counted
 * where they happen (one array slot, no allocation); everything the
 * listeners already count (queries, forwards, drops by reason) is read from
 * their stats when scraped, plus what closed listeners had counted.
 */
import { Counter, metrics } from '../metrics.js';
import type { DnsListener, DnsStats } from './listener.js';

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

const responses = metrics.counter('weft_dns_responses_total', 'DNS responses sent, by response code.');
/** Indexed by the header's 4-bit rcode. */
export const RESPONSES_BY_RCODE: Counter[] = Array.from({ length: 16 }, (_, i) => responses.with({ rcode: RCODE_NAMES[i] ?? `RCODE${i}` }));
export const CACHE_HITS = metrics.counter('weft_dns_cache_hits_total', 'Queries answered from the answer cache.').with();
export const CACHE_MISSES = metrics.counter('weft_dns_cache_misses_total', 'Queries whose answer was not cached.').with();
export const UPSTREAM_SECONDS = metrics.histogram('weft_dns_upstream_duration_seconds', 'Time an upstream took to answer a forwarded query.').with();

const live = new Set<DnsListener>();
const retired: Partial<Record<keyof DnsStats, number>> = {};

export function trackListener(l: DnsListener): void {
  live.add(l);
}

/** Keeps a closing listener's counts, so totals never go down. */
export function retireListener(l: DnsListener): void {
  if (!live.delete(l)) return;
  for (const [k, v] of Object.entries(l.stats) as [keyof DnsStats, number][]) retired[k] = (retired[k] ?? 0) + v;
}

function total(k: keyof DnsStats): number {
  let n = retired[k] ?? 0;
  for (const l of live) n += l.stats[k];
  return n;
}

metrics.collect('weft_dns_queries_total', 'DNS queries received (UDP and TCP).', 'counter', () => [[{}, total('queries')]]);
metrics.collect('weft_dns_forwarded_total', 'DNS queries forwarded upstream.', 'counter', () => [[{}, total('forwarded')]]);
metrics.collect('weft_dns_dropped_total', 'DNS queries dropped without an answer, by reason.', 'counter', () => [
  [{ reason: 'source' }, total('droppedSource')], [{ reason: 'rate_limited' }, total('droppedRate')], [{ reason: 'malformed' }, total('droppedOther')],
  [{ reason: 'send' }, total('droppedSend')], [{ reason: 'kernel' }, total('droppedKernel')], [{ reason: 'late' }, total('droppedLate')],
]);
metrics.collect('weft_dns_listeners', 'DNS listeners open.', 'gauge', () => [[{}, live.size]]);
