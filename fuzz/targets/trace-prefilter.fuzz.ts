/**
 * Fuzz target: arbitrary bytes as a pcap or pcapng file, read with a
 * filter's prefilter run by the native addon (native/bpf-scan.c walks the
 * records in C) and by JavaScript: the same packets, warnings, error and
 * count, and nothing but CaptureError thrown. Without the addon built, only
 * the JavaScript reading runs.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { CaptureError } from '../../src/errors.js';
import type { CaptureHandlers } from '../../src/wire/capture-common.js';
import { CaptureReader } from '../../src/wire/capture-reader.js';
import { PcapWriter } from '../../src/wire/pcap.js';
import { PcapngWriter } from '../../src/wire/pcapng.js';
import { parseFilter } from '../../src/trace/filter.js';
import { prefilter } from '../../src/trace/read.js';

const filter = parseFilter('udp port 53 or host 198.18.0.9 or (vlan and icmp)');
const jsPre = prefilter(filter, { native: false });
const nativePre = prefilter(filter);
const hasNative = nativePre?.scan !== undefined;

function read(data: Uint8Array, pre: CaptureHandlers['prefilter']): string[] {
  const out: string[] = [];
  const reader = new CaptureReader({
    prefilter: pre,
    packet: (r) => {
      if (out.length < 2000) out.push(`${r.index} ${r.sec}.${r.nsec} ${r.ifindex} ${r.origlen} ${Buffer.from(r.data.subarray(r.offset, r.offset + r.caplen)).toString('hex')}`);
    },
    warning: (w) => out.push(`warning ${w.message} ${w.offset}`),
  });
  try {
    const step = (data[0] ?? 0) % 251 + 1;
    for (let i = 0; i < data.length; i += step) reader.feed(data.subarray(i, i + step));
    reader.end();
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    out.push(`error ${err.code} ${err.message}`);
  }
  out.push(`count ${reader.count}`);
  return out;
}

export function fuzz(data: Uint8Array): void {
  const js = read(data, jsPre);
  if (hasNative) deepStrictEqual(read(data, nativePre), js);
}

function seedFiles(): Uint8Array[] {
  const dns = Buffer.from('0200000000020200000000010800450000391234400040110000c6120001c6120002c350003500250000123401000001000000000000076578616d706c6503636f6d0000010001', 'hex');
  const icmp = Buffer.from('0200000000020200000000010800450000541234400040010000c6120001c612000208000000000700010000000000000000', 'hex');
  const frames = [icmp, icmp, dns, icmp, icmp, icmp];
  const a: Buffer[] = [];
  const p = new PcapWriter((b) => a.push(Buffer.from(b)), { nanosecond: true, littleEndian: false });
  for (const [i, f] of frames.entries()) p.packet(1700000000, i, f);
  p.flush();
  const b: Buffer[] = [];
  const n = new PcapngWriter((x) => b.push(Buffer.from(x)));
  n.addInterface({ linktype: 1, name: 'eth0', snaplen: 64 });
  n.addInterface({ linktype: 113 });
  for (const [i, f] of frames.entries()) n.packet(i === 4 ? 1 : 0, 1700000000, i, f.subarray(0, 64), f.length, i === 5 ? 'c' : undefined);
  n.flush();
  return [Buffer.concat(a), Buffer.concat(b)];
}

export const seeds = seedFiles();
export default fuzz;
