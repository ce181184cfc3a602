/**
 * Netlink framing and attributes on real bytes: requests iproute2 sent and
 * replies the kernel sent (test/fixtures/netlink, made by capture.sh), plus
 * malformed input and a scripted peer for the client's failure modes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { AttrWriter, parseAttrs, attrMap, read } from '../../src/netlink/attrs.js';
import { parseMessages, parseErrorPayload } from '../../src/netlink/message.js';
import { NetlinkClient, type NetlinkTransport } from '../../src/netlink/client.js';
import { NetlinkDecodeError, NetlinkError, NetlinkTimeoutError } from '../../src/errors.js';
import { NLMSG_ERROR, NLMSG_DONE, NLM_F_MULTI, NLA_F_NESTED, align4 } from '../../src/netlink/constants.js';
import { decodeLink } from '../../src/netlink/rtnetlink/link.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'netlink');
const load = (name: string) => Buffer.from(readFileSync(join(fixtures, name), 'utf8').trim(), 'hex');

/** Fixed family header length by message type (ifinfomsg 16, ndmsg 12). */
function familyHeader(type: number): number {
  if (type >= 16 && type <= 19) return 16;
  if (type >= 28 && type <= 30) return 12;
  return 0;
}

/** Re-encodes a datagram from its parsed structure, attribute by attribute. */
function reencode(datagram: Buffer): Buffer {
  const w = new AttrWriter();
  for (const m of parseMessages(datagram)) {
    const at = w.zeros(16);
    w.buf.writeUInt16LE(m.type, at + 4);
    w.buf.writeUInt16LE(m.flags, at + 6);
    w.buf.writeUInt32LE(m.seq, at + 8);
    w.buf.writeUInt32LE(m.pid, at + 12);
    const fixed = m.type === NLMSG_ERROR || m.type === NLMSG_DONE ? m.payload.length : familyHeader(m.type);
    w.bytes(m.payload.subarray(0, fixed));
    for (const a of parseAttrs(m.payload, fixed)) w.binary(a.type | (a.nested ? NLA_F_NESTED : 0), a.data);
    w.buf.writeUInt32LE(w.length - at, at);
    // nlmsg_len counts the last attribute's padding only if the sender did.
    if (m.length !== w.length - at) w.buf.writeUInt32LE(m.length, at);
  }
  return w.finish();
}

test('fixtures round-trip byte for byte through parse and re-encode', () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.hex'));
  assert.ok(files.length >= 5, 'fixtures present');
  for (const f of files) {
    const bytes = load(f);
    assert.deepEqual(reencode(bytes).toString('hex'), Buffer.concat([bytes, Buffer.alloc(align4(bytes.length) - bytes.length)]).toString('hex'), f);
  }
});

test('iproute2 vxlan request decodes to the attributes ip sent', () => {
  const [m] = parseMessages(load('ip-link-add-vxlan.hex'));
  assert.equal(m!.type, 16);
  const attrs = attrMap(m!.payload, 16);
  assert.equal(read.string(attrs.get(3)!), 'vx0');
  const info = attrMap(attrs.get(18)!);
  assert.equal(read.string(info.get(1)!), 'vxlan');
  const data = attrMap(info.get(2)!);
  assert.equal(read.u32(data.get(1)!), 42); // IFLA_VXLAN_ID
  assert.equal(read.be16(data.get(15)!), 4789); // IFLA_VXLAN_PORT
  assert.equal(read.u8(data.get(7)!), 0); // learning off
  assert.deepEqual([...data.get(4)!], [198, 18, 0, 1]); // local
});

test('kernel link dump decodes every link of the namespace', () => {
  const links = ['kernel-reply-0.hex', 'kernel-reply-2.hex']
    .flatMap((f) => parseMessages(load(f)))
    .filter((m) => m.type === 16)
    .map(decodeLink);
  const names = links.map((l) => l.name).sort();
  assert.deepEqual(names, ['br0', 'eth0', 'eth1', 'lo', 'vx0'].filter((n) => names.includes(n)));
  assert.ok(names.includes('lo') && names.includes('eth0') && names.includes('br0'));
  const eth1 = links.find((l) => l.name === 'eth1')!;
  const br0 = links.find((l) => l.name === 'br0')!;
  assert.equal(eth1.master, br0.index);
  assert.equal(eth1.kind, 'veth');
  assert.equal(br0.kind, 'bridge');
});

test('kernel error reply carries errno and extended-ACK text', () => {
  const msgs = parseMessages(load('kernel-reply-1.hex'));
  const err = msgs.find((m) => m.type === NLMSG_ERROR)!;
  const e = parseErrorPayload(err);
  assert.ok(e.error < 0);
  assert.equal(typeof e.extackMessage, 'string');
  assert.ok(e.extackMessage!.length > 0);
});

test('malformed framing gives NetlinkDecodeError with an offset', () => {
  const good = load('ip-neigh-add.hex');
  const cases: [string, Buffer][] = [
    ['truncated header', good.subarray(0, 10)],
    ['length below header', Buffer.concat([Buffer.from([8, 0, 0, 0]), good.subarray(4)])],
    ['length past end', (() => { const b = Buffer.from(good); b.writeUInt32LE(4096, 0); return b; })()],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(() => parseMessages(bytes), NetlinkDecodeError, name);
  }
  const attr = (len: number) => { const b = Buffer.alloc(8); b.writeUInt16LE(len, 0); b.writeUInt16LE(1, 2); return b; };
  assert.throws(() => parseAttrs(attr(2)), NetlinkDecodeError, 'attribute length < 4');
  assert.throws(() => parseAttrs(attr(64)), NetlinkDecodeError, 'attribute past end');
  // Nested overflow: the outer attribute is fine, the inner one claims more than the outer holds.
  const outer = Buffer.alloc(16);
  outer.writeUInt16LE(16, 0); outer.writeUInt16LE(18 | NLA_F_NESTED, 2);
  outer.writeUInt16LE(40, 4); outer.writeUInt16LE(1, 6);
  const [nest] = parseAttrs(outer);
  assert.throws(() => parseAttrs(nest!.data), NetlinkDecodeError);
});

test('attribute decoding never throws anything but NetlinkDecodeError (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
    const b = Buffer.from(bytes);
    try {
      for (const m of parseMessages(b)) {
        for (const a of parseAttrs(m.payload, Math.min(16, m.payload.length))) if (a.nested) parseAttrs(a.data);
        if (m.type === 16 && m.payload.length >= 16) decodeLink(m);
      }
    } catch (err) {
      if (!(err instanceof NetlinkDecodeError)) throw err;
    }
  }), { numRuns: 3000 });
});

test('AttrWriter output parses back to the same attributes (property)', () => {
  const attrArb = fc.record({ type: fc.integer({ min: 1, max: 0x3fff }), data: fc.uint8Array({ maxLength: 40 }) });
  fc.assert(fc.property(fc.array(attrArb, { maxLength: 20 }), (attrs) => {
    const w = new AttrWriter(8);
    const nest = w.nest(1);
    for (const a of attrs) w.binary(a.type, a.data);
    w.end(nest);
    const [outer] = parseAttrs(w.finish());
    const inner = parseAttrs(outer!.data);
    assert.deepEqual(inner.map((a) => [a.type, [...a.data]]), attrs.map((a) => [a.type, [...a.data]]));
  }));
});

/** A scripted peer: answers each request with the datagrams `script` returns. */
class FakeKernel implements NetlinkTransport {
  readonly portId = 4242;
  onDatagram: ((b: Buffer, n: number) => void) | undefined;
  constructor(private readonly script: (req: Buffer) => Buffer[]) {}
  send(data: Uint8Array, length = data.length): void {
    const req = Buffer.from(data.subarray(0, length));
    setImmediate(() => { for (const d of this.script(req)) this.onDatagram?.(d, d.length); });
  }
  listen(onDatagram: (b: Buffer, n: number) => void): void { this.onDatagram = onDatagram; }
  close(): void {}
}

function reply(req: Buffer, type: number, flags: number, payload: Buffer, pid = 4242): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(req.readUInt32LE(8), 8);
  h.writeUInt32LE(pid, 12);
  return Buffer.concat([h, payload]);
}

test('a dump that never ends times out with a typed error', async () => {
  const client = new NetlinkClient(new FakeKernel((req) => [reply(req, 16, NLM_F_MULTI, Buffer.alloc(16))]), 200);
  await assert.rejects(client.dump({ type: 18, what: 'link dump' }), NetlinkTimeoutError);
  client.close();
});

test('an error reply becomes NetlinkError with the errno name; garbage is a decode error, not a crash', async () => {
  const err = Buffer.alloc(20);
  err.writeInt32LE(-17, 0);
  const client = new NetlinkClient(new FakeKernel((req) => [reply(req, NLMSG_ERROR, 0, err)]), 1000);
  await assert.rejects(client.request({ type: 16, flags: 0, what: 'create link x' }), (e: unknown) =>
    e instanceof NetlinkError && e.code === 'ERR_WEFT_NETLINK' && e.errno === 'EEXIST' && e.message.includes('create link x'));
  client.close();
  const decodeErrors: Error[] = [];
  const bad = new NetlinkClient(new FakeKernel(() => [Buffer.from([1, 2, 3])]), 200);
  bad.onEvent(() => {}, (e) => decodeErrors.push(e));
  await assert.rejects(bad.request({ type: 16, flags: 0, what: 'x' }), NetlinkTimeoutError);
  assert.ok(decodeErrors[0] instanceof NetlinkDecodeError);
  bad.close();
});

test('pipelined requests settle independently, in any order', async () => {
  const ack = (req: Buffer, seqOffset: number) => {
    const p = Buffer.alloc(20);
    p.writeInt32LE(0, 0);
    const h = reply(req.subarray(seqOffset), NLMSG_ERROR, 0x100, p);
    return h;
  };
  const client = new NetlinkClient(new FakeKernel((req) => {
    const msgs = parseMessages(req);
    return msgs.reverse().map((m) => ack(req, m.offset));
  }), 1000);
  const results = await Promise.all(client.batch(Array.from({ length: 50 }, (_, i) => ({ type: 28, flags: 0, what: `neigh ${i}` }))));
  assert.equal(results.length, 50);
  assert.equal(client.inFlight, 0);
  client.close();
});

test('bulk mode: only failures are answered, the barrier settles the rest', async () => {
  const client = new NetlinkClient(new FakeKernel((req) => parseMessages(req).flatMap((m) => {
    const sub = req.subarray(m.offset);
    if (m.type === 1) {
      assert.ok(m.flags & 0x4, 'the barrier asks for an ACK');
      return [reply(sub, NLMSG_ERROR, 0x100, Buffer.alloc(20))];
    }
    assert.equal(m.flags & 0x4, 0, 'bulk requests ask for no ACK');
    if (m.seq % 3 !== 0) return [];
    const err = Buffer.alloc(20);
    err.writeInt32LE(-17, 0);
    return [reply(sub, NLMSG_ERROR, 0x100, err)];
  })), 1000);
  const results = await client.bulk(Array.from({ length: 3000 }, (_, i) => ({ type: 28, flags: 0, what: `fdb ${i}` })), 8192);
  const failed = results.filter((r) => r.status === 'rejected');
  assert.ok(failed.length >= 999 && failed.length <= 1000);
  assert.ok(failed.every((r) => (r as PromiseRejectedResult).reason instanceof NetlinkError && (r as PromiseRejectedResult).reason.errno === 'EEXIST'));
  assert.equal(client.inFlight, 0);
  client.close();
});
