/**
 * IPVS codec and client against a scripted generic-netlink peer: the
 * requests carry the attributes the kernel's policy wants, replies decode,
 * and malformed or unexpected replies become typed errors (never a crash).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttrWriter, attrMap, read } from '../../src/netlink/attrs.js';
import { NetlinkClient, type NetlinkTransport } from '../../src/netlink/client.js';
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_MULTI, NLA_F_NESTED } from '../../src/netlink/constants.js';
import { parseMessages } from '../../src/netlink/message.js';
import { IpvsClient } from '../../src/netlink/ipvs/client.js';
import { decodeDest, decodeService, encodeDest, encodeService } from '../../src/netlink/ipvs/codec.js';
import { IPVS_CMD } from '../../src/netlink/ipvs/constants.js';
import { InvalidArgumentError, IpvsReplyError, NetlinkError } from '../../src/errors.js';

const FAMILY = 0x23;

class FakeKernel implements NetlinkTransport {
  readonly portId = 777;
  requests: Buffer[] = [];
  onDatagram: ((b: Buffer, n: number) => void) | undefined;
  constructor(private readonly script: (req: Buffer, cmd: number) => Buffer[]) {}
  send(data: Uint8Array, length = data.length): void {
    const req = Buffer.from(data.subarray(0, length));
    this.requests.push(req);
    setImmediate(() => { for (const d of this.script(req, req[16]!)) this.onDatagram?.(d, d.length); });
  }
  listen(onDatagram: (b: Buffer, n: number) => void): void { this.onDatagram = onDatagram; }
  close(): void {}
}

function msg(req: Buffer, type: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(req.readUInt32LE(8), 8);
  h.writeUInt32LE(777, 12);
  return Buffer.concat([h, payload]);
}
const ack = (req: Buffer, errno = 0) => {
  const p = Buffer.alloc(20);
  p.writeInt32LE(-errno, 0);
  req.copy(p, 4, 0, 16);
  return msg(req, NLMSG_ERROR, 0, p);
};
const done = (req: Buffer) => msg(req, NLMSG_DONE, NLM_F_MULTI, Buffer.alloc(4));
function genl(cmd: number, build: (w: AttrWriter) => void): Buffer {
  const w = new AttrWriter();
  w.zeros(4);
  w.buf[0] = cmd;
  w.buf[1] = 1;
  build(w);
  return w.finish();
}

function client(script: (req: Buffer, cmd: number) => Buffer[]): { ipvs: IpvsClient; kernel: FakeKernel } {
  const kernel = new FakeKernel(script);
  const nl = new NetlinkClient(kernel, 300);
  return { ipvs: new IpvsClient(nl, { id: FAMILY, name: 'IPVS', version: 1, groups: new Map() }), kernel };
}

/** Attributes of the first request's SERVICE / DEST nests. */
function requestAttrs(req: Buffer): { cmd: number; top: Map<number, Buffer> } {
  const [m] = parseMessages(req);
  return { cmd: m!.payload[0]!, top: attrMap(m!.payload, 4) };
}

test('add service by VIP:port/proto sends a full entry (sched, flags, timeout, netmask) with EXCL|CREATE', async () => {
  const { ipvs, kernel } = client((req) => [ack(req)]);
  await ipvs.addService({ protocol: 'tcp', address: '198.18.10.1', port: 80, scheduler: 'wrr' });
  const [m] = parseMessages(kernel.requests[0]!);
  assert.equal(m!.type, FAMILY);
  assert.equal(m!.flags & 0x600, 0x600);
  const { cmd, top } = requestAttrs(kernel.requests[0]!);
  assert.equal(cmd, IPVS_CMD.NEW_SERVICE);
  const svc = attrMap(top.get(1)!);
  assert.equal(read.u16(svc.get(1)!), 2);
  assert.equal(read.u16(svc.get(2)!), 6);
  assert.deepEqual([...svc.get(3)!], [198, 18, 10, 1]);
  assert.equal(read.be16(svc.get(4)!), 80);
  assert.equal(read.string(svc.get(6)!), 'wrr');
  assert.equal(svc.get(7)!.length, 8);
  assert.equal(read.u32(svc.get(8)!), 0);
  assert.equal(read.u32(svc.get(9)!), 0xffffffff);
});

test('fwmark service and a destination with weight and direct routing', async () => {
  const { ipvs, kernel } = client((req) => [ack(req)]);
  await ipvs.addDest({ fwmark: 256 }, { address: '198.19.1.2', port: 0, weight: 5, forward: 'droute' });
  const { cmd, top } = requestAttrs(kernel.requests[0]!);
  assert.equal(cmd, IPVS_CMD.NEW_DEST);
  const svc = attrMap(top.get(1)!);
  assert.equal(read.u32(svc.get(5)!), 256);
  assert.equal(svc.has(6), false, 'a key-only service nest carries no scheduler');
  const d = attrMap(top.get(2)!);
  assert.deepEqual([...d.get(1)!], [198, 19, 1, 2]);
  assert.equal(read.u32(d.get(3)!), 3);
  assert.equal(read.u32(d.get(4)!), 5);
  assert.equal(read.u16(d.get(11)!), 2);
});

test('idempotent add turns EEXIST into an update; idempotent delete tolerates ESRCH/ENOENT', async () => {
  const { ipvs, kernel } = client((req, cmd) => [ack(req, cmd === IPVS_CMD.NEW_SERVICE || cmd === IPVS_CMD.NEW_DEST ? 17 : cmd === IPVS_CMD.DEL_SERVICE ? 3 : cmd === IPVS_CMD.DEL_DEST ? 2 : 0)]);
  await ipvs.addService({ fwmark: 300, scheduler: 'rr' }, { idempotent: true });
  assert.equal(requestAttrs(kernel.requests[1]!).cmd, IPVS_CMD.SET_SERVICE);
  await ipvs.addDest({ fwmark: 300 }, { address: '198.19.0.9' }, { idempotent: true });
  assert.equal(requestAttrs(kernel.requests[3]!).cmd, IPVS_CMD.SET_DEST);
  await ipvs.deleteService({ fwmark: 300 }, { idempotent: true });
  await ipvs.deleteDest({ fwmark: 300 }, { address: '198.19.0.9' }, { idempotent: true });
  await assert.rejects(ipvs.deleteService({ fwmark: 300 }), (e: unknown) => e instanceof NetlinkError && e.code === 'ERR_WEFT_NETLINK' && e.errno === 'ESRCH');
  await assert.rejects(ipvs.addService({ fwmark: 300 }), (e: unknown) => e instanceof NetlinkError && e.code === 'ERR_WEFT_NETLINK' && e.errno === 'EEXIST');
});

function serviceReply(fields: { fwmark?: number; stats?: boolean; addr?: Buffer; af?: number }): Buffer {
  return genl(IPVS_CMD.NEW_SERVICE, (w) => {
    const n = w.nest(1);
    w.u16(1, fields.af ?? 2);
    if (fields.fwmark) w.u32(5, fields.fwmark);
    else {
      w.u16(2, 17);
      w.binary(3, fields.addr ?? Buffer.from([198, 18, 0, 1, ...new Array(12).fill(0)]));
      w.be16(4, 53);
    }
    w.string(6, 'sh');
    w.binary(7, Buffer.from([0x18, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
    w.u32(8, 0);
    w.u32(9, 0xffffffff);
    if (fields.stats) {
      const s = w.nest(12);
      w.u64(1, 7n);
      w.u64(2, 100n);
      w.u64(4, 5000n);
      w.end(s);
    }
    w.end(n);
  });
}

test('service and destination dumps decode, including stats64 and IPv6', async () => {
  const v6 = Buffer.alloc(16);
  v6.writeUInt16BE(0x2001, 0);
  v6.writeUInt16BE(0xdb8, 2);
  v6[15] = 1;
  const { ipvs } = client((req, cmd) => {
    if (cmd === IPVS_CMD.GET_SERVICE) {
      return [
        msg(req, FAMILY, NLM_F_MULTI, serviceReply({})),
        msg(req, FAMILY, NLM_F_MULTI, serviceReply({ fwmark: 256, stats: true })),
        msg(req, FAMILY, NLM_F_MULTI, serviceReply({ addr: v6, af: 10 })),
        done(req),
      ];
    }
    const d = genl(IPVS_CMD.NEW_DEST, (w) => {
      const n = w.nest(2);
      w.binary(1, Buffer.from([198, 19, 2, 2, ...new Array(12).fill(0)]));
      w.be16(2, 80);
      w.u32(3, 0);
      w.u32(4, 3);
      w.u32(7, 4);
      w.u32(8, 1);
      w.u16(11, 2);
      w.end(n);
    });
    return [msg(req, FAMILY, NLM_F_MULTI, d), done(req)];
  });
  const svcs = await ipvs.services();
  assert.equal(svcs.length, 3);
  assert.deepEqual({ ...svcs[0], stats: undefined }, { family: 4, scheduler: 'sh', flags: 0x18, timeout: 0, netmask: 0xffffffff, protocol: 'udp', address: '198.18.0.1', port: 53, stats: undefined });
  assert.equal(svcs[1]!.fwmark, 256);
  assert.equal(svcs[1]!.stats!.conns, 7n);
  assert.equal(svcs[1]!.stats!.inBytes, 5000n);
  assert.equal(svcs[2]!.address, '2001:db8::1');
  const dests = await ipvs.dests({ fwmark: 256 });
  assert.deepEqual(dests, [{
    family: 4, address: '198.19.2.2', port: 80, forward: 'masq', weight: 3, upperThreshold: 0, lowerThreshold: 0,
    activeConns: 4, inactiveConns: 1, persistentConns: 0,
  }]);
});

test('malformed or unexpected replies are IpvsReplyError', async () => {
  const cases: Array<(req: Buffer) => Buffer[]> = [
    // wrong command in a service dump
    (req) => [msg(req, FAMILY, NLM_F_MULTI, genl(IPVS_CMD.NEW_DEST, (w) => w.u32(1, 0))), done(req)],
    // no SERVICE attribute
    (req) => [msg(req, FAMILY, NLM_F_MULTI, genl(IPVS_CMD.NEW_SERVICE, (w) => w.u32(9, 0))), done(req)],
    // truncated genl header
    (req) => [msg(req, FAMILY, NLM_F_MULTI, Buffer.from([4, 1])), done(req)],
    // service with neither fwmark nor address
    (req) => [msg(req, FAMILY, NLM_F_MULTI, genl(IPVS_CMD.NEW_SERVICE, (w) => { const n = w.nest(1); w.u16(1, 2); w.end(n); })), done(req)],
    // unknown address family
    (req) => [msg(req, FAMILY, NLM_F_MULTI, serviceReply({ af: 99 })), done(req)],
    // address attribute too short for IPv4
    (req) => [msg(req, FAMILY, NLM_F_MULTI, serviceReply({ addr: Buffer.from([1, 2]) })), done(req)],
    // a message of another type in the dump
    (req) => [msg(req, 0x99, NLM_F_MULTI, serviceReply({})), done(req)],
  ];
  for (const [i, script] of cases.entries()) {
    const { ipvs } = client(script);
    await assert.rejects(ipvs.services(), IpvsReplyError, `case ${i}`);
  }
  // an attribute whose length runs past its parent
  const bad = serviceReply({});
  bad.writeUInt16LE(200, 4);
  const { ipvs } = client((req) => [msg(req, FAMILY, NLM_F_MULTI, bad), done(req)]);
  await assert.rejects(ipvs.services(), IpvsReplyError);
  // config and info replies missing their attributes
  const empty = client((req) => [msg(req, FAMILY, 0, genl(IPVS_CMD.SET_CONFIG, () => {})), ack(req)]);
  await assert.rejects(empty.ipvs.timeouts(), IpvsReplyError);
  await assert.rejects(empty.ipvs.info(), IpvsReplyError);
});

test('timeouts and info decode; setTimeouts sends the three attributes', async () => {
  const { ipvs, kernel } = client((req, cmd) => {
    if (cmd === IPVS_CMD.GET_CONFIG) return [msg(req, FAMILY, 0, genl(IPVS_CMD.SET_CONFIG, (w) => { w.u32(4, 900); w.u32(5, 120); w.u32(6, 300); })), ack(req)];
    if (cmd === IPVS_CMD.GET_INFO) return [msg(req, FAMILY, 0, genl(IPVS_CMD.SET_INFO, (w) => { w.u32(1, 0x010201); w.u32(2, 4096); })), ack(req)];
    return [ack(req)];
  });
  assert.deepEqual(await ipvs.timeouts(), { tcp: 900, tcpFin: 120, udp: 300 });
  assert.deepEqual(await ipvs.info(), { version: '1.2.1', connTableSize: 4096 });
  await ipvs.setTimeouts({ tcp: 600 });
  const { top } = requestAttrs(kernel.requests[2]!);
  assert.equal(read.u32(top.get(4)!), 600);
  assert.equal(read.u32(top.get(6)!), 0);
});

test('bad input is rejected before anything is sent', async () => {
  const { ipvs, kernel } = client((req) => [ack(req)]);
  await assert.rejects(ipvs.addService({ protocol: 'tcp', address: '300.1.1.1', port: 80 }), InvalidArgumentError);
  await assert.rejects(ipvs.addService({ protocol: 'tcp', address: '198.18.0.1', port: 70000 }), InvalidArgumentError);
  await assert.rejects(ipvs.addService({ protocol: 'tcp', address: '198.18.0.1', port: 80, scheduler: 'no such!' }), InvalidArgumentError);
  await assert.rejects(ipvs.addService({ address: '198.18.0.1' }), InvalidArgumentError);
  await assert.rejects(ipvs.addDest({ fwmark: 1 }, { address: '198.19.0.1', weight: -1 }), InvalidArgumentError);
  await assert.rejects(ipvs.addDest({ fwmark: 1 }, { address: '198.19.0.1', forward: 'nope' as never }), InvalidArgumentError);
  assert.equal(kernel.requests.length, 0);
});

test('encoders and decoders round-trip', () => {
  const w = new AttrWriter();
  encodeService(w, { protocol: 'sctp', address: 'fd00::5', port: 9, scheduler: 'lc', flags: 1, timeout: 60, netmask: 128 }, true);
  const svc = decodeService(attrMap(w.finish()).get(1)!);
  assert.deepEqual(svc, { family: 6, protocol: 'sctp', address: 'fd00::5', port: 9, scheduler: 'lc', flags: 1, timeout: 60, netmask: 128 });
  const w2 = new AttrWriter();
  encodeDest(w2, { address: '198.19.0.1', port: 8080, weight: 0, forward: 'tunnel' }, true);
  const d = decodeDest(attrMap(w2.finish()).get(2)!);
  assert.equal(d.forward, 'tunnel');
  assert.equal(d.weight, 0);
  assert.equal(d.port, 8080);
  assert.equal(NLA_F_NESTED, 0x8000);
});
