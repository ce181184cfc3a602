/**
 * Exponential back-off with jitter for retries against an unreachable store:
 * 250 ms doubling to 30 s, each delay drawn from its upper half, so a
 * quorum loss costs a few attempts a minute instead of a busy loop, and
 * daemons that lost etcd together do not retry in step.
 */
export function backoffMs(failures: number, random = Math.random): number {
  const ceiling = Math.min(30_000, 250 * 2 ** Math.min(Math.max(failures - 1, 0), 7));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
