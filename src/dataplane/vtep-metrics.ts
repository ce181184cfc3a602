/**
 * The userspace VTEP's counters as Prometheus metrics, read when scraped
 * (the engine already counts every frame and every drop by name).
 */
import { metrics } from '../metrics.js';
import type { VtepCounterName, VtepCounters } from './vtep.js';

/** Counters that are traffic, not drops. */
const TRAFFIC = new Set<VtepCounterName>(['tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes', 'tx_flooded', 'tx_gso', 'rx_coalesced']);

export function registerVtepMetrics(read: () => VtepCounters): void {
  metrics.collect('weft_vtep_packets_total', 'VXLAN datagrams sent (tx) and received (rx) by the userspace VTEP.', 'counter', () => {
    const c = read();
    return [[{ direction: 'tx' }, c.tx_packets], [{ direction: 'rx' }, c.rx_packets]];
  });
  metrics.collect('weft_vtep_bytes_total', 'Bytes of VXLAN datagrams sent (tx) and received (rx).', 'counter', () => {
    const c = read();
    return [[{ direction: 'tx' }, c.tx_bytes], [{ direction: 'rx' }, c.rx_bytes]];
  });
  metrics.collect('weft_vtep_dropped_total', 'Frames the userspace VTEP dropped, by reason.', 'counter', () => {
    const c = read();
    return (Object.keys(c) as VtepCounterName[]).filter((k) => !TRAFFIC.has(k)).map((k) => [{ reason: k }, c[k]]);
  });
}
