/**
 * Fuzz target: arbitrary bytes as an upstream reply through what the relay
 * does to it (wire/dns/layout.ts, dns/answer.ts): laying out its records,
 * removing the cookie option, setting the OPT's UDP size, and cutting it to
 * 512 bytes. Only DnsDecodeError may escape; whatever the relay writes stays
 * within the limit and, when the input decoded, decodes too.
 */
import { ok } from 'node:assert/strict';
import { writeTruncatedReply } from '../../src/dns/answer.js';
import { DnsDecodeError } from '../../src/errors.js';
import { OPTION_COOKIE, messageLayout, setOptUdpSize, withoutOption } from '../../src/wire/dns/layout.js';
import { decodeMessage, emptyMessage, encodeMessage } from '../../src/wire/dns/message.js';

const query = encodeMessage({ ...emptyMessage(), id: 1, rd: true, questions: [{ name: 'a.example', type: 1, class: 1 }], edns: { udpSize: 1232, version: 0, flags: 0x8000, options: new Uint8Array(0) } });
const shape = { qdcount: 1, questionEnd: 12 + 11 + 4, hasEdns: true, ednsFlags: 0x8000 };
const out = Buffer.alloc(1232);

export const seeds = [
  query,
  encodeMessage({
    ...emptyMessage(), id: 1, qr: true, questions: [{ name: 'a.example', type: 1, class: 1 }],
    answers: Array.from({ length: 40 }, (_, i) => ({ name: 'a.example', type: 1, class: 1, ttl: 5, data: { kind: 'a' as const, address: `198.18.0.${i}` } })),
    edns: { udpSize: 4096, version: 0, flags: 0, options: new Uint8Array([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]) },
  }),
];

export default function fuzz(data: Uint8Array): void {
  let decoded = true;
  try {
    decodeMessage(data);
  } catch (err) {
    if (!(err instanceof DnsDecodeError)) throw err;
    decoded = false;
  }
  try {
    const l = messageLayout(data);
    ok(l.starts.length >= 1 && l.starts[l.starts.length - 1]! <= data.length);
    const stripped = withoutOption(Buffer.from(data), OPTION_COOKIE);
    setOptUdpSize(stripped, 1232);
    if (decoded) decodeMessage(stripped);
  } catch (err) {
    if (!(err instanceof DnsDecodeError)) throw err;
  }
  if (data.length < 12) return;
  const n = writeTruncatedReply(data, query, shape, out, 0, 512, 1232);
  ok(n <= 512 || n <= shape.questionEnd + 11, `wrote ${n}`);
  if (decoded) decodeMessage(out.subarray(0, n));
}
