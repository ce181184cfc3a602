/**
 * Counters of a VTEP running on several worker threads: each worker
 * copies its VTEP and proxy counters into its own row of one
 * SharedArrayBuffer after every batch (a few stores per batch, nothing per
 * packet), and the main thread sums the rows whenever stats are asked for.
 */
import { newProxyCounters, type ProxyCounterName, type ProxyCounters } from './proxy-arp.js';
import { newVtepCounters, type VtepCounterName, type VtepCounters } from './vtep.js';

export const VTEP_COUNTER_NAMES = Object.keys(newVtepCounters()) as readonly VtepCounterName[];
export const PROXY_COUNTER_NAMES = Object.keys(newProxyCounters()) as readonly ProxyCounterName[];
/** Float64 slots per worker row: the counters, then 1 while UDP GSO is on. */
export const COUNTER_ROW = VTEP_COUNTER_NAMES.length + PROXY_COUNTER_NAMES.length + 1;
export const GSO_SLOT = COUNTER_ROW - 1;

export function counterRows(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(COUNTER_ROW * 8 * workers);
}

/** Worker i's row. */
export function counterRow(sab: SharedArrayBuffer, i: number): Float64Array {
  return new Float64Array(sab, i * COUNTER_ROW * 8, COUNTER_ROW);
}

/** One worker's counters from its row. */
export function readRow(row: Float64Array): { counters: VtepCounters; proxy: ProxyCounters; udpGso: boolean } {
  const counters = newVtepCounters();
  const proxy = newProxyCounters();
  VTEP_COUNTER_NAMES.forEach((k, i) => (counters[k] = row[i]!));
  PROXY_COUNTER_NAMES.forEach((k, i) => (proxy[k] = row[VTEP_COUNTER_NAMES.length + i]!));
  return { counters, proxy, udpGso: row[GSO_SLOT] === 1 };
}

/** Adds b into a (same keys). */
export function addInto<K extends string>(a: Record<K, number>, b: Record<K, number>): void {
  for (const k of Object.keys(b) as K[]) a[k] += b[k];
}
