/**
 * A local CNAME whose chain leaves the local names (`db CNAME db.corp.test`):
 * the target is resolved upstream and the client gets the whole chain, the
 * local CNAMEs first, then the upstream's answer for the target, with the
 * upstream's rcode (NXDOMAIN with the CNAME in the answer: RFC 6604). Without
 * upstreams (internal networks) the local chain alone is the answer.
 */
import { randomInt } from 'node:crypto';
import { Rcode } from '../wire/dns/constants.js';
import { DnsDecodeError, DnsEncodeError } from '../errors.js';
import { EDNS_DO } from '../wire/dns/layout.js';
import { decodeMessage, emptyMessage, encodeMessage, type DnsRecord } from '../wire/dns/message.js';
import { nameKey } from '../wire/dns/name.js';
import type { Template } from './answer.js';
import type { Forwarder } from './forwarder.js';

export class Chase {
  constructor(
    /** CNAME records, the first owned by the (lower-cased) question name. */
    readonly chain: DnsRecord[],
    /** Where the chain leaves the local names. */
    readonly target: string,
    /** The chain alone, for listeners without upstreams. */
    readonly local: Template,
  ) {}
}

/**
 * Resolves the chain's target through `fwd` (its slot already taken, as for
 * any forward: forward() releases it) and builds the reply to `query`.
 * Resolves to null when no upstream answered (the caller sends SERVFAIL).
 */
export async function forwardChase(fwd: Forwarder, chase: Chase, query: Buffer, tcp: boolean, ednsSize: number): Promise<Buffer | null> {
  let client;
  try {
    client = decodeMessage(query);
  } catch (err) {
    if (!(err instanceof DnsDecodeError)) throw err;
    fwd.release();
    return null;
  }
  const q = client.questions[0]!;
  const doBit = (client.edns?.flags ?? 0) & EDNS_DO;
  const edns = client.edns ? { udpSize: ednsSize, version: 0, flags: doBit, options: new Uint8Array(0) } : undefined;
  const upstreamQuery = encodeMessage({
    ...emptyMessage(), id: randomInt(0x10000), rd: true, cd: client.cd,
    questions: [{ name: chase.target, type: q.type, class: q.class }],
    ...(edns ? { edns } : {}),
  });
  const reply = await fwd.forward(upstreamQuery, { key: nameKey(chase.target), qtype: q.type, qclass: q.class }, tcp);
  if (reply === null) return null;
  try {
    const up = decodeMessage(reply);
    // The first CNAME is owned by the question as the client spelled it (0x20 case survives).
    const chain = chase.chain.map((r, i) => (i === 0 ? { ...r, name: q.name } : r));
    return encodeMessage({
      ...emptyMessage(), id: client.id, qr: true, rd: client.rd, ra: true, cd: client.cd,
      rcode: edns ? up.rcode : up.rcode & 0xf,
      questions: [q],
      answers: [...chain, ...up.answers],
      // The upstream's SOA (negative caching) concerns the target; keep it.
      authorities: up.rcode === Rcode.NXDOMAIN || up.answers.length === 0 ? up.authorities : [],
      ...(edns ? { edns } : {}),
    });
  } catch (err) {
    if (err instanceof DnsDecodeError || err instanceof DnsEncodeError) return null;
    throw err;
  }
}
