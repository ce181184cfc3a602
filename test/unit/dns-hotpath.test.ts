/**
 * The UDP hit path without sockets: queries parsed in place at an offset of
 * a shared receive buffer, looked up by wire-name hash, answered from a
 * template into a send slot; and that this allocates nothing per query.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { DnsResolver, MemoryDnsRecords, endpointRecords } from '../../src/dns/index.js';
import { AnswerCache } from '../../src/dns/answer-cache.js';
import { buildTemplate, writeError, writeFromTemplate, type Template } from '../../src/dns/answer.js';
import { median } from '../../bench/lib.js';
import {
  DnsDecodeError, QueryInfo, RrType, decodeMessage, emptyMessage, encodeMessage, parseQuery, question,
} from '../../src/wire/dns/index.js';

const q = (id: number, name: string, type: number = RrType.A, edns = false) => encodeMessage({
  ...emptyMessage(), id, rd: true, questions: [question(name, type)],
  ...(edns ? { edns: { udpSize: 1232, version: 0, flags: 0, options: new Uint8Array(0) } } : {}),
});

test('parseQuery at an offset: same fields as at 0, hash ignores ASCII case, key built on demand', () => {
  const a = new QueryInfo();
  const b = new QueryInfo();
  const m1 = q(7, 'Web.Front', RrType.AAAA, true);
  const m2 = q(8, 'wEB.fRONT', RrType.AAAA, true);
  const buf = Buffer.alloc(4096, 0xee);
  m1.copy(buf, 1000);
  parseQuery(buf, m1.length, a, 1000);
  parseQuery(m2, m2.length, b);
  assert.equal(a.id, 7);
  assert.equal(a.qtype, RrType.AAAA);
  assert.equal(a.nameEnd, 12 + 11);
  assert.equal(a.questionEnd, a.nameEnd + 4);
  assert.equal(a.labels, 2);
  assert.ok(a.hasEdns);
  assert.equal(a.nameHash, b.nameHash);
  assert.equal(a.key, 'web.front');
  const c = new QueryInfo();
  const m3 = q(9, 'web.back');
  parseQuery(m3, m3.length, c);
  assert.notEqual(c.nameHash, a.nameHash);
  // A pointer in the question is FORMERR material wherever the message sits.
  const bad = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]);
  const at = Buffer.alloc(64);
  bad.copy(at, 20);
  assert.throws(() => parseQuery(at, bad.length, new QueryInfo(), 20), (e: unknown) => e instanceof DnsDecodeError && e.code === 'ERR_WEFT_DNS_POINTER');
  // Pointers in later records are message offsets: one pointing past itself is refused wherever the message sits.
  const fwd = Buffer.concat([q(1, 'a'), Buffer.from([0xc0, 50, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])]);
  fwd[11] = 1;
  const at2 = Buffer.alloc(200);
  fwd.copy(at2, 100);
  assert.throws(() => parseQuery(at2, fwd.length, new QueryInfo(), 100), (e: unknown) => e instanceof DnsDecodeError && e.code === 'ERR_WEFT_DNS_POINTER');
});

test('AnswerCache: hit by bytes regardless of case, type and class separate, survives growth', () => {
  const cache = new AnswerCache();
  const info = new QueryInfo();
  const put = (name: string, type: number, v: 'forward' | 'servfail') => {
    const m = q(1, name, type);
    parseQuery(m, m.length, info);
    cache.set(m, 12, info.nameEnd - 12, info.nameHash, info.qtype, info.qclass, v);
  };
  const get = (name: string, type: number) => {
    const m = q(1, name, type);
    parseQuery(m, m.length, info);
    return cache.get(m, 12, info.nameEnd - 12, info.nameHash, info.qtype, info.qclass);
  };
  for (let i = 0; i < 500; i++) put(`n${i}.net`, RrType.A, i % 2 ? 'forward' : 'servfail');
  assert.equal(cache.size, 500);
  for (let i = 0; i < 500; i++) assert.equal(get(`N${i}.NET`, RrType.A), i % 2 ? 'forward' : 'servfail');
  assert.equal(get('n1.net', RrType.AAAA), undefined);
  assert.equal(get('n1.ne', RrType.A), undefined);
  assert.equal(get('n1.nets', RrType.A), undefined);
  cache.clear();
  assert.equal(get('n1.net', RrType.A), undefined);
});

test('writeFromTemplate and writeError from a query at an offset', () => {
  const r = new DnsResolver(new MemoryDnsRecords(endpointRecords({ network: 'front', name: 'web', ipv4: '198.18.1.2' })));
  const tpl = buildTemplate('web', RrType.A, 1, r.resolve(['front'], 'web', RrType.A));
  const m = q(0xbeef, 'WeB', RrType.A, true);
  const inBuf = Buffer.alloc(2048);
  m.copy(inBuf, 512);
  const info = new QueryInfo();
  parseQuery(inBuf, m.length, info, 512);
  const out = Buffer.alloc(4096, 0xa5);
  const n = writeFromTemplate(tpl, inBuf, info, out, 1232, 1232, 1232, 512);
  const msg = decodeMessage(out.subarray(1232, 1232 + n));
  assert.equal(msg.id, 0xbeef);
  assert.equal(msg.questions[0]!.name, 'WeB');
  assert.deepEqual(msg.answers.map((a) => (a.data as { address: string }).address), ['198.18.1.2']);
  const e = writeError(inBuf, info, 2, out, 0, 1232, 512);
  const em = decodeMessage(out.subarray(0, e));
  assert.equal(em.rcode, 2);
  assert.equal(em.id, 0xbeef);
  assert.equal(em.questions[0]!.name, 'WeB');
});

test('the hit path (parse, cache lookup, template write) allocates nothing per query', () => {
  const recs = new MemoryDnsRecords();
  for (let i = 0; i < 100; i++) for (const r of endpointRecords({ network: 'n', name: `svc${i}`, ipv4: `198.18.100.${i}` })) recs.add(r);
  const resolver = new DnsResolver(recs);
  const cache = new AnswerCache();
  // A receive buffer of 64 slots holding real queries, as recvmmsg leaves it.
  const SLOT = 512;
  const rx = Buffer.alloc(64 * SLOT);
  const lens: number[] = [];
  for (let i = 0; i < 64; i++) {
    const m = q(i, `SVC${i % 100}`, RrType.A, i % 2 === 0);
    m.copy(rx, i * SLOT);
    lens.push(m.length);
  }
  const tx = Buffer.alloc(64 * 1232);
  const info = new QueryInfo();
  const round = () => {
    let bytes = 0;
    for (let i = 0; i < 64; i++) {
      const off = i * SLOT;
      parseQuery(rx, lens[i]!, info, off);
      let v = cache.get(rx, off + 12, info.nameEnd - 12, info.nameHash, info.qtype, info.qclass);
      if (v === undefined) {
        v = buildTemplate(info.key, info.qtype, info.qclass, resolver.resolve(['n'], info.key, info.qtype));
        cache.set(rx, off + 12, info.nameEnd - 12, info.nameHash, info.qtype, info.qclass, v);
      }
      bytes += writeFromTemplate(v as Template, rx, info, tx, i * 1232, 1232, 1232, off);
    }
    return bytes;
  };
  for (let i = 0; i < 2000; i++) round(); // warm up and let the JIT settle
  const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;
  const perQuery: number[] = [];
  for (let w = 0; w < 21; w++) {
    const before = newSpace();
    for (let i = 0; i < 200; i++) round();
    const after = newSpace();
    if (after >= before) perQuery.push((after - before) / (200 * 64)); // a scavenge in the window makes it negative: skip
  }
  assert.ok(perQuery.length >= 5, 'enough windows without a scavenge');
  // Strings or views per query would be 50+ bytes each; allow a little noise from the test harness.
  assert.ok(median(perQuery) < 2, `bytes allocated per query: ${median(perQuery)}`);
  if (process.env.WEFT_DEBUG) console.log(`# bytes per query ${median(perQuery)}`);
});
