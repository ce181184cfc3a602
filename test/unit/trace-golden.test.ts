/**
 * Golden text: weft's line for each hand-built packet (trace-packets.ts)
 * against `tcpdump -n -S -t -r` on the same packet. Normalised for the
 * differences weft makes on purpose (README.md "weft trace"): weft also
 * prints the link addresses ("aa:.. > bb:.., ", tcpdump -e style), keeps a
 * VXLAN packet's inner frame on the same line (tcpdump starts a new one),
 * prints the Linux cooked header's direction without the interface name,
 * and decodes TSO frames (IP length 0) that tcpdump calls `bad-len 0`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { PcapWriter } from '../../src/wire/pcap.js';
import { dissect } from '../../src/trace/dissect.js';
import { newFacts } from '../../src/trace/facts.js';
import { decodeLayers, formatTree, summarize } from '../../src/trace/print.js';
import { GOLDEN, GOLDEN_LINKTYPE, LINK_GOLDEN, type Packet } from './trace-packets.js';

const MACS = /(^|: )(?:[0-9a-f]{2}:){5}[0-9a-f]{2} > (?:[0-9a-f]{2}:){5}[0-9a-f]{2}(?: vlan \d+)?,? ?/g;

/** tcpdump's text for each packet (continuation lines joined with ": "; hex dumps dropped), or why it cannot run. */
function tcpdumpLines(packets: Packet[]): string[] | string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-trace-golden-'));
  try {
    const out: string[] = new Array<string>(packets.length).fill('');
    // One file per link type; packet i is stamped 1000 + i seconds, which -tt prints first on its line.
    for (const lt of new Set(packets.map((p) => p.linktype ?? GOLDEN_LINKTYPE))) {
      const file = join(dir, `${lt}.pcap`);
      const chunks: Buffer[] = [];
      const w = new PcapWriter((b) => chunks.push(Buffer.from(b)), { linktype: lt });
      packets.forEach((p, i) => {
        if ((p.linktype ?? GOLDEN_LINKTYPE) === lt) w.packet(1000 + i, 0, Uint8Array.from(p.data.slice(0, p.caplen ?? p.data.length)), p.data.length);
      });
      w.flush();
      writeFileSync(file, Buffer.concat(chunks));
      let at = -1;
      for (const line of execFileSync('tcpdump', ['-n', '-S', '-tt', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')) {
        const m = /^(\d+)\.\d{6} (.*)$/.exec(line);
        if (m) {
          at = Number(m[1]) - 1000;
          out[at] = m[2]!;
        } else if (line && !line.startsWith('\t') && at >= 0) out[at] += `: ${line}`;
      }
    }
    return out;
  } catch (err) {
    return `tcpdump unavailable: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function weftLine(p: Packet): string {
  const f = newFacts();
  const b = Uint8Array.from(p.data.slice(0, p.caplen ?? p.data.length));
  dissect(f, b, 0, b.length, p.linktype ?? GOLDEN_LINKTYPE, p.data.length);
  return summarize(f);
}

function normalise(line: string, linktype: number): string {
  let s = line.replace(MACS, '$1');
  if (linktype === 113) s = s.replace(/^(?:In|Out|B|M|P) /, '');
  if (linktype === 276) s = s.replace(/^\S+\s+(?=(?:In|Out|B|M|P) )/, '');
  return s;
}

/** Where weft differs on purpose: tcpdump's line, then weft's. */
const DIFFERS: Record<string, [string, string]> = {
  'tso-total-length-0': ['IP bad-len 0',
    'IP [total length 0 (TSO)] 198.18.0.1.40000 > 198.18.0.2.5001: Flags [P.], seq 1000:1200, ack 5, win 64240, length 200'],
  'ip6-jumbo-length-0': ['IP6 fd00::1 > fd00::2: [|tcp]',
    'IP6 [payload length 0 (TSO)] fd00::1.40000 > fd00::2.5001: Flags [.], seq 1000:1040, ack 5, win 64240, length 40'],
};

describe('trace text matches tcpdump -n', () => {
  const packets = [...GOLDEN, ...LINK_GOLDEN];
  const want = tcpdumpLines(packets);
  packets.forEach((p, i) => {
    const differs = DIFFERS[p.name];
    it(differs ? `${p.name} (differs on purpose: decoded and marked)` : p.name, (t) => {
      if (typeof want === 'string') return t.skip(want);
      const lt = p.linktype ?? GOLDEN_LINKTYPE;
      if (differs) {
        assert.equal(normalise(want[i]!, lt), differs[0]);
        assert.equal(normalise(weftLine(p), lt), differs[1]);
        return;
      }
      assert.equal(normalise(weftLine(p), lt), normalise(want[i]!, lt));
    });
  });

  it('prints time, length and link type for a link type it does not decode', () => {
    assert.equal(weftLine({ name: 'user0', linktype: 147, data: [1, 2, 3] }), 'link type 147 (not decoded), length 3');
  });
});

describe('trace --json and -v carry DNS', () => {
  const layers = (name: string) => {
    const p = GOLDEN.find((g) => g.name === name)!;
    const b = Uint8Array.from(p.data);
    return decodeLayers(b, 0, b.length, GOLDEN_LINKTYPE);
  };

  it('decodes the answer with its flags, every record and the OPT in the additional count', () => {
    const dns = layers('dns-answer-aa').layers.find((l) => l.layer === 'dns') as Record<string, unknown>;
    assert.ok(dns, 'no dns layer');
    assert.equal(dns.aa, true);
    assert.equal(dns.answerCount, 2);
    assert.equal(dns.additionalCount, 1, 'the OPT record counts, as in tcpdump and tshark');
    assert.deepEqual((dns.answers as { data: string }[]).map((a) => a.data), ['198.18.1.1', '198.18.1.2']);
    assert.deepEqual(dns.edns, { udpSize: 1232, version: 0, do: false });
  });

  it('names the extended rcode and decodes DNS over TCP', () => {
    const bad = layers('dns-badvers').layers.find((l) => l.layer === 'dns') as Record<string, unknown>;
    assert.equal(bad.rcodeName, 'BadVers');
    const tcp = layers('dns-tcp').layers.find((l) => l.layer === 'dns') as Record<string, unknown>;
    assert.equal((tcp.questions as { name: string }[])[0]!.name, 'example.com');
  });

  it('decodes the headers of cut and TSO packets, marked cut', () => {
    for (const name of ['cut-tcp-payload', 'tso-total-length-0', 'cut-ip6-udp']) {
      const p = GOLDEN.find((g) => g.name === name)!;
      const b = Uint8Array.from(p.data.slice(0, p.caplen ?? p.data.length));
      const d = decodeLayers(b, 0, b.length, GOLDEN_LINKTYPE);
      assert.equal(d.error, undefined, name);
      const l4 = d.layers.find((l) => l.layer === 'tcp' || l.layer === 'udp') as Record<string, unknown>;
      assert.equal(l4.cut, true, name);
      assert.ok(typeof l4.sourcePort === 'number', name);
    }
  });

  it('shows the DNS layer in the -v tree', () => {
    const d = layers('dns-query-edns');
    assert.match(formatTree(d.layers, d.error), /dns @42\+40: .*rd=true.*additionalCount=1/);
  });
});
