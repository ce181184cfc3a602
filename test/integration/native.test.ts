/**
 * The native addon against the real kernel, each function in a lab
 * namespace, including its error paths.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SysError } from '../../src/errors.js';
import { native, netnsPath } from '../../src/io/native.js';
import { AF_INET, AF_NETLINK, AF_PACKET, SOCK_DGRAM, SOCK_RAW, sockaddrInet, sockaddrPacket, parseSockaddrInet } from '../../src/io/sockaddr.js';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { json, run } from '../support/exec.js';

const skip = rootSkipReason();
let lab: Lab;
let host: LabHost;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  host = await lab.host('n1');
});
after(async () => lab?.destroy());

const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const ETH_P_ALL = 0x0003;

test('openSocket opens inside another namespace; a missing one is ENOENT', { skip }, () => {
  const n = native();
  const fd = n.openSocket(AF_NETLINK, SOCK_RAW, 0, netnsPath(host.netns));
  assert.ok(fd > 2);
  n.close(fd);
  assert.throws(() => n.openSocket(AF_NETLINK, SOCK_RAW, 0, '/var/run/netns/weft-no-such-ns'),
    (e: unknown) => e instanceof SysError && e.code === 'ERR_WEFT_SYSCALL' && e.errno === 'ENOENT' && /weft-no-such-ns/.test(e.message));
  assert.throws(() => n.openSocket(12345, SOCK_RAW, 0), (e: unknown) => e instanceof SysError && e.code === 'ERR_WEFT_SYSCALL' && e.errno === 'EAFNOSUPPORT');
});

test('UDP sendTo/recvFrom and sendBatch/recvBatch inside a namespace', { skip }, () => {
  const n = native();
  const ns = netnsPath(host.netns);
  const rx = n.openSocket(AF_INET, SOCK_DGRAM, 0, ns);
  const tx = n.openSocket(AF_INET, SOCK_DGRAM, 0, ns);
  try {
    n.bind(rx, sockaddrInet(host.address, 0));
    const port = parseSockaddrInet(n.getsockname(rx)).port;
    const dest = sockaddrInet(host.address, port);
    const slot = 64;
    const buf = Buffer.alloc(slot * 8);
    const lengths = new Int32Array(8);
    for (let i = 0; i < 8; i++) lengths[i] = buf.write(`msg-${i}`, i * slot);
    assert.equal(n.sendBatch(tx, buf, slot, 8, lengths, dest, dest.length), 8);
    assert.equal(n.sendTo(tx, Buffer.from('single'), 0, 6, dest), 6);
    const out = Buffer.alloc(slot * 16);
    const outLens = new Int32Array(16);
    const addrs = Buffer.alloc(28 * 16);
    const got = n.recvBatch(rx, out, slot, 16, outLens, addrs, null);
    assert.equal(got, 9);
    assert.equal(out.toString('utf8', 3 * slot, 3 * slot + outLens[3]!), 'msg-3');
    assert.equal(parseSockaddrInet(addrs, 0).address, host.address);
    assert.equal(n.recvFrom(rx, out, 0, 64, null), -1, 'EAGAIN reported as -1');
    assert.throws(() => n.sendBatch(tx, buf, slot, 9, lengths, dest, dest.length), /ERR_WEFT_INVALID_ARGUMENT|slot/);
  } finally {
    n.close(rx);
    n.close(tx);
  }
});

test('openTun creates a TAP in the namespace; frames flow with readBatch/writeBatch', { skip }, async () => {
  const n = native();
  const { fd, name } = n.openTun('wtap0', IFF_TAP | IFF_NO_PI, netnsPath(host.netns));
  try {
    assert.equal(name, 'wtap0');
    const links = await json<{ ifname: string }[]>(['ip', '-n', host.netns, '-j', 'link', 'show', 'wtap0']);
    assert.equal(links[0]?.ifname, 'wtap0');
    await run(['ip', '-n', host.netns, 'link', 'set', 'wtap0', 'up']);
    const frame = Buffer.alloc(60);
    frame.fill(0xff, 0, 6);
    frame.set([0x02, 0, 0, 0, 0, 1], 6);
    frame.writeUInt16BE(0x88b5, 12); // local experimental ethertype
    const lengths = new Int32Array([60]);
    assert.equal(n.writeBatch(fd, frame, 60, 1, lengths), 1);
    const stats = await json<{ stats64?: { rx?: { packets: number } } }[]>(['ip', '-n', host.netns, '-s', '-j', 'link', 'show', 'wtap0']);
    assert.ok((stats[0]?.stats64?.rx?.packets ?? 0) >= 1, 'the kernel received the frame written to the TAP');
    const rbuf = Buffer.alloc(2048 * 4);
    const rl = new Int32Array(4);
    const r = n.readBatch(fd, rbuf, 2048, 4, rl); // may hold IPv6 ND from the up transition, or nothing
    assert.ok(r >= 0);
  } finally {
    n.close(fd);
  }
  assert.throws(() => n.openTun('a-name-that-is-way-too-long', IFF_TAP, null), /ERR_WEFT_INVALID_ARGUMENT|IFNAMSIZ/);
});

test('AF_PACKET socket bound to an interface honours a classic BPF filter', { skip }, async () => {
  const n = native();
  const ns = netnsPath(host.netns);
  const fd = n.openSocket(AF_PACKET, SOCK_RAW, 0, ns);
  try {
    const ifindex = (await json<{ ifindex: number }[]>(['ip', '-n', host.netns, '-j', 'link', 'show', 'eth0']))[0]!.ifindex;
    // Accept only UDP to port 9999: ldh [12]; jeq #0x800; ldb [23]; jeq #17; ldh [36]; jeq #9999; ret #65535; ret #0
    const prog = Buffer.alloc(8 * 8);
    const ins = [[0x28, 0, 0, 12], [0x15, 0, 5, 0x800], [0x30, 0, 0, 23], [0x15, 0, 3, 17], [0x28, 0, 0, 36], [0x15, 0, 1, 9999], [0x06, 0, 0, 65535], [0x06, 0, 0, 0]];
    ins.forEach(([code, jt, jf, k], i) => { prog.writeUInt16LE(code!, i * 8); prog[i * 8 + 2] = jt!; prog[i * 8 + 3] = jf!; prog.writeUInt32LE(k!, i * 8 + 4); });
    n.attachFilter(fd, prog);
    n.bind(fd, sockaddrPacket(ifindex, ETH_P_ALL));
    const tx = n.openSocket(AF_INET, SOCK_DGRAM, 0, ns);
    // The underlay peer address does not exist; frames still leave eth0 after ARP... send to the
    // broadcast address so no ARP is needed.
    n.setsockoptInt(tx, 1, 6, 1); // SO_BROADCAST
    n.sendTo(tx, Buffer.from('drop-me'), 0, 7, sockaddrInet('198.18.0.255', 9998));
    n.sendTo(tx, Buffer.from('keep-me'), 0, 7, sockaddrInet('198.18.0.255', 9999));
    n.close(tx);
    await new Promise((r) => setTimeout(r, 50));
    const buf = Buffer.alloc(2048);
    const len = n.recvFrom(fd, buf, 0, buf.length, null);
    assert.ok(len > 42);
    assert.equal(buf.readUInt16BE(36), 9999);
    assert.equal(n.recvFrom(fd, buf, 0, buf.length, null), -1, 'the filtered datagram never reached the socket');
    const st = n.getsockoptBuf(fd, 263, 6, 8); // SOL_PACKET, PACKET_STATISTICS
    assert.equal(st.length, 8);
  } finally {
    n.close(fd);
  }
  const unbound = n.openSocket(AF_PACKET, SOCK_RAW, 0, ns);
  try {
    assert.throws(() => n.bind(unbound, sockaddrPacket(99999, ETH_P_ALL)), (e: unknown) => e instanceof SysError && e.code === 'ERR_WEFT_SYSCALL' && e.errno === 'ENODEV');
  } finally {
    n.close(unbound);
  }
  assert.throws(() => n.attachFilter(0, Buffer.alloc(5)), /ERR_WEFT_INVALID_ARGUMENT|8-byte/);
});

test('without privileges, AF_PACKET and foreign namespaces are refused with EPERM', { skip }, async () => {
  const script = `import('${new URL('../../src/io/native.js', import.meta.url).href}').then(({ native }) => {
    try { native().openSocket(17, 3, 0); console.log('opened'); } catch (e) { console.log(e.errno); }
    try { native().openSocket(16, 3, 0, '${netnsPath(host.netns)}'); console.log('opened'); } catch (e) { console.log(e.errno); }
  })`;
  const r = await run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--input-type=module', '-e', script]);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'EPERM', r.stderr);
  assert.ok(lines[1] === 'EPERM' || lines[1] === 'EACCES', `setns without CAP_SYS_ADMIN: ${lines[1]}`);
});

test('poll delivers readiness on the event loop and closes cleanly', { skip }, async () => {
  const n = native();
  const fd = n.openSocket(AF_INET, SOCK_DGRAM, 0, netnsPath(host.netns));
  n.bind(fd, sockaddrInet('127.0.0.1', 0));
  const dest = n.getsockname(fd);
  const ready = new Promise<number>((resolve) => {
    const h = n.poll(fd, 1, (_status, events) => {
      n.pollClose(h);
      resolve(events);
    });
  });
  const lo = n.openSocket(AF_INET, SOCK_DGRAM, 0, netnsPath(host.netns));
  await run(['ip', '-n', host.netns, 'link', 'set', 'lo', 'up']);
  n.sendTo(lo, Buffer.from('x'), 0, 1, dest);
  assert.equal(await ready, 1);
  n.close(lo);
  n.close(fd);
});
