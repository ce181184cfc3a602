/**
 * Pipelined requests with a bounded window. All ACKs of a datagram are
 * queued on our socket while the kernel processes it; sending thousands of
 * requests without reading overflows the receive buffer and ACKs are lost
 * (ENOBUFS). So at most `window` requests are in flight: the next chunk
 * goes out when the previous one has settled.
 */
import type { NetlinkClient, RequestSpec } from '../client.js';
import type { Message } from '../message.js';

export const DEFAULT_WINDOW = 512;

export async function pipelined(client: NetlinkClient, reqs: RequestSpec[], window = DEFAULT_WINDOW): Promise<PromiseSettledResult<Message[]>[]> {
  const out: PromiseSettledResult<Message[]>[] = [];
  for (let i = 0; i < reqs.length; i += window) {
    out.push(...(await Promise.allSettled(client.batch(reqs.slice(i, i + window)))));
  }
  return out;
}
