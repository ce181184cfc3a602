import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsResolver, MemoryDnsRecords, endpointRecords, parseHostPort, parseHostsFile, serviceRecords } from '../../src/dns/index.js';
import { buildTemplate, writeError, writeFromTemplate } from '../../src/dns/answer.js';
import { RateLimiter } from '../../src/dns/ratelimit.js';
import { ClientScopes } from '../../src/dns/scope.js';
import { ipv4TextToNumber } from '../../src/wire/ip.js';
import { reverseName } from '../../src/dns/reverse.js';
import { QueryInfo, RrType, decodeMessage, emptyMessage, encodeMessage, parseQuery, question } from '../../src/wire/dns/index.js';

function store() {
  const s = new MemoryDnsRecords([
    ...endpointRecords({ network: 'front', name: 'Web', aliases: ['www'], ipv4: '198.18.1.2' }),
    ...endpointRecords({ network: 'back', name: 'web', ipv4: '198.18.2.2', ipv6: '2001:db8::2' }),
    ...serviceRecords({ network: 'front', name: 'api', vip: '198.18.9.1', tasks: ['198.18.1.10', '198.18.1.11'] }),
    ...serviceRecords({ network: 'front', name: 'rr', tasks: ['198.18.1.20', '198.18.1.21', '198.18.1.22'] }),
  ]);
  return s;
}

const names = (r: ReturnType<DnsResolver['resolve']>) =>
  r.kind === 'answer' ? r.answers.map((a) => ('address' in a.data ? a.data.address : 'target' in a.data ? a.data.target : '?')).sort() : r.kind;

test('network scope: first network with the name wins; qualified name.network works', () => {
  const r = new DnsResolver(store());
  assert.deepEqual(names(r.resolve(['front', 'back'], 'web', RrType.A)), ['198.18.1.2']);
  assert.deepEqual(names(r.resolve(['back', 'front'], 'web', RrType.A)), ['198.18.2.2']);
  assert.deepEqual(names(r.resolve(['front', 'back'], 'web.back', RrType.A)), ['198.18.2.2']);
  assert.equal(r.resolve(['front'], 'web.back', RrType.A).kind, 'forward', 'back is not a network of this client');
  assert.equal(r.resolve(['back'], 'www', RrType.A).kind, 'forward');
});

test('Docker rules: AAAA/MX for an existing name is NODATA, other types forward, VIP vs tasks', () => {
  const r = new DnsResolver(store());
  assert.equal(r.resolve(['front'], 'web', RrType.AAAA).kind, 'nodata');
  assert.equal(r.resolve(['front'], 'web', RrType.MX).kind, 'nodata');
  assert.equal(r.resolve(['front'], 'web', RrType.TXT).kind, 'forward');
  assert.equal(r.resolve(['front'], 'nothere', RrType.A).kind, 'forward');
  assert.deepEqual(names(r.resolve(['front'], 'api', RrType.A)), ['198.18.9.1']);
  assert.deepEqual(names(r.resolve(['front'], 'tasks.api', RrType.A)), ['198.18.1.10', '198.18.1.11']);
  assert.deepEqual(names(r.resolve(['front'], 'rr', RrType.A)).length, 3);
  // PTR: container name only (aliases do not get one), target name.network.
  assert.deepEqual(names(r.resolve(['front'], '2.1.18.198.in-addr.arpa', RrType.PTR)), ['web.front']);
  assert.deepEqual(names(r.resolve(['back'], reverseName('2001:db8::2'), RrType.PTR)), ['web.back']);
  assert.equal(r.resolve(['front'], '10.1.18.198.in-addr.arpa', RrType.PTR).kind, 'forward', 'task IPs have no PTR here');
});

test('a PTR target longer than a DNS name allows gives SERVFAIL (moby#46928)', () => {
  const s = new MemoryDnsRecords([{ network: 'n'.repeat(64), name: 'c', type: 'A', address: '198.18.3.3', ptr: true }]);
  const r = new DnsResolver(s);
  assert.equal(r.resolve(['n'.repeat(64)], '3.3.18.198.in-addr.arpa', RrType.PTR).kind, 'servfail');
});

test('store: idempotent add/remove, validation, version bumps invalidate the index', () => {
  const s = new MemoryDnsRecords();
  const r = new DnsResolver(s);
  assert.equal(s.add({ network: 'a', name: 'X', type: 'A', address: '198.18.0.9' }), true);
  assert.equal(s.add({ network: 'a', name: 'x', type: 'A', address: '198.18.0.9' }), false);
  assert.deepEqual(names(r.resolve(['a'], 'x', RrType.A)), ['198.18.0.9']);
  assert.equal(s.remove({ network: 'a', name: 'x', type: 'A', address: '198.18.0.9' }), true);
  assert.equal(s.remove({ network: 'a', name: 'x', type: 'A', address: '198.18.0.9' }), false);
  assert.equal(r.resolve(['a'], 'x', RrType.A).kind, 'forward');
  assert.throws(() => s.add({ network: 'a', name: 'a..b', type: 'A', address: '1.2.3.4' }), { code: 'ERR_WEFT_DNS_RECORD' });
  assert.throws(() => s.add({ network: 'a', name: 'ok', type: 'A', address: '1.2.3.999' }), { code: 'ERR_WEFT_DNS_RECORD' });
  assert.throws(() => s.add({ network: 'a', name: 'x'.repeat(64), type: 'A', address: '1.2.3.4' }), { code: 'ERR_WEFT_DNS_RECORD' });
});

test('templates: ID, RD and question case patched; rotation; OPT appended; TC when too big', () => {
  const r = new DnsResolver(store());
  const tpl = buildTemplate('rr', RrType.A, 1, r.resolve(['front'], 'rr', RrType.A));
  const q = new QueryInfo();
  const query = encodeMessage({ ...emptyMessage(), id: 4242, rd: true, questions: [question('Rr', RrType.A)], edns: { udpSize: 4096, version: 0, flags: 0, options: new Uint8Array(0) } });
  parseQuery(query, query.length, q);
  const out = Buffer.alloc(600, 0xa5);
  const firsts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const n = writeFromTemplate(tpl, query, q, out, 0, 1232, 1232);
    const m = decodeMessage(out, n);
    assert.equal(m.id, 4242);
    assert.ok(m.rd && m.ra && m.qr && !m.aa);
    assert.equal(m.questions[0]!.name, 'Rr');
    assert.equal(m.answers.length, 3);
    assert.equal(m.edns?.udpSize, 1232);
    firsts.push((m.answers[0]!.data as { address: string }).address);
  }
  assert.equal(new Set(firsts).size, 3, 'each query starts with the next address');
  const n = writeFromTemplate(tpl, query, q, out, 0, 40, 1232);
  const t = decodeMessage(out, n);
  assert.ok(t.tc);
  assert.equal(t.answers.length, 0);
  // FORMERR: bare header, never larger than the query.
  const e = writeError(query, undefined, 1, out, 0, 1232);
  assert.equal(e, 12);
  assert.equal(decodeMessage(out, e).rcode, 1);
});

test('client scopes: subnets choose networks; outsiders get nothing', () => {
  const sc = new ClientScopes([{ name: 'front', clients: ['198.18.1.0/24'] }, { name: 'back', clients: ['198.18.2.0/24', 'fd00::/64'] }, 'shared']);
  assert.deepEqual(sc.forIPv4(ipv4TextToNumber('198.18.1.5'))?.networks, ['front', 'shared']);
  assert.deepEqual(sc.forAddress('::ffff:198.18.2.5')?.networks, ['back', 'shared']);
  assert.deepEqual(sc.forAddress('fd00::7')?.networks, ['back', 'shared']);
  const closed = new ClientScopes([{ name: 'front', clients: ['198.18.1.0/24'] }]);
  assert.equal(closed.forIPv4(ipv4TextToNumber('198.18.3.1')), undefined);
  const allow = new ClientScopes(['front'], ['127.0.0.0/8']);
  assert.equal(allow.forIPv4(ipv4TextToNumber('198.18.3.1')), undefined);
  assert.ok(allow.forIPv4(ipv4TextToNumber('127.0.0.11')));
});

test('client scopes: IPv6 subnets match on prefix bits, not bytes', () => {
  const sc = new ClientScopes([{ name: 'odd', clients: ['fd00:0:0:2::/63'] }, { name: 'host', clients: ['fd00::1/128'] }, { name: 'any', clients: ['::/0'] }]);
  assert.deepEqual(sc.forAddress('fd00:0:0:3::9')?.networks, ['odd', 'any']);
  assert.deepEqual(sc.forAddress('fd00:0:0:4::9')?.networks, ['any']);
  assert.deepEqual(sc.forAddress('fd00::1')?.networks, ['host', 'any']);
  // Host bits in the configured subnet are ignored, as the kernel does for a route.
  const loose = new ClientScopes([{ name: 'n', clients: ['fd00::1ff/120'] }]);
  assert.deepEqual(loose.forAddress('fd00::100')?.networks, ['n']);
  assert.equal(loose.forAddress('fd00::200'), undefined);
  // A link-local client carries its zone; not an address: nobody's client.
  assert.ok(new ClientScopes(['n'], ['fe80::/10']).forAddress('fe80::1%eth0'));
  assert.equal(new ClientScopes(['n'], ['fd00::/8']).forAddress('not-an-ip'), undefined);
});

test('rate limiter: burst then refill; memory bounded', () => {
  const rl = new RateLimiter(10, 5, 100);
  let ok = 0;
  for (let i = 0; i < 20; i++) if (rl.allow(1, 0)) ok++;
  assert.equal(ok, 5);
  assert.equal(rl.allow(1, 1000), true);
  for (let i = 0; i < 1000; i++) rl.allow(`c${i}`, 2000);
  assert.ok(rl.clients <= 100);
});

test('hosts file and host:port parsing', () => {
  const { records, warnings } = parseHostsFile('# c\n198.18.1.2 web www\n198.18.1.3 web\n2001:db8::1 six\nnot-ip x\n', 'n');
  assert.equal(records.length, 4);
  assert.equal(warnings.length, 1);
  assert.deepEqual(records.filter((r) => r.name === 'web').map((r) => (r as { address: string }).address), ['198.18.1.2', '198.18.1.3']);
  assert.deepEqual(parseHostPort('198.18.0.1'), { address: '198.18.0.1', port: 53 });
  assert.deepEqual(parseHostPort('198.18.0.1:5353'), { address: '198.18.0.1', port: 5353 });
  assert.deepEqual(parseHostPort('[::1]:54'), { address: '::1', port: 54 });
  assert.throws(() => parseHostPort('example.com'), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
});
