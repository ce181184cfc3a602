/**
 * Fuzz target: bytes as a filter expression (mapped onto the filter
 * language's characters). Parsing either succeeds or throws
 * FilterSyntaxError; a parsed filter compiles to BPF (kernel and
 * prefilter) and evaluates on sample packets without throwing, and the
 * prefilter never rejects a packet the filter matches.
 */
import { ok } from 'node:assert/strict';
import { bpfToFunction, compileBpf, runBpf } from '../../src/trace/bpf.js';
import { dissect } from '../../src/trace/dissect.js';
import { newFacts } from '../../src/trace/facts.js';
import { FilterSyntaxError } from '../../src/errors.js';
import { matchFilter, parseFilter } from '../../src/trace/filter.js';
import { FILTER_EXTRA, GOLDEN } from '../../test/unit/trace-packets.js';

const WORDS = ['tcp', 'udp', 'port', '53', 'host', '198.18.0.2', 'and', 'or', 'not', '(', ')', '[', ']', ':', '2', '&', '!=', '<', '=', 'ip',
  'ip6', 'vlan', '100', 'ether', 'src', 'dst', 'proto', 'net', '198.18.0.0/16', 'mask', '255.255.0.0', 'portrange', '1-1000', 'less', 'greater',
  'len', 'tcpflags', 'tcp-syn', 'icmp', 'arp', 'inner', 'vni', '42', '-', '+', '*', '/', '<<', '0x12', 'broadcast', '02:00:00:00:00:01', 'fd00::2', 'icmp6'];
const packets = [...GOLDEN, ...FILTER_EXTRA].map((p) => Uint8Array.from(p.data.slice(0, p.caplen ?? p.data.length)));
const facts = newFacts();

export function fuzz(data: Uint8Array): void {
  const text = Array.from(data, (b) => WORDS[b % WORDS.length]).join(' ');
  let node;
  try {
    node = parseFilter(text);
  } catch (err) {
    if (err instanceof FilterSyntaxError) return;
    throw err;
  }
  const program = compileBpf(node);
  const pre = program ? bpfToFunction(program) : null;
  for (const p of packets) {
    dissect(facts, p, 0, p.length, 1, p.length + 10);
    const m = matchFilter(node, facts);
    if (program) runBpf(program, p, p.length + 10);
    if (m && pre) ok(pre(p, 0, p.length, p.length + 10) !== 0, `prefilter rejects a match of '${text}'`);
  }
}

export const seeds = ['udp port 53', 'tcp[tcpflags] & tcp-syn != 0', 'vlan 100 and not ip[8] < 5', 'ether host 02:00:00:00:00:01 or less 80']
  .map((s) => Uint8Array.from(s.split(' ').map((w) => Math.max(0, WORDS.indexOf(w)))));
export default fuzz;
