/**
 * Filter counts against tcpdump: one pcap with every hand-built packet
 * (trace-packets.ts: many protocols, cut and TSO frames, VLAN, QinQ, IPv6
 * extension headers, SNAP), each expression form of pcap-filter(7) that
 * weft accepts, and `tcpdump -r FILE EXPR` must select as many packets as
 * `weft trace read FILE EXPR` (through the BPF prefilter and the exact
 * filter). Where weft differs on purpose the case names the difference and
 * gives the tcpdump expression that means what weft's does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/wire/pcap.js';
import { parseFilter } from '../../src/trace/filter.js';
import { printFile, statsFile } from '../../src/trace/read.js';
import { LineWriter } from '../../src/trace/output.js';
import { FileSink } from '../../src/io/file-stream.js';
import { PcapngWriter } from '../../src/wire/pcapng.js';
import { readCapture } from '../../src/wire/capture-reader.js';
import { PassThrough } from 'node:stream';
import { FILTER_EXTRA, GOLDEN, type Packet } from './trace-packets.js';

/** Every expression form weft accepts; tcpdump gets each through vlanAware(). */
const CASES = [
  'udp port 4789', 'tcp port 5001', 'udp and port 53', 'port 53 or 9999', 'src port 40000', 'dst port 53', 'port 53',
  'portrange 5000-6000', 'tcp dst portrange 5001-5001', 'tcp', 'udp',
  'tcp[tcpflags] & tcp-syn != 0', 'tcp[13] & 0x12 = 0x12', 'ip[8] < 5', 'ip[9] = 17', 'icmp[icmptype] = icmp-echo',
  'ether[0] & 1 != 0', 'udp[2:2] = 53', 'ip[2:2] > 100',
  'ether host 02:00:00:00:00:01', 'ether src 02:00:00:00:00:02', 'ether dst 02:00:00:00:00:02', 'ether proto 0x0806', 'ether broadcast',
  'less 80', 'greater 200', 'len >= 100 and len < 1000',
  'net 198.18.0.0 mask 255.255.0.0', 'net 198.19', 'src net 198.18.0.0/24', 'dst net fd00::/64',
  'ip proto 17', 'ip proto \\tcp', 'proto 1',
  'arp', 'rarp', 'host 198.18.0.2', 'src host 198.18.0.1 and dst host 198.18.0.2', 'arp host 198.18.0.7', 'ip host 198.18.0.2',
  'icmp', 'ip6', 'ip', 'not ip', 'ip and not udp', 'icmp6', 'ip6 host fd00::2',
];
/** Expressions with `vlan`: weft and tcpdump mean the same, compared as they are. */
const VLAN_CASES = ['vlan', 'vlan 100', 'vlan 200 and udp', 'vlan and vlan 100 and udp port 4789', 'not vlan'];

/**
 * weft's terms see through VLAN tags (README.md); tcpdump's need a `vlan`
 * before them, which shifts every later offset by 4 bytes: E, or E under
 * one tag, or E under two (`not E`: none of those).
 */
const vlanAware = (e: string): string => (e.startsWith('not ')
  ? `not (${vlanAware(e.slice(4))})`
  : `(${e}) or (vlan and ((${e}) or (vlan and (${e}))))`);

/** [weft expression, the tcpdump expression that means the same, why they differ]. */
const DIFFERENCES: [string, string, string][] = [
  ['udp', 'udp or (ip6 and ip6[6] = 0 and ip6[40] = 17)', 'weft follows IPv6 extension headers'],
  ['icmp6', 'icmp6 or (ip6 and ip6[6] = 0 and ip6[40] = 58)', 'weft follows IPv6 extension headers (MLD comes behind hop-by-hop)'],
  ['port 53', 'port 53 or (ip6 and ip6[6] = 0 and ip6[40] = 17 and (ip6[48:2] = 53 or ip6[50:2] = 53))', 'weft follows IPv6 extension headers'],
  ['tcp[tcpflags] & tcp-syn != 0', '(tcp[tcpflags] & tcp-syn != 0) or (ip6 and ip6[6] = 6 and ip6[53] & 2 != 0)', 'transport byte offsets work over IPv6 too'],
  ['icmp and host 198.18.0.2', '(icmp and host 198.18.0.2) or (ether[12:2] = 36 and ether[20:2] = 0x0800 and ether[31] = 1)', 'weft decodes IP behind 802.3 LLC/SNAP'],
];
/** Packets behind the DIFFERENCES, kept out of the main corpus. */
const DIFFERENT = new Set(['ip6-hbh-udp', 'snap-ip', 'tcp6-syn', 'icmp6-mld2-report-hbh']);

describe('trace filters select what tcpdump selects', () => {
  let dir = '';
  let file = '';
  let odd = '';
  let skip: string | undefined;
  const write = (path: string, packets: Packet[]): void => {
    const chunks: Buffer[] = [];
    const w = new PcapWriter((b) => chunks.push(Buffer.from(b)));
    packets.forEach((p, i) => w.packet(1000 + i, 0, Uint8Array.from(p.data.slice(0, p.caplen ?? p.data.length)), p.data.length));
    w.flush();
    writeFileSync(path, Buffer.concat(chunks));
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-trace-filter-'));
    file = join(dir, 'corpus.pcap');
    odd = join(dir, 'odd.pcap');
    const all = [...GOLDEN, ...FILTER_EXTRA];
    write(file, all.filter((p) => !DIFFERENT.has(p.name)));
    write(odd, all.filter((p) => DIFFERENT.has(p.name) || /^(icmp|udp|dns|tcp)/.test(p.name)));
    try {
      execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    } catch {
      skip = 'tcpdump not installed';
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tcpdumpCount = (path: string, expr: string): number => {
    // One line per packet starts with its time (-tt); VXLAN's inner frame and hex dumps do not.
    const out = execFileSync('tcpdump', ['-n', '-tt', '-r', path, expr], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((l) => /^\d+\.\d{6} /.test(l)).length;
  };
  const weftCount = async (path: string, expr: string): Promise<number> => (await statsFile(path, { filter: parseFilter(expr) })).packets;

  for (const expr of CASES) {
    it(`${expr} (tcpdump: ${vlanAware(expr)})`, async (t) => {
      if (skip) return t.skip(skip);
      assert.equal(await weftCount(file, expr), tcpdumpCount(file, vlanAware(expr)));
    });
  }
  for (const expr of VLAN_CASES) {
    it(expr, async (t) => {
      if (skip) return t.skip(skip);
      assert.equal(await weftCount(file, expr), tcpdumpCount(file, expr));
    });
  }
  it('trace read -w writes the packets the filter selects, as tcpdump -w does', async (t) => {
    if (skip) return t.skip(skip);
    const expr = 'udp port 53 or arp';
    const out = join(dir, 'selected.pcapng');
    const sink = new FileSink(out);
    const writer = new PcapngWriter(sink.write, { application: 'test' });
    const r = await printFile(file, 'line', new LineWriter(new PassThrough()), { filter: parseFilter(expr), writer });
    writer.flush();
    sink.close();
    const records: { caplen: number; origlen: number }[] = [];
    readCapture(readFileSync(out), { packet: (p) => records.push({ caplen: p.caplen, origlen: p.origlen }) });
    assert.equal(records.length, r.matched);
    assert.equal(records.length, tcpdumpCount(file, vlanAware(expr)));
    assert.ok(records.some((p) => p.caplen < p.origlen), 'cut packets keep their original length');
  });

  for (const [expr, tcpdumpExpr, why] of DIFFERENCES) {
    it(`${expr} (differs on purpose: ${why}; tcpdump: ${tcpdumpExpr})`, async (t) => {
      if (skip) return t.skip(skip);
      const weft = await weftCount(odd, expr);
      assert.equal(weft, tcpdumpCount(odd, tcpdumpExpr));
      assert.notEqual(weft, tcpdumpCount(odd, expr), 'the difference shows in this corpus');
    });
  }
});
