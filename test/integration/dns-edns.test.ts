/**
 * EDNS and answer shape against real clients in a lab (issue 13 item 8):
 * dig's cookie is not forwarded and the upstream's UDP size and cookie are
 * not relayed; the DO bit comes back; a local CNAME to an outside name is
 * chased upstream (UDP and TCP, NXDOMAIN kept); AXFR/IXFR are REFUSED;
 * answers over 512 bytes keep the records that fit, so busybox nslookup
 * (which never retries over TCP) still prints addresses. The upstream is a
 * scripted fake in the lab that records what it was asked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { have } from '../support/exec.js';
import net from 'node:net';
import { UdpSocket } from '../../src/io/udp.js';
import { listenTcp } from '../../src/io/tcp.js';
import { DnsService, serviceRecords, endpointRecords } from '../../src/dns/index.js';
import {
  OPTION_COOKIE, Rcode, RrType, decodeMessage, emptyMessage, encodeMessage, type DnsMessage, type DnsRecord,
} from '../../src/wire/dns/index.js';

const skip = rootSkipReason() ?? ((await have('dig')) ? undefined : 'dig not installed (bind9-dnsutils)');
if (skip) console.log(`# skipping dns-edns: ${skip}`);

/** One UDP query from a client namespace; resolves with the first reply. */
async function rawQuery(h: LabHost, server: string, query: Uint8Array): Promise<Buffer> {
  const sock = UdpSocket.open({ netns: h.netns, address: h.address, port: 0 });
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`no reply from ${server}`)), 5000);
      sock.onBatch((v) => {
        if (v.count === 0) return;
        clearTimeout(guard);
        resolve(Buffer.from(v.data(0)));
      });
      sock.sendTo(query, 0, query.length, server, 53);
    });
  } finally {
    sock.close();
  }
}

const a = (name: string, address: string, ttl = 60): DnsRecord => ({ name, type: RrType.A, class: 1, ttl, data: { kind: 'a', address } });

/** The scripted upstream's answer to a query. */
function upstreamReply(q: DnsMessage): DnsMessage {
  const qq = q.questions[0]!;
  const name = qq.name.toLowerCase();
  const m: DnsMessage = { ...emptyMessage(), id: q.id, qr: true, rd: q.rd, ra: true, questions: q.questions };
  if (q.edns) {
    // A server cookie and a large size: neither may reach weft's clients.
    const cookie = [0, OPTION_COOKIE, 0, 16, ...Array.from({ length: 16 }, (_, i) => i + 1)];
    m.edns = { udpSize: 4096, version: 0, flags: q.edns.flags, options: new Uint8Array(cookie) };
  }
  if (qq.type !== RrType.A) return m;
  if (name === 'db.corp.test' || name === 'ext.example') m.answers = [a(qq.name, name === 'db.corp.test' ? '198.18.60.1' : '198.18.50.1')];
  else if (name === 'many.example') m.answers = Array.from({ length: 60 }, (_, i) => a(qq.name, `198.18.61.${i + 1}`));
  else {
    m.rcode = Rcode.NXDOMAIN;
    m.authorities = [{ name: 'test', type: RrType.SOA, class: 1, ttl: 60, data: { kind: 'soa', mname: 'ns.test', rname: 'h.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } }];
  }
  return m;
}

describe('EDNS, CNAME chase, transfers and truncation with real clients', { skip }, () => {
  let lab: Lab;
  let srv: LabHost;
  let c1: LabHost;
  let up: LabHost;
  let upSock: UdpSocket | undefined;
  let upTcp: net.Server | undefined;
  let dns: DnsService | undefined;
  const asked: DnsMessage[] = [];

  before(async () => {
    lab = await Lab.create();
    srv = await lab.host('srv');
    c1 = await lab.host('c1');
    up = await lab.host('up');
    const sock = UdpSocket.open({ netns: up.netns, address: up.address, port: 53, slotSize: 4096 });
    upSock = sock;
    sock.onBatch((view) => {
      for (let i = 0; i < view.count; i++) {
        let q: DnsMessage;
        try {
          q = decodeMessage(view.data(i));
        } catch {
          continue;
        }
        asked.push(q);
        const out = encodeMessage(upstreamReply(q));
        sock.sendTo(out, 0, out.length, view.sourceAddress(i), view.sourcePort(i));
      }
    });
    // TCP too: truncated answers and +tcp clients are forwarded over TCP.
    upTcp = net.createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('error', () => c.destroy());
      c.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const q = decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          asked.push(q);
          const out = encodeMessage(upstreamReply(q));
          const frame = Buffer.alloc(2 + out.length);
          frame.writeUInt16BE(out.length, 0);
          out.copy(frame, 2);
          c.write(frame);
        }
      });
    });
    await listenTcp(up.address, 53, up.netns, upTcp);
    dns = new DnsService({ upstreams: [{ address: up.address, port: 53 }], rateLimit: null });
    for (const r of endpointRecords({ network: 'front', name: 'web', ipv4: '198.18.1.2' })) dns.addRecord(r);
    for (const r of serviceRecords({ network: 'front', name: 'many', tasks: Array.from({ length: 40 }, (_, i) => `198.18.7.${i + 1}`) })) dns.addRecord(r);
    dns.addRecord({ network: 'front', name: 'out', type: 'CNAME', target: 'db.corp.test' });
    dns.addRecord({ network: 'front', name: 'hop', type: 'CNAME', target: 'out' });
    dns.addRecord({ network: 'front', name: 'gone', type: 'CNAME', target: 'gone.corp.test' });
    await dns.listen({ netns: srv.netns, address: srv.address, networks: [{ name: 'front', clients: [`${c1.address}/32`] }] });
  });

  after(async () => {
    upSock?.close();
    upTcp?.close();
    await dns?.close();
    await lab?.destroy();
  });

  const dig = (...args: string[]) => c1.exec(['dig', '+tries=1', '+time=3', `@${srv.address}`, ...args]);

  it('the client cookie is not forwarded; the upstream cookie and UDP size are not relayed', async () => {
    asked.length = 0;
    const out = await dig('+cookie', '+bufsize=4096', 'ext.example', 'A');
    assert.match(out, /status: NOERROR/);
    assert.match(out, /198\.18\.50\.1/);
    assert.match(out, /; EDNS: version: 0, flags:; udp: 1232/, 'weft advertises its own size');
    assert.doesNotMatch(out, /COOKIE/, 'no cookie relayed');
    const q = asked.find((m) => m.questions[0]?.name.toLowerCase() === 'ext.example');
    assert.ok(q?.edns, 'the query went upstream with EDNS');
    for (let o = 0; o + 4 <= q.edns.options.length; o += 4 + ((q.edns.options[o + 2]! << 8) | q.edns.options[o + 3]!)) {
      assert.notEqual((q.edns.options[o]! << 8) | q.edns.options[o + 1]!, OPTION_COOKIE, 'no cookie upstream');
    }
  });

  it('the DO bit comes back, for local and forwarded answers', async () => {
    assert.match(await dig('+dnssec', 'web', 'A'), /; EDNS: version: 0, flags: do; udp: 1232/);
    assert.match(await dig('+dnssec', 'ext.example', 'A'), /; EDNS: version: 0, flags: do; udp: 1232/);
    assert.match(await dig('+dnssec', 'nonexistent-local', 'AAAA'), /flags: do;/);
    assert.match(await dig('web', 'A'), /; EDNS: version: 0, flags:; udp: 1232/);
  });

  it('a CNAME to an outside name is chased upstream, over UDP and TCP', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const out = await dig(transport, '+noall', '+answer', 'Hop', 'A');
      const lines = out.trim().split('\n').map((l) => l.split(/\s+/));
      assert.deepEqual(lines.map((l) => [l[0], l[3], l[4]]), [
        ['Hop.', 'CNAME', 'out.'], ['out.', 'CNAME', 'db.corp.test.'], ['db.corp.test.', 'A', '198.18.60.1'],
      ], `${transport}: ${out}`);
    }
    const gone = await dig('gone', 'A');
    assert.match(gone, /status: NXDOMAIN/);
    assert.match(gone, /^gone\.\s+600\s+IN\s+CNAME\s+gone\.corp\.test\./m);
    assert.match(gone, /AUTHORITY: 1/, 'the upstream SOA for negative caching');
  });

  it('AXFR and IXFR are REFUSED', async () => {
    assert.match(await dig('front', 'AXFR'), /Transfer failed/);
    const before = asked.length;
    for (const type of [251, 252]) {
      const reply = await rawQuery(c1, srv.address, encodeMessage({ ...emptyMessage(), id: type, questions: [{ name: 'front', type, class: 1 }] }));
      assert.equal(decodeMessage(reply).rcode, Rcode.REFUSED, `type ${type} over UDP`);
    }
    assert.equal(asked.length, before, 'nothing forwarded');
  });

  it('answers over 512 bytes keep what fits with TC; busybox nslookup prints addresses', async () => {
    for (const name of ['many', 'many.example']) {
      const out = await dig('+noedns', '+ignore', name, 'A');
      assert.match(out, /flags: qr tc/, name);
      const n = Number(/ANSWER: (\d+)/.exec(out)?.[1]);
      assert.ok(n >= 25 && n < 60, `${name}: ${n} answers in 512 bytes`);
    }
    // Without +ignore dig retries over TCP and gets them all.
    assert.match(await dig('+noedns', 'many.example', 'A'), /ANSWER: 60/);
    if (!(await have('busybox'))) return;
    for (const name of ['many', 'many.example']) {
      const r = await c1.exec(['busybox', 'nslookup', '-type=a', name, srv.address]).catch((e: Error) => e.message);
      const addrs = r.match(/Address: 198\.18\.\d+\.\d+/g) ?? [];
      assert.ok(addrs.length >= 25, `${name}: busybox printed ${addrs.length} addresses:\n${r}`);
    }
  });
});


