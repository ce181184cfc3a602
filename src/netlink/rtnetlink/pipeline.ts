/**
 * Many change requests at once: the client's bulk mode (no per-request ACK,
 * one barrier at the end), so the kernel, not the round trips, sets the pace.
 */
import type { BulkResult, NetlinkClient, RequestSpec } from '../client.js';

export function pipelined(client: NetlinkClient, reqs: RequestSpec[]): Promise<BulkResult[]> {
  return client.bulk(reqs);
}
