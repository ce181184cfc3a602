/**
 * Fuzz target: one captured packet under any link type weft decodes (the
 * first byte picks it), dissected leniently (cut headers, bogus IP lengths,
 * LLC/STP/LLDP, 802.11/radiotap, PPP, BSD null), filtered with every kind
 * of term (byte offsets included), printed as a line and decoded for
 * --json. Nothing may throw; the BPF prefilter never rejects a packet the
 * exact filter matches.
 */
import { ok } from 'node:assert/strict';
import { bpfToFunction, compileBpf } from '../../src/trace/bpf.js';
import { dissect } from '../../src/trace/dissect.js';
import { newFacts } from '../../src/trace/facts.js';
import { matchFilter, parseFilter } from '../../src/trace/filter.js';
import { decodeLayers, summarize } from '../../src/trace/print.js';
import { GOLDEN, LINK_GOLDEN } from '../../test/unit/trace-packets.js';

const LINKTYPES = [1, 1, 1, 1, 0, 9, 101, 105, 108, 113, 127, 276, 147];
const facts = newFacts();
const FILTERS = [
  'udp port 53 or tcp[tcpflags] & tcp-syn != 0 or icmp[0] = 3',
  'not (vlan 100 and ip[8] < 5) and ether host 02:00:00:00:00:01',
  'portrange 1-1024 or less 60 or net 198.18.0.0 mask 255.254.0.0 or arp or ip6 proto 58',
  'inner (icmp or port 53) or vni 42 or ether broadcast',
].map((f) => {
  const node = parseFilter(f);
  const program = compileBpf(node);
  return { node, pre: program ? bpfToFunction(program) : null };
});

export function fuzz(data: Uint8Array): void {
  if (data.length === 0) return;
  const linktype = LINKTYPES[data[0]! % LINKTYPES.length]!;
  const cut = data.length > 1 ? data[1]! : 0;
  const end = data.length;
  // The second byte claims extra bytes on the wire (a snap-length cut).
  const origlen = end - 2 + (cut & 0x80 ? cut * 7 : 0);
  dissect(facts, data, 2, end, linktype, origlen);
  summarize(facts);
  decodeLayers(data, 2, end, linktype);
  for (const f of FILTERS) {
    const m = matchFilter(f.node, facts);
    if (m && linktype === 1 && f.pre) ok(f.pre(data, 2, end - 2, origlen) !== 0, 'the prefilter rejected a matching packet');
  }
}

export const seeds = [...GOLDEN, ...LINK_GOLDEN].map((p) => {
  const lt = LINKTYPES.indexOf(p.linktype ?? 1);
  return Uint8Array.from([lt, p.caplen !== undefined ? 0x80 : 0, ...p.data.slice(0, p.caplen ?? p.data.length)]);
});
export default fuzz;
