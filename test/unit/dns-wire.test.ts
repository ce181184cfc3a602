import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Accept, CLASS_IN, DnsDecodeError, QueryInfo, RrType, acceptQuery, decodeMessage, emptyMessage, encodeMessage,
  encodeMessageInto, encodingLength, nameLabels, parseQuery, question, readName, type DnsMessage, type DnsRecord,
} from '../../src/wire/dns/index.js';
import { fuzz } from '../../fuzz/targets/dns.fuzz.js';

const rr = (name: string, type: number, data: DnsRecord['data'], ttl = 600): DnsRecord => ({ name, type, class: CLASS_IN, ttl, data });

function sample(): DnsMessage {
  return {
    ...emptyMessage(),
    id: 0xbeef, qr: true, rd: true, ra: true, rcode: 0,
    questions: [question('Web.NetA', RrType.A)],
    answers: [
      rr('Web.NetA', RrType.A, { kind: 'a', address: '198.18.1.2' }),
      rr('web.neta', RrType.AAAA, { kind: 'aaaa', address: '2001:db8::1' }),
      rr('alias.neta', RrType.CNAME, { kind: 'name', target: 'web.neta' }),
      rr('2.1.18.198.in-addr.arpa', RrType.PTR, { kind: 'name', target: 'web.neta' }),
      rr('_http._tcp.web.neta', RrType.SRV, { kind: 'srv', priority: 1, weight: 2, port: 80, target: 'web.neta' }),
      rr('web.neta', RrType.TXT, { kind: 'txt', strings: [Uint8Array.from([104, 105]), new Uint8Array(0)] }),
      rr('neta', RrType.MX, { kind: 'mx', preference: 10, exchange: 'mail.neta' }),
    ],
    authorities: [
      rr('neta', RrType.NS, { kind: 'name', target: 'ns.neta' }),
      rr('neta', RrType.SOA, { kind: 'soa', mname: 'ns.neta', rname: 'h\\.m.neta', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 }),
    ],
    additionals: [rr('x.neta', 65280, { kind: 'raw', bytes: Uint8Array.from([1, 2, 3]) })],
    edns: { udpSize: 1232, version: 0, flags: 0x8000, options: Uint8Array.from([0, 10, 0, 2, 0xaa, 0xbb]) },
  };
}

test('every record kind round-trips; length and offset encoding agree', () => {
  const m = sample();
  const bytes = encodeMessage(m);
  assert.equal(bytes.length, encodingLength(m));
  assert.deepEqual(decodeMessage(bytes), m);
  // Into a pre-filled external buffer at offset 10: same bytes, nothing else touched.
  const ext = Buffer.alloc(bytes.length + 20, 0xa5);
  const n = encodeMessageInto(m, ext, 10);
  assert.equal(n, bytes.length);
  assert.deepEqual(ext.subarray(10, 10 + n), bytes);
  assert.ok(ext.subarray(0, 10).every((b) => b === 0xa5) && ext.subarray(10 + n).every((b) => b === 0xa5));
  // Re-encoding the decoded value gives the same bytes.
  assert.deepEqual(encodeMessage(decodeMessage(bytes)), bytes);
  // Compression pays: names repeat, so the compressed form is smaller.
  assert.ok(bytes.length < encodeMessage(m, false).length);
  assert.deepEqual(decodeMessage(encodeMessage(m, false)), m);
});

test('extended rcode rides in OPT', () => {
  const m: DnsMessage = { ...emptyMessage(), qr: true, rcode: 16, edns: { udpSize: 512, version: 0, flags: 0, options: new Uint8Array(0) } };
  assert.equal(decodeMessage(encodeMessage(m)).rcode, 16);
  assert.throws(() => encodeMessage({ ...emptyMessage(), rcode: 16 }), { code: 'ERR_WEFT_DNS_ENCODE' });
});

test('names with dots, backslashes and binary bytes in labels round-trip', () => {
  const name = 'a\\.b.c\\\\d.\\000\\255x.Mixed';
  assert.deepEqual(nameLabels(name).map((l) => l.length), [3, 3, 3, 5]);
  const m = { ...emptyMessage(), questions: [question(name, RrType.A)] };
  assert.equal(decodeMessage(encodeMessage(m)).questions[0]!.name, name);
});

// --- malformed input (RFC 9267) ---
function header(qd: number, an = 0, ns = 0, ar = 0): number[] {
  return [0x12, 0x34, 0x01, 0x00, 0, qd, 0, an, 0, ns, 0, ar];
}
function expectCode(bytes: number[], code: string): void {
  assert.throws(() => decodeMessage(Uint8Array.from(bytes)), (e: unknown) => e instanceof DnsDecodeError && e.code === code);
  assert.throws(() => parseQuery(Uint8Array.from(bytes), bytes.length, new QueryInfo()), (e: unknown) => e instanceof DnsDecodeError && e.code === code);
}

test('compression loops and bad pointers are rejected at once', () => {
  expectCode([...header(1), 0xc0, 0x0c, 0, 1, 0, 1], 'ERR_WEFT_DNS_POINTER'); // self pointer
  expectCode([...header(1), 0xc0, 0x0e, 0, 1, 0, 1, 0, 0], 'ERR_WEFT_DNS_POINTER'); // forward pointer
  expectCode([...header(1), 0xc0, 0x02, 0, 1, 0, 1], 'ERR_WEFT_DNS_POINTER'); // into the header
  expectCode([...header(1), 0xc0, 0xff, 0, 1, 0, 1], 'ERR_WEFT_DNS_POINTER'); // past the end
  // label -> pointer cycle: "a" then pointer back to the label itself
  expectCode([...header(1), 1, 0x61, 0xc0, 0x0c, 0, 1, 0, 1], 'ERR_WEFT_DNS_POINTER');
  // two-pointer cycle inside an answer: p1 -> p2 -> p1
  const q = [...header(1, 1), 1, 0x61, 0, 0, 1, 0, 1];
  expectCode([...q, 0xc0, 0x13, 0xc0, 0x11, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4], 'ERR_WEFT_DNS_POINTER');
});

test('label > 63, reserved label types and names > 255 octets are rejected', () => {
  expectCode([...header(1), 64, ...Array(64).fill(0x61), 0, 0, 1, 0, 1], 'ERR_WEFT_DNS_LABEL');
  expectCode([...header(1), 0x40, 0, 0, 1, 0, 1], 'ERR_WEFT_DNS_LABEL');
  expectCode([...header(1), 0x80, 0, 0, 1, 0, 1], 'ERR_WEFT_DNS_LABEL');
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(60, ...Array(60).fill(0x61)); // 305 octets
  expectCode([...header(1), ...long, 0, 0, 1, 0, 1], 'ERR_WEFT_DNS_NAME_LONG');
});

test('lying counts, truncation and empty input', () => {
  assert.throws(() => decodeMessage(new Uint8Array(0)), { code: 'ERR_WEFT_DNS_SHORT' });
  assert.throws(() => decodeMessage(Uint8Array.from([1, 2, 3, 4, 5])), { code: 'ERR_WEFT_DNS_SHORT' });
  assert.throws(() => decodeMessage(Uint8Array.from(header(1, 65535))), { code: 'ERR_WEFT_DNS_COUNT' });
  expectCode([...header(1), 1, 0x61, 1, 0x62, 1], 'ERR_WEFT_DNS_SHORT');
  expectCode([...header(1), 3, 0x61, 0, 0, 0], 'ERR_WEFT_DNS_SHORT');
  assert.throws(() => decodeMessage(Uint8Array.from([...header(1), 0, 0, 1, 0, 1, 9])), { code: 'ERR_WEFT_DNS_TRAILING' });
  // A record whose rdata length disagrees with its type.
  assert.throws(() => decodeMessage(Uint8Array.from([...header(0, 1), 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3])), { code: 'ERR_WEFT_DNS_RDATA' });
});

test('a legal chain of 127 backward pointers decodes', () => {
  // Type 0xff00 (unknown, empty rdata) keeps each record at 12 bytes.
  const bytes = [...header(0, 128), 1, 0x61, 0, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  let prev = 12;
  for (let i = 0; i < 127; i++) {
    const here = bytes.length;
    bytes.push(0xc0 | (prev >> 8), prev & 0xff, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 0);
    prev = here; // each owner points at the previous pointer: a pointer-to-pointer chain
  }
  const m = decodeMessage(Uint8Array.from(bytes));
  assert.equal(m.answers.length, 128);
  assert.ok(m.answers.every((a) => a.name === 'a'));
});

test('EDNS: two OPTs are FORMERR, version 1 is BADVERS, small sizes count as 512', () => {
  const opt = (ver: number, size: number) => [0, 0, 41, size >> 8, size & 0xff, 0, ver, 0, 0, 0, 0];
  const base = [...header(1, 0, 0, 1), 1, 0x61, 0, 0, 1, 0, 1];
  const q = new QueryInfo();
  parseQuery(Uint8Array.from([...base, ...opt(0, 4096)]), base.length + 11, q);
  assert.equal(acceptQuery(q), Accept.OK);
  assert.equal(q.udpSize, 4096);
  assert.equal(q.key, 'a');
  parseQuery(Uint8Array.from([...base, ...opt(1, 4096)]), base.length + 11, q);
  assert.equal(acceptQuery(q), Accept.BADVERS);
  const two = [...header(1, 0, 0, 2), 1, 0x61, 0, 0, 1, 0, 1, ...opt(0, 512), ...opt(0, 512)];
  expectCode(two, 'ERR_WEFT_DNS_OPT');
});

test('query fast path: key is lower-cased, counts judged by acceptQuery', () => {
  const q = new QueryInfo();
  const bytes = encodeMessage({ ...emptyMessage(), id: 7, rd: true, questions: [question('WeB.NetA', RrType.AAAA)] });
  parseQuery(bytes, bytes.length, q);
  assert.equal(q.key, 'web.neta');
  assert.equal(q.qtype, RrType.AAAA);
  assert.equal(q.labels, 2);
  assert.equal(q.questionEnd, bytes.length);
  assert.equal(acceptQuery(q), Accept.OK);
  const resp = encodeMessage({ ...emptyMessage(), qr: true, questions: [question('a', 1)] });
  parseQuery(resp, resp.length, q);
  assert.equal(acceptQuery(q), Accept.IGNORE);
  const two = encodeMessage({ ...emptyMessage(), questions: [question('a', 1), question('b', 1)] });
  parseQuery(two, two.length, q);
  assert.equal(acceptQuery(q), Accept.FORMERR);
  const notify = encodeMessage({ ...emptyMessage(), opcode: 4, questions: [question('a', 1)] });
  parseQuery(notify, notify.length, q);
  assert.equal(acceptQuery(q), Accept.NOTIMP);
});

// --- properties ---
const label = fc.uint8Array({ minLength: 1, maxLength: 12 });
const arbName = fc.array(label, { maxLength: 5 }).map((labels) => {
  const probe = { ...emptyMessage(), questions: [{ name: '', type: 1, class: 1 }] };
  const wire = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), l])), Buffer.from([0])]);
  const buf = Buffer.concat([Buffer.alloc(12), wire]);
  void probe;
  return readName(buf, buf.length, { pos: 12 });
});
const arbRecord: fc.Arbitrary<DnsRecord> = fc.record({
  name: arbName,
  ttl: fc.nat({ max: 0xffffffff }),
  data: fc.oneof(
    fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c, d]) => ({ kind: 'a' as const, address: `${a}.${b}.${c}.${d}` })),
    fc.ipV6().map((a) => ({ kind: 'aaaa' as const, address: a })),
    arbName.map((t) => ({ kind: 'name' as const, target: t })),
    fc.record({ priority: fc.nat(65535), weight: fc.nat(65535), port: fc.nat(65535), target: arbName }).map((s) => ({ kind: 'srv' as const, ...s })),
    fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 3 }).map((strings) => ({ kind: 'txt' as const, strings })),
    fc.uint8Array({ maxLength: 30 }).map((bytes) => ({ kind: 'raw' as const, bytes })),
  ),
}).map(({ name, ttl, data }) => {
  const type = { a: 1, aaaa: 28, name: 5, srv: 33, txt: 16, raw: 65280 }[data.kind as 'a'];
  return { name, type, class: CLASS_IN, ttl, data } as DnsRecord;
});

test('property: encode then decode is the identity; length matches', () => {
  fc.assert(fc.property(fc.nat(65535), fc.array(arbRecord, { maxLength: 6 }), fc.boolean(), arbName, (id, answers, compress, qname) => {
    const m: DnsMessage = { ...emptyMessage(), id, qr: true, questions: [question(qname, 1)], answers };
    // AAAA text is canonicalised by the decoder; compare after one trip.
    const once = decodeMessage(encodeMessage(m, compress));
    const bytes = encodeMessage(once, compress);
    assert.equal(bytes.length, encodingLength(once, compress));
    assert.deepEqual(decodeMessage(bytes), once);
  }), { numRuns: 300 });
});

test('property: arbitrary bytes and mutated messages only ever raise DnsDecodeError', () => {
  const valid = encodeMessage(sample());
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (data) => fuzz(data)), { numRuns: 2000 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(valid.length), (edits, cut) => {
    const b = Uint8Array.from(valid);
    for (const [i, v] of edits) b[i] = v;
    fuzz(b.subarray(0, cut));
  }), { numRuns: 2000 });
});
