/**
 * UdpSocket inside a lab namespace: opened in the netns by the addon,
 * echoed by a Node dgram peer started with `ip netns exec`, batched both
 * ways, and the missing-namespace error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Lab, rootSkipReason } from '../support/lab.js';
import { UdpSendBatch, UdpSocket, type UdpBatchView } from '../../src/io/udp.js';
import { SysError } from '../../src/errors.js';

const skip = rootSkipReason();
if (skip) console.log(`# skipping io-udp: ${skip}`);

// Echo server: replies to every datagram with the same bytes; prints its port.
const ECHO = `
const s = require('node:dgram').createSocket(process.argv[1]);
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(0, process.argv[2], () => console.log(s.address().port));
`;

async function startEcho(ns: string, type: 'udp4' | 'udp6', address: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', ECHO, type, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, port: Number(line.toString().trim()) };
}

/** Collects datagrams until `want` arrived. */
function collect(sock: UdpSocket, want: number): Promise<{ payload: string; from: string; port: number; fam: number }[]> {
  return new Promise((resolve, reject) => {
    const got: { payload: string; from: string; port: number; fam: number }[] = [];
    sock.onBatch((v: UdpBatchView) => {
      for (let i = 0; i < v.count; i++) {
        got.push({ payload: v.data(i).toString(), from: v.sourceAddress(i), port: v.sourcePort(i), fam: v.sourceFamily(i) });
      }
      if (got.length >= want) {
        sock.pause();
        resolve(got);
      }
    }, reject);
  });
}

describe('UdpSocket in a lab namespace', { skip }, () => {
  let lab: Lab;
  let ns: string;
  const children: ChildProcess[] = [];

  before(async () => {
    lab = await Lab.create();
    ns = (await lab.host('a')).netns;
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await lab.destroy();
  });

  it('echoes one datagram with a dgram peer (IPv4)', async () => {
    const echo = await startEcho(ns, 'udp4', '198.18.0.1');
    children.push(echo.child);
    const sock = UdpSocket.open({ address: '198.18.0.1', port: 0, netns: ns, recvBufferBytes: 1 << 20 });
    try {
      const local = sock.localAddress();
      assert.equal(local.address, '198.18.0.1');
      assert.ok(local.port > 0);
      const done = collect(sock, 1);
      const msg = Buffer.from('xxhello weft');
      assert.equal(sock.sendTo(msg, 2, msg.length - 2, '198.18.0.1', echo.port), true);
      const [d] = await done;
      assert.deepEqual(d, { payload: 'hello weft', from: '198.18.0.1', port: echo.port, fam: 2 });
    } finally {
      sock.close();
    }
  });

  it('sends and receives a batch of many datagrams', async () => {
    const echo = await startEcho(ns, 'udp4', '127.0.0.1');
    children.push(echo.child);
    const sock = UdpSocket.open({ address: '127.0.0.1', port: 0, netns: ns, batchSize: 32, recvBufferBytes: 4 << 20 });
    try {
      const N = 200;
      const done = collect(sock, N);
      const batch = new UdpSendBatch(64, 50);
      batch.setSharedDestination('127.0.0.1', echo.port);
      let sent = 0;
      while (sent < N) {
        for (let i = 0; i < 50; i++) batch.set(i, Buffer.from(`m${sent + i}`));
        const n = sock.sendBatch(batch, 50);
        assert.equal(n, 50);
        sent += n;
        // Let the echo process drain between bursts so no datagram is dropped.
        await new Promise((r) => setTimeout(r, 20));
      }
      const got = await done;
      assert.equal(got.length, N);
      assert.deepEqual(new Set(got.map((g) => g.payload)), new Set(Array.from({ length: N }, (_, i) => `m${i}`)));
      assert.ok(got.every((g) => g.from === '127.0.0.1' && g.port === echo.port));
    } finally {
      sock.close();
    }
  });

  it('works over IPv6 loopback with per-slot destinations', async () => {
    const echo = await startEcho(ns, 'udp6', '::1');
    children.push(echo.child);
    const sock = UdpSocket.open({ address: '::1', port: 0, netns: ns });
    try {
      const done = collect(sock, 3);
      const batch = new UdpSendBatch(32, 3);
      for (let i = 0; i < 3; i++) {
        batch.set(i, Buffer.from(`v6-${i}`));
        batch.setDestination(i, '::1', echo.port);
      }
      assert.equal(sock.sendBatch(batch), 3);
      const got = await done;
      assert.deepEqual(got.map((g) => g.payload).sort(), ['v6-0', 'v6-1', 'v6-2']);
      assert.ok(got.every((g) => g.from === '::1' && g.fam === 10));
    } finally {
      sock.close();
    }
  });

  it('receives synchronously and replies to the raw source sockaddr', async () => {
    const a = UdpSocket.open({ address: '127.0.0.1', port: 0, netns: ns });
    const b = UdpSocket.open({ address: '127.0.0.1', port: 0, netns: ns });
    try {
      const pb = b.localAddress().port;
      assert.equal(a.receiveBatch().count, 0);
      a.sendTo(Buffer.from('ping'), 0, 4, '127.0.0.1', pb);
      let v = b.receiveBatch();
      for (let i = 0; i < 100 && v.count === 0; i++) {
        await new Promise((r) => setTimeout(r, 5));
        v = b.receiveBatch();
      }
      assert.equal(v.count, 1);
      assert.equal(v.data(0).toString(), 'ping');
      assert.equal(v.sourceIPv4(0), 0x7f000001);
      assert.equal(b.sendToSockaddr(Buffer.from('pong'), 0, 4, v.sourceSockaddr(0)), true);
      const got = await collect(a, 1);
      assert.equal(got[0]!.payload, 'pong');
    } finally {
      a.close();
      b.close();
    }
  });

  it('sets GRO and GSO without error', () => {
    const s = UdpSocket.open({ address: '127.0.0.1', port: 0, netns: ns, slotSize: 65535, batchSize: 8 });
    try {
      s.setGro(true);
      s.setGsoSegment(1400);
      s.setGsoSegment(0);
    } finally {
      s.close();
    }
    s.close(); // idempotent
    assert.throws(() => s.sendTo(Buffer.alloc(1), 0, 1, '127.0.0.1', 9), { code: 'ERR_WEFT_SOCKET_CLOSED' });
  });

  it('fails with SysError ENOENT for a missing namespace', () => {
    assert.throws(
      () => UdpSocket.open({ address: '127.0.0.1', port: 0, netns: `${lab.prefix}-missing` }),
      (err: unknown) => err instanceof SysError && err.code === 'ERR_WEFT_SYSCALL' && err.errno === 'ENOENT',
    );
  });

  it('rejects bad arguments with ERR_WEFT_INVALID_ARGUMENT', () => {
    assert.throws(() => UdpSocket.open({ address: 'nope', port: 0, netns: ns }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => UdpSocket.open({ address: '127.0.0.1', port: 70000, netns: ns }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => UdpSocket.open({ address: '127.0.0.1', port: 0, netns: '../x' }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => new UdpSendBatch(64, 0), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });
});
