/**
 * The DNS drop counters as /metrics shows them: every way the listener
 * drops a query is one reason of weft_dns_dropped_total (as the VTEP's
 * drops are of weft_vtep_dropped_total), and a retired listener's counts
 * stay in the totals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metrics } from '../../src/metrics.js';
import { retireListener, trackListener } from '../../src/dns/metrics.js';
import { emptyStats, type DnsListener } from '../../src/dns/listener.js';

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} in\n${text}`);
  return Number(line.split(' ')[1]);
}

test('every DNS drop is a reason of weft_dns_dropped_total, and retired listeners keep counting', () => {
  const before = metrics.render();
  const stats = { ...emptyStats(), droppedSource: 1, droppedRate: 2, droppedOther: 3, droppedSend: 4, droppedKernel: 5, droppedLate: 6 };
  const listener = { stats } as unknown as DnsListener;
  trackListener(listener);
  const reasons = { source: 1, rate_limited: 2, malformed: 3, send: 4, kernel: 5, late: 6 };
  try {
    const live = metrics.render();
    for (const [reason, n] of Object.entries(reasons)) {
      const series = `weft_dns_dropped_total{reason="${reason}"}`;
      assert.equal(sample(live, series) - sample(before, series), n, series);
    }
    assert.ok(!live.includes('weft_dns_rate_limited_total'), 'rate-limited queries are a drop reason, not a family of their own');
  } finally {
    retireListener(listener);
  }
  const after = metrics.render();
  for (const [reason, n] of Object.entries(reasons)) {
    const series = `weft_dns_dropped_total{reason="${reason}"}`;
    assert.equal(sample(after, series) - sample(before, series), n, `${series} after the listener closed`);
  }
});
