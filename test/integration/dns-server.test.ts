/**
 * The embedded DNS in lab namespaces, queried with dig/kdig and raw packets:
 * record kinds, Docker's rules, round robin, scoping by client subnet,
 * forwarding to a fake upstream (another weft listener in the lab), upstream
 * timeout -> SERVFAIL, truncation -> TCP, and malformed input.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { have } from '../support/exec.js';
import { UdpSocket } from '../../src/io/udp.js';
import { DnsService, endpointRecords, serviceRecords } from '../../src/dns/index.js';
import { connectTcp } from '../../src/io/tcp.js';
import { emptyMessage, encodeMessage, question } from '../../src/wire/dns/message.js';

const skip = rootSkipReason() ?? (process.env.WEFT_NO_DIG ? 'WEFT_NO_DIG set' : undefined);
if (skip) console.log(`# skipping dns-server: ${skip}`);

describe('embedded DNS in a lab', { skip }, () => {
  let lab: Lab;
  let srv: LabHost; // 198.18.0.1: weft under test
  let c1: LabHost; // 198.18.0.2: client on network "front"
  let c2: LabHost; // 198.18.0.3: client on network "back"
  let up: LabHost; // 198.18.0.4: fake upstream (weft) on :53
  let mute: LabHost; // 198.18.0.5: an upstream that never answers
  const services: DnsService[] = [];
  let dns: DnsService;
  let muteSock: UdpSocket | undefined;
  let hasKdig = false;

  before(async () => {
    lab = await Lab.create();
    srv = await lab.host('srv');
    c1 = await lab.host('c1');
    c2 = await lab.host('c2');
    up = await lab.host('up');
    mute = await lab.host('mute');
    hasKdig = await have('kdig');
    // Fake upstream: answers ext.example, big TXT (only over TCP: UDP limit 512), NXDOMAIN-less SERVFAIL otherwise.
    const upstream = new DnsService({ upstreams: [], maxUdpResponse: 512, rateLimit: null });
    services.push(upstream);
    upstream.addRecord({ network: 'ext', name: 'ext.example', type: 'A', address: '198.18.50.1' });
    for (let i = 0; i < 12; i++) upstream.addRecord({ network: 'ext', name: 'big.example', type: 'TXT', text: [`${i}-${'x'.repeat(80)}`] });
    await upstream.listen({ netns: up.netns, address: up.address, networks: ['ext'] });
    // A socket that swallows queries: the silent upstream.
    muteSock = UdpSocket.open({ netns: mute.netns, address: mute.address, port: 53 });

    dns = new DnsService({ upstreams: [{ address: up.address, port: 53 }], rateLimit: null });
    services.push(dns);
    for (const r of endpointRecords({ network: 'front', name: 'web', aliases: ['www'], ipv4: '198.18.1.2', ipv6: '2001:db8::2' })) dns.addRecord(r);
    for (const r of endpointRecords({ network: 'front', name: 'v4only', ipv4: '198.18.1.3' })) dns.addRecord(r);
    for (const r of endpointRecords({ network: 'back', name: 'db', ipv4: '198.18.2.2' })) dns.addRecord(r);
    for (const r of serviceRecords({ network: 'front', name: 'api', vip: '198.18.9.1', tasks: ['198.18.1.10', '198.18.1.11', '198.18.1.12'] })) dns.addRecord(r);
    for (const r of serviceRecords({ network: 'front', name: 'rr', tasks: ['198.18.1.20', '198.18.1.21', '198.18.1.22', '198.18.1.23'] })) dns.addRecord(r);
    dns.addRecord({ network: 'front', name: 'alias-of-web', type: 'CNAME', target: 'web' });
    dns.addRecord({ network: 'front', name: 'web', type: 'TXT', text: ['hello'] });
    dns.addRecord({ network: 'front', name: '_http._tcp.web', type: 'SRV', priority: 1, weight: 5, port: 8080, target: 'web' });
    await dns.listen({
      netns: srv.netns, address: srv.address,
      networks: [{ name: 'front', clients: [`${c1.address}/32`] }, { name: 'back', clients: [`${c2.address}/32`] }],
    });
  });

  after(async () => {
    muteSock?.close();
    for (const s of services) await s.close();
    await lab?.destroy();
  });

  const dig = (h: LabHost, ...args: string[]) => h.exec(['dig', '+tries=1', '+time=3', `@${srv.address}`, ...args]);
  const short = async (h: LabHost, ...args: string[]) => (await dig(h, '+short', ...args)).trim().split('\n').filter(Boolean).sort();
  const status = async (h: LabHost, ...args: string[]) => /status: (\w+)/.exec(await dig(h, ...args))?.[1];

  it('answers container names, aliases, case-insensitively, with TTL 600', async () => {
    assert.deepEqual(await short(c1, 'web', 'A'), ['198.18.1.2']);
    assert.deepEqual(await short(c1, 'WwW', 'A'), ['198.18.1.2']);
    assert.deepEqual(await short(c1, 'web', 'AAAA'), ['2001:db8::2']);
    assert.deepEqual(await short(c1, 'web.front', 'A'), ['198.18.1.2']);
    const out = await dig(c1, '+noall', '+answer', 'web', 'A');
    assert.match(out, /\b600\s+IN\s+A\s+198\.18\.1\.2/);
  });

  it('services: VIP for the name, every task for tasks.<name>, all tasks when there is no VIP', async () => {
    assert.deepEqual(await short(c1, 'api'), ['198.18.9.1']);
    assert.deepEqual(await short(c1, 'tasks.api'), ['198.18.1.10', '198.18.1.11', '198.18.1.12']);
    assert.deepEqual(await short(c1, 'rr'), ['198.18.1.20', '198.18.1.21', '198.18.1.22', '198.18.1.23']);
  });

  it('rotates multi-address answers (round robin)', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 6; i++) firsts.add((await dig(c1, '+short', 'rr')).trim().split('\n')[0]!);
    assert.ok(firsts.size > 1, `first answer never changed: ${[...firsts]}`);
  });

  it('PTR for endpoint names only, SRV with glue, TXT, CNAME chased locally', async () => {
    assert.deepEqual(await short(c1, '-x', '198.18.1.2'), ['web.front.']);
    assert.deepEqual(await short(c1, '-x', '2001:db8::2'), ['web.front.']);
    assert.deepEqual(await short(c1, '_http._tcp.web', 'SRV'), ['1 5 8080 web.']);
    assert.match(await dig(c1, '+noall', '+additional', '_http._tcp.web', 'SRV'), /web\.\s+600\s+IN\s+A\s+198\.18\.1\.2/);
    assert.deepEqual(await short(c1, 'web', 'TXT'), ['"hello"']);
    assert.deepEqual(await short(c1, 'alias-of-web', 'A'), ['198.18.1.2', 'web.']);
  });

  it('AAAA and MX for an IPv4-only name: empty NOERROR, not forwarded', async () => {
    const before = dns.stats().forwarded;
    const out = await dig(c1, 'v4only', 'AAAA');
    assert.match(out, /status: NOERROR/);
    assert.match(out, /ANSWER: 0/);
    assert.equal(await status(c1, 'v4only', 'MX'), 'NOERROR');
    assert.equal(dns.stats().forwarded, before);
  });

  it('scoping: a name on network front is invisible to back clients, and strangers get silence', async () => {
    assert.deepEqual(await short(c2, 'db'), ['198.18.2.2']);
    assert.deepEqual(await short(c1, 'db'), []); // forwarded; upstream has no such name
    const before = dns.stats().forwarded;
    await short(c2, 'web');
    assert.equal(dns.stats().forwarded, before + 1, 'web was not local for back');
    const stranger = await up.exec(['dig', '+tries=1', '+time=1', `@${srv.address}`, 'web']).catch((e: Error) => e.message);
    assert.match(stranger, /timed out|no servers could be reached/);
  });

  it('forwards unknown names to the upstream, over UDP and TCP; kdig agrees', async () => {
    assert.deepEqual(await short(c1, 'ext.example'), ['198.18.50.1']);
    assert.deepEqual(await short(c1, '+tcp', 'ext.example'), ['198.18.50.1']);
    if (hasKdig) {
      const k = await c1.exec(['kdig', '+short', '+retry=0', `@${srv.address}`, 'ext.example', 'A']);
      assert.equal(k.trim(), '198.18.50.1');
    }
  });

  it('truncated upstream answers are fetched over TCP; UDP clients get TC and retry over TCP', async () => {
    const out = await dig(c1, '+noedns', 'big.example', 'TXT');
    assert.match(out, /status: NOERROR/);
    assert.equal((out.match(/^big\.example\.\s+\d+\s+IN\s+TXT/gm) ?? []).length, 12);
    assert.ok(dns.stats().truncated >= 1);
  });

  it('upstream silent -> SERVFAIL within the budget; in-flight cap -> REFUSED', async () => {
    const slow = new DnsService({ upstreams: [{ address: mute.address, port: 53 }], forwardTimeoutMs: 300, forwardBudgetMs: 600, maxInflightForwards: 1, rateLimit: null });
    services.push(slow);
    const l = await slow.listen({ netns: srv.netns, address: srv.address, port: 5353, networks: ['front'] });
    assert.equal(/status: (\w+)/.exec(await c1.exec(['dig', '+tries=1', '+time=3', '-p', String(l.port), `@${srv.address}`, 'nowhere.example']))?.[1], 'SERVFAIL');
    const replies = await raw(c1, l.port, [query(1, 'a.example'), query(2, 'b.example')], 1500);
    const rcodes = replies.map((r) => r[3]! & 0xf).sort();
    assert.deepEqual(rcodes, [2, 5]); // one SERVFAIL after the timeout, one REFUSED at once
  });

  it('malformed queries get FORMERR or silence, and the server keeps answering', async () => {
    const hdr = (qd: number, an = 0) => [0xab, 0xcd, 0x01, 0x00, 0, qd, 0, an, 0, 0, 0, 0];
    const long: number[] = [];
    for (let i = 0; i < 5; i++) long.push(60, ...Array(60).fill(0x61));
    const bad: [string, number[], 'formerr' | 'silent'][] = [
      ['empty', [], 'silent'],
      ['short header', [1, 2, 3, 4, 5], 'silent'],
      ['self pointer', [...hdr(1), 0xc0, 0x0c, 0, 1, 0, 1], 'formerr'],
      ['forward pointer', [...hdr(1), 0xc0, 0x20, 0, 1, 0, 1], 'formerr'],
      ['label > 63', [...hdr(1), 64, ...Array(64).fill(0x61), 0, 0, 1, 0, 1], 'formerr'],
      ['name > 255', [...hdr(1), ...long, 0, 0, 1, 0, 1], 'formerr'],
      ['lying counts', [...hdr(1, 9), 1, 0x61, 0, 0, 1, 0, 1], 'formerr'],
      ['a response', [0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1], 'silent'],
    ];
    for (const [what, bytes, expect] of bad) {
      const replies = await raw(c1, 53, [Uint8Array.from(bytes)], 300);
      if (expect === 'silent') assert.equal(replies.length, 0, what);
      else {
        assert.equal(replies.length, 1, what);
        assert.equal(replies[0]![3]! & 0xf, 1, `${what}: FORMERR`);
        assert.ok(replies[0]!.length <= Math.max(12, bytes.length), `${what}: reply no larger than the query`);
      }
    }
    // A 64 KiB TCP frame of junk, and a zero-length frame: answered or closed, never a crash.
    const conn = await connectTcp(srv.address, 53, c1.netns, 2000);
    const frame = Buffer.alloc(2 + 65535, 0xc0);
    frame.writeUInt16BE(65535, 0);
    frame.writeUInt16BE(0x0100, 4); // flags: RD
    frame.writeUInt16BE(1, 6); // qdcount 1
    const got = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      conn.on('data', (c: Buffer) => chunks.push(c));
      conn.on('close', () => resolve(Buffer.concat(chunks)));
      conn.on('error', () => undefined);
      conn.write(frame);
      conn.write(Buffer.from([0, 0]));
    });
    if (got.length > 0) assert.equal(got[2 + 3]! & 0xf, 1);
    assert.deepEqual(await short(c1, 'web'), ['198.18.1.2']);
  });
});

function query(id: number, name: string, type = 1): Uint8Array {
  return encodeMessage({ ...emptyMessage(), id, rd: true, questions: [question(name, type)] });
}

/** Sends datagrams from a client namespace and collects replies for waitMs. */
async function raw(h: LabHost, port: number, packets: Uint8Array[], waitMs: number): Promise<Buffer[]> {
  const sock = UdpSocket.open({ netns: h.netns, address: h.address, port: 0 });
  const got: Buffer[] = [];
  sock.onBatch((v) => {
    for (let i = 0; i < v.count; i++) got.push(Buffer.from(v.data(i)));
  });
  for (const p of packets) sock.sendTo(p, 0, p.length, '198.18.0.1', port);
  await new Promise((r) => setTimeout(r, waitMs));
  sock.close();
  return got;
}
