/**
 * What clients check in an answer (issue 13 item 8): owner names equal to
 * the question (qualified names too, in the question's case, rotated),
 * network domains for `name.network` and PTR targets, the DO bit, partial
 * answers under TC, CNAME chains leaving the local names, EDNS options
 * edited hop by hop, and zone transfers refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DnsResolver, MemoryDnsRecords, endpointRecords, serviceRecords } from '../../src/dns/index.js';
import { buildTemplate, writeError, writeFromTemplate, writeTruncatedReply } from '../../src/dns/answer.js';
import {
  Accept, EDNS_DO, OPTION_COOKIE, QueryInfo, RrType, acceptQuery, decodeMessage, emptyMessage, encodeMessage,
  messageLayout, parseQuery, question, setOptUdpSize, withoutOption, type DnsMessage,
} from '../../src/wire/dns/index.js';

const store = () => {
  const s = new MemoryDnsRecords();
  for (const r of endpointRecords({ network: 'netid0', name: 'web', ipv4: '198.18.1.2', ipv6: '2001:db8::2' })) s.add(r);
  for (const r of serviceRecords({ network: 'netid0', name: 'rr', tasks: ['198.18.1.20', '198.18.1.21', '198.18.1.22'] })) s.add(r);
  s.add({ network: 'netid0', name: 'alias', type: 'CNAME', target: 'web' });
  s.add({ network: 'netid0', name: 'out', type: 'CNAME', target: 'db.corp.test' });
  s.add({ network: 'netid0', name: 'hop', type: 'CNAME', target: 'out' });
  s.add({ network: 'netid0', name: 'web', type: 'TXT', text: ['hello'] });
  s.add({ network: 'netid0', name: '_http._tcp.web', type: 'SRV', priority: 1, weight: 5, port: 80, target: 'web' });
  return s;
};

function query(name: string, type: number, opts: { id?: number; edns?: { udpSize?: number; flags?: number; options?: Uint8Array } } = {}): Buffer {
  const m: DnsMessage = { ...emptyMessage(), id: opts.id ?? 7, rd: true, questions: [question(name, type)] };
  if (opts.edns) m.edns = { udpSize: opts.edns.udpSize ?? 1232, version: 0, flags: opts.edns.flags ?? 0, options: opts.edns.options ?? new Uint8Array(0) };
  return encodeMessage(m);
}

/** The answer the listener's template path gives `name` asked as spelled, decoded. */
function ask(r: DnsResolver, networks: string[], name: string, type: number, opts: Parameters<typeof query>[2] & { limit?: number } = {}) {
  const bytes = query(name, type, opts);
  const q = new QueryInfo();
  parseQuery(bytes, bytes.length, q);
  const res = r.resolve(networks, q.key, type);
  assert.equal(res.kind, 'answer', `${name} ${type}: ${res.kind}`);
  const tpl = buildTemplate(q.key, type, 1, res);
  const out = Buffer.alloc(4096);
  const n = writeFromTemplate(tpl, bytes, q, out, 0, opts.limit ?? 1232, 1232);
  return { msg: decodeMessage(out, n), tpl, bytes, q, out, n };
}

test('a qualified question gets answers owned by itself, in its own case; CNAME, SRV, TXT too', () => {
  const r = new DnsResolver(store());
  for (const [name, type] of [['Web.NetID0', RrType.A], ['web.netid0', RrType.AAAA], ['WEB.netid0', RrType.TXT], ['_http._tcp.Web.netid0', RrType.SRV], ['Alias.NETID0', RrType.CNAME]] as const) {
    const { msg, out } = ask(r, ['netid0'], name, type);
    assert.ok(msg.answers.length > 0);
    assert.equal(msg.answers[0]!.name, name, `${name}: owner is the question`);
    // Compressed to the question: the bytes after it point at offset 12.
    const qe = 12 + name.length + 2 + 4;
    assert.deepEqual([out[qe], out[qe + 1]], [0xc0, 0x0c]);
  }
  // A chain: the first CNAME owned by the question, then the target's records.
  const { msg } = ask(r, ['netid0'], 'ALIAS.netid0', RrType.A);
  assert.deepEqual(msg.answers.map((a) => `${a.name} ${a.type}`), ['ALIAS.netid0 5', 'web 1']);
  // PTR targets and short names keep their form.
  assert.deepEqual(ask(r, ['netid0'], 'web', RrType.A).msg.answers.map((a) => a.name), ['web']);
});

test('qualified names rotate like short names', () => {
  const r = new DnsResolver(store());
  const bytes = query('RR.netid0', RrType.A);
  const q = new QueryInfo();
  parseQuery(bytes, bytes.length, q);
  const tpl = buildTemplate(q.key, RrType.A, 1, r.resolve(['netid0'], q.key, RrType.A));
  assert.equal(tpl.rotCount, 3);
  const firsts = new Set<string>();
  const out = Buffer.alloc(1232);
  for (let i = 0; i < 3; i++) {
    const m = decodeMessage(out, writeFromTemplate(tpl, bytes, q, out, 0, 1232, 1232));
    assert.ok(m.answers.every((a) => a.name === 'RR.netid0'));
    firsts.add((m.answers[0]!.data as { address: string }).address);
  }
  assert.equal(firsts.size, 3);
});

test('a network domain qualifies names and PTR targets (records stay under the network ID)', () => {
  const r = new DnsResolver(store());
  const ptrOf = () => {
    const res = r.resolve(['netid0'], '2.1.18.198.in-addr.arpa', RrType.PTR);
    return res.kind === 'answer' ? (res.answers[0]!.data as { target: string }).target : res.kind;
  };
  assert.equal(ptrOf(), 'web.netid0');
  assert.equal(r.resolve(['netid0'], 'web.mynet', RrType.A).kind, 'forward');
  const v = r.version;
  r.setDomain('netid0', 'MyNet');
  assert.notEqual(r.version, v, 'caches built on the old domain are dropped');
  assert.equal(ptrOf(), 'web.mynet');
  assert.equal(ask(r, ['netid0'], 'Web.MyNet', RrType.A).msg.answers[0]!.name, 'Web.MyNet');
  assert.equal(r.resolve(['netid0'], 'web.netid0', RrType.A).kind, 'answer', 'the ID still qualifies');
  assert.equal(r.resolve(['other'], 'web.mynet', RrType.A).kind, 'forward', 'a client of another network does not see it');
  r.setDomain('netid0', undefined);
  assert.equal(ptrOf(), 'web.netid0');
});

test('the DO bit is copied into every OPT we write (RFC 3225)', () => {
  const r = new DnsResolver(store());
  assert.equal(ask(r, ['netid0'], 'web', RrType.A, { edns: { flags: EDNS_DO } }).msg.edns?.flags, EDNS_DO);
  assert.equal(ask(r, ['netid0'], 'web', RrType.A, { edns: { flags: 0 } }).msg.edns?.flags, 0);
  const big = ask(r, ['netid0'], 'rr', RrType.A, { edns: { flags: EDNS_DO }, limit: 12 + 7 + 11 + 16 });
  assert.ok(big.msg.tc);
  assert.equal(big.msg.edns?.flags, EDNS_DO);
  const bytes = query('x', RrType.A, { edns: { flags: EDNS_DO } });
  const q = new QueryInfo();
  parseQuery(bytes, bytes.length, q);
  const out = Buffer.alloc(512);
  assert.equal(decodeMessage(out, writeError(bytes, q, 2, out, 0, 1232)).edns?.flags, EDNS_DO);
});

test('an answer over the UDP size keeps the whole records that fit, rotated, with TC', () => {
  const s = new MemoryDnsRecords();
  const addrs = Array.from({ length: 40 }, (_, i) => `198.18.7.${i + 1}`);
  for (const r of serviceRecords({ network: 'n', name: 'many', tasks: addrs })) s.add(r);
  const r = new DnsResolver(s);
  const first = ask(r, ['n'], 'Many', RrType.A, { limit: 512 });
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const n = writeFromTemplate(first.tpl, first.bytes, first.q, first.out, 0, 512, 1232);
    const msg = decodeMessage(first.out, n);
    assert.ok(msg.tc, 'TC set');
    assert.ok(n <= 512);
    assert.equal(msg.answers.length, Math.floor((512 - 12 - 10) / 16));
    assert.ok(msg.answers.every((a) => a.name === 'Many' && addrs.includes((a.data as { address: string }).address)));
    seen.add((msg.answers[0]!.data as { address: string }).address);
  }
  assert.equal(seen.size, 3, 'truncated answers rotate too');
  // Everything fits: no TC.
  assert.ok(!ask(r, ['n'], 'many', RrType.A, { limit: 1232 }).msg.tc);
  // SRV whose glue does not fit: the answer stays whole, no TC, glue dropped.
  const srv = ask(new DnsResolver(store()), ['netid0'], '_http._tcp.web', RrType.SRV, { limit: 12 + 20 + 4 + 30 });
  assert.equal(srv.msg.answers.length, 1);
  assert.equal(srv.msg.additionals.length, 0);
  assert.ok(!srv.msg.tc);
});

test('a forwarded reply over the client size is cut after the last answer that fits', () => {
  const answers = Array.from({ length: 60 }, (_, i) => ({ name: 'big.example', type: RrType.A, class: 1, ttl: 60, data: { kind: 'a' as const, address: `198.18.8.${i}` } }));
  const reply = encodeMessage({
    ...emptyMessage(), id: 9, qr: true, rd: true, ra: true, questions: [question('big.example', RrType.A)], answers,
    authorities: [{ name: 'example', type: RrType.NS, class: 1, ttl: 60, data: { kind: 'name', target: 'ns.example' } }],
    edns: { udpSize: 4096, version: 0, flags: EDNS_DO, options: new Uint8Array(0) },
  });
  const q = query('big.example', RrType.A, { id: 9, edns: { flags: EDNS_DO } });
  const info = new QueryInfo();
  parseQuery(q, q.length, info);
  const out = Buffer.alloc(1232);
  const n = writeTruncatedReply(reply, q, { qdcount: 1, questionEnd: info.questionEnd, hasEdns: true, ednsFlags: EDNS_DO }, out, 0, 512, 1232);
  assert.ok(n <= 512);
  const m = decodeMessage(out, n);
  assert.ok(m.tc);
  assert.equal(m.id, 9);
  assert.ok(m.answers.length > 20);
  assert.deepEqual(m.answers.map((a) => (a.data as { address: string }).address), answers.slice(0, m.answers.length).map((a) => a.data.address));
  assert.equal(m.authorities.length, 0);
  assert.equal(m.edns?.udpSize, 1232);
  assert.equal(m.edns?.flags, EDNS_DO);
  // Garbage from upstream: the question alone, TC.
  const junk = Buffer.from(reply.subarray(0, 40));
  const j = decodeMessage(out, writeTruncatedReply(junk, q, { qdcount: 1, questionEnd: info.questionEnd, hasEdns: true }, out, 0, 512, 1232));
  assert.ok(j.tc);
  assert.equal(j.answers.length, 0);
});

test('a CNAME leaving the local names is a chase with the local chain; a local loop is answered', () => {
  const s = store();
  s.add({ network: 'netid0', name: 'loop1', type: 'CNAME', target: 'loop2' });
  s.add({ network: 'netid0', name: 'loop2', type: 'CNAME', target: 'loop1' });
  const r = new DnsResolver(s);
  const res = r.resolve(['netid0'], 'hop.netid0', RrType.A);
  assert.equal(res.kind, 'chase');
  if (res.kind !== 'chase') return;
  assert.equal(res.target, 'db.corp.test');
  assert.deepEqual(res.chain.map((c) => `${c.name}>${(c.data as { target: string }).target}`), ['hop.netid0>out', 'out>db.corp.test']);
  assert.equal(r.resolve(['netid0'], 'loop1', RrType.A).kind, 'answer');
  assert.equal(r.resolve(['netid0'], 'out', RrType.CNAME).kind, 'answer', 'asking for the CNAME itself is local');
});

test('EDNS options hop by hop: cookie removed, other options and the UDP size edited in place', () => {
  const opt = (code: number, value: number[]) => [code >> 8, code & 0xff, 0, value.length, ...value];
  const cookie = opt(OPTION_COOKIE, [1, 2, 3, 4, 5, 6, 7, 8]);
  const padding = opt(12, [0, 0]);
  const withCookie = query('ext.example', RrType.A, { edns: { flags: EDNS_DO, options: new Uint8Array([...padding, ...cookie]) } });
  const stripped = withoutOption(withCookie, OPTION_COOKIE);
  const m = decodeMessage(stripped);
  assert.deepEqual([...m.edns!.options], padding);
  assert.equal(m.edns!.flags, EDNS_DO);
  assert.equal(stripped.length, withCookie.length - cookie.length);
  const plain = query('ext.example', RrType.A);
  assert.equal(withoutOption(plain, OPTION_COOKIE), plain, 'nothing to strip: the same bytes');
  const reply = query('ext.example', RrType.A, { edns: { udpSize: 4096 } });
  assert.ok(setOptUdpSize(reply, 1232));
  assert.equal(decodeMessage(reply).edns!.udpSize, 1232);
  assert.equal(setOptUdpSize(plain, 1232), false);
  const l = messageLayout(withCookie);
  assert.equal(l.opt, l.starts[0]);
});

test('zone transfers are refused; other types pass', () => {
  const q = new QueryInfo();
  for (const [type, want] of [[252, Accept.REFUSED], [251, Accept.REFUSED], [RrType.A, Accept.OK], [RrType.ANY, Accept.OK]] as const) {
    const b = query('netid0', type);
    parseQuery(b, b.length, q);
    assert.equal(acceptQuery(q), want, `type ${type}`);
  }
});

test('property: layout, option removal and truncation agree with the decoder', () => {
  const name = fc.constantFrom('a.example', 'b.example', 'A.Example', 'x');
  const rec = fc.tuple(name, fc.nat(255), fc.boolean()).map(([n, i, txt]) => (txt
    ? { name: n, type: RrType.TXT, class: 1, ttl: 5, data: { kind: 'txt' as const, strings: [new Uint8Array(i % 60)] } }
    : { name: n, type: RrType.A, class: 1, ttl: 5, data: { kind: 'a' as const, address: `198.18.${i}.1` } }));
  const option = fc.tuple(fc.constantFrom(OPTION_COOKIE, 12, 15), fc.uint8Array({ maxLength: 20 }));
  fc.assert(fc.property(fc.array(rec, { maxLength: 40 }), fc.array(rec, { maxLength: 3 }), fc.option(fc.array(option, { maxLength: 3 })), fc.integer({ min: 40, max: 1232 }),
    (answers, authorities, options, limit) => {
      const opts = options ? Buffer.concat(options.map(([c, v]) => Buffer.concat([Buffer.from([c >> 8, c & 0xff, 0, v.length]), v]))) : undefined;
      const m: DnsMessage = {
        ...emptyMessage(), id: 3, qr: true, questions: [question('a.example', RrType.A)], answers, authorities,
        ...(opts ? { edns: { udpSize: 4096, version: 0, flags: 0, options: new Uint8Array(opts) } } : {}),
      };
      const bytes = encodeMessage(m);
      const l = messageLayout(bytes);
      assert.equal(l.starts.length - 1, answers.length + authorities.length + (opts ? 1 : 0));
      assert.equal(l.starts[l.starts.length - 1], bytes.length);
      const stripped = decodeMessage(withoutOption(bytes, OPTION_COOKIE));
      assert.deepEqual(stripped.answers, decodeMessage(bytes).answers);
      if (options) {
        const kept = options.filter(([c]) => c !== OPTION_COOKIE);
        assert.deepEqual([...stripped.edns!.options], [...Buffer.concat(kept.map(([c, v]) => Buffer.concat([Buffer.from([c >> 8, c & 0xff, 0, v.length]), v])))]);
      }
      const q = query('a.example', RrType.A, opts ? { edns: {} } : {});
      const info = new QueryInfo();
      parseQuery(q, q.length, info);
      const out = Buffer.alloc(1232);
      const n = writeTruncatedReply(bytes, q, { qdcount: 1, questionEnd: info.questionEnd, hasEdns: info.hasEdns }, out, 0, limit, 1232);
      assert.ok(n <= Math.max(limit, info.questionEnd + 11));
      const t = decodeMessage(out, n);
      assert.deepEqual(t.answers, decodeMessage(bytes).answers.slice(0, t.answers.length));
      assert.equal(t.tc, t.answers.length < answers.length);
    }), { numRuns: 300 });
});
