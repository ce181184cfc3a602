/**
 * Fuzz target: arbitrary bytes as a pcap or pcapng file, fed in uneven
 * chunks, every packet dissected, filtered and printed (the `weft trace
 * read` path). The only exception allowed is CaptureError. When a file
 * reads cleanly, writing its packets with PcapngWriter and reading that
 * back gives the same packets (round trip).
 */
import { deepStrictEqual } from 'node:assert/strict';
import { CaptureError } from '../../src/errors.js';
import { CaptureReader, readCapture } from '../../src/wire/capture-reader.js';
import { PcapWriter } from '../../src/wire/pcap.js';
import { PcapngWriter } from '../../src/wire/pcapng.js';
import { dissect } from '../../src/trace/dissect.js';
import { newFacts } from '../../src/trace/facts.js';
import { matchFilter, parseFilter } from '../../src/trace/filter.js';
import { summarize } from '../../src/trace/print.js';

const facts = newFacts();
const filter = parseFilter('inner (icmp or port 53) or not (host 198.18.0.1 and vni 42)');

type Pkt = [number, number, number, number, string];

export function fuzz(data: Uint8Array): void {
  const seen: Pkt[] = [];
  const reader = new CaptureReader({
    packet: (r) => {
      dissect(facts, r.data, r.offset, r.offset + r.caplen, r.linktype, r.origlen);
      matchFilter(filter, facts);
      summarize(facts);
      if (seen.length < 1000) seen.push([r.ifindex, r.linktype, r.sec, r.nsec, Buffer.from(r.data.subarray(r.offset, r.offset + r.caplen)).toString('hex')]);
    },
  });
  try {
    const step = (data[0] ?? 0) % 97 + 1;
    for (let i = 0; i < data.length; i += step) reader.feed(data.subarray(i, i + step));
    reader.end();
  } catch (err) {
    if (err instanceof CaptureError) return;
    throw err;
  }
  // ns units in 64 bits end in 2554: later (corrupt) timestamps cannot round-trip.
  if (seen.length >= 1000 || seen.some((p) => p[2] >= 18_000_000_000)) return;
  const parts: Buffer[] = [];
  const w = new PcapngWriter((b) => parts.push(Buffer.from(b)));
  const ids = new Map<number, number>();
  for (const p of seen) {
    if (!ids.has(p[0])) ids.set(p[0], w.addInterface({ linktype: p[1] }));
  }
  for (const p of seen) w.packet(ids.get(p[0])!, p[2], p[3], Buffer.from(p[4], 'hex'));
  w.flush();
  const again: Pkt[] = [];
  readCapture(Buffer.concat(parts), { packet: (r) => again.push([r.ifindex, r.linktype, r.sec, r.nsec, Buffer.from(r.data.subarray(r.offset, r.offset + r.caplen)).toString('hex')]) });
  deepStrictEqual(again.map((p) => p.slice(1)), seen.map((p) => p.slice(1)));
}

function seedFiles(): Uint8Array[] {
  const frame = Buffer.from('0200000000020200000000010800450000541234400040010000c6120001c612000208000000000700010000000000000000', 'hex');
  const a: Buffer[] = [];
  const p = new PcapWriter((b) => a.push(Buffer.from(b)), { nanosecond: true, littleEndian: false });
  p.packet(1700000000, 5, frame);
  p.flush();
  const b: Buffer[] = [];
  const n = new PcapngWriter((x) => b.push(Buffer.from(x)), { comment: 'seed' });
  n.addInterface({ linktype: 1, name: 'eth0' });
  n.addInterface({ linktype: 113 });
  n.packet(0, 1700000000, 7, frame, frame.length, 'c');
  n.packet(1, 1, 2, Buffer.concat([Buffer.from('00000001000602000000000100000800', 'hex'), frame.subarray(14)]));
  n.flush();
  return [Buffer.concat(a), Buffer.concat(b)];
}

export const seeds = seedFiles();
export default fuzz;
