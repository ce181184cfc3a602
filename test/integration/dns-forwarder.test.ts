/**
 * The forwarder's socket pool against a scripted upstream in a lab
 * namespace: concurrent queries share a few sockets under their own random
 * IDs, replies are matched by ID and question (junk and wrong IDs ignored,
 * out-of-order fine), source ports rotate, port-unreachable fails fast,
 * close() releases everything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { UdpSocket } from '../../src/io/udp.js';
import { Forwarder, POOL_SIZE, ROTATE_QUERIES } from '../../src/dns/forwarder.js';
import { decodeMessage, emptyMessage, encodeMessage, question } from '../../src/wire/dns/message.js';

const skip = rootSkipReason();
if (skip) console.log(`# skipping dns-forwarder: ${skip}`);

describe('forwarder socket pool', { skip }, () => {
  let lab: Lab;
  let fw: LabHost;
  let up: LabHost;
  let sock: UdpSocket;
  /** What the upstream saw: source port, upstream ID, name. */
  const seen: { port: number; id: number; name: string }[] = [];
  let hold = 0; // queries to collect before answering them all in reverse
  let held: { id: number; name: string; from: Buffer }[] = [];

  const answer = (id: number, name: string, address = '198.18.60.1') =>
    encodeMessage({ ...emptyMessage(), id, qr: true, rd: true, ra: true, questions: [question(name, 1)], answers: [{ name, type: 1, class: 1, ttl: 60, data: { kind: 'a', address } }] });

  before(async () => {
    lab = await Lab.create();
    fw = await lab.host('fw');
    up = await lab.host('up');
    sock = UdpSocket.open({ netns: up.netns, address: up.address, port: 53 });
    sock.onBatch((v) => {
      for (let i = 0; i < v.count; i++) {
        const m = decodeMessage(v.data(i));
        const name = m.questions[0]!.name;
        seen.push({ port: v.sourcePort(i), id: m.id, name });
        const from = Buffer.from(v.sourceSockaddr(i));
        if (hold > 0) {
          held.push({ id: m.id, name, from });
          if (held.length < hold) continue;
          for (const h of held.reverse()) {
            // Junk first: right ID, wrong question; wrong ID, right question; garbage.
            const junk = [answer(h.id, `x${h.name}`, '198.18.66.6'), answer(h.id ^ 0x5a5a, h.name, '198.18.66.6'), Buffer.from([h.id >> 8, h.id & 0xff, 0x81, 0x80, 0, 9])];
            for (const j of junk) sock.sendToSockaddr(j, 0, j.length, h.from);
            const a = answer(h.id, h.name);
            sock.sendToSockaddr(a, 0, a.length, h.from);
          }
          held = [];
          continue;
        }
        const a = answer(m.id, name);
        sock.sendToSockaddr(a, 0, a.length, from);
      }
    });
  });

  after(async () => {
    sock?.close();
    await lab?.destroy();
  });

  const query = (id: number, name: string) => encodeMessage({ ...emptyMessage(), id, rd: true, questions: [question(name, 1)] });

  it('concurrent queries: own IDs upstream, replies matched by ID and question, client IDs restored', async () => {
    const f = new Forwarder({ upstreams: [{ address: up.address, port: 53 }], netns: fw.netns, timeoutMs: 2000, budgetMs: 3000 });
    try {
      const n = 40;
      hold = n;
      seen.length = 0;
      const replies = await Promise.all(Array.from({ length: n }, (_, i) => {
        assert.ok(f.tryAcquire());
        return f.forward(query(1000 + i, `q${i}.example`), { key: `q${i}.example`, qtype: 1, qclass: 1 }, false);
      }));
      hold = 0;
      replies.forEach((r, i) => {
        assert.ok(r, `reply ${i}`);
        const m = decodeMessage(r);
        assert.equal(m.id, 1000 + i);
        assert.equal(m.questions[0]!.name, `q${i}.example`);
        assert.equal((m.answers[0]!.data as { address: string }).address, '198.18.60.1', 'the junk before it was ignored');
      });
      assert.ok(new Set(seen.map((s) => s.port)).size <= POOL_SIZE, 'a few long-lived sockets, not one per query');
      const perPort = new Map<number, Set<number>>();
      for (const s of seen) perPort.set(s.port, (perPort.get(s.port) ?? new Set()).add(s.id));
      assert.equal([...perPort.values()].reduce((a, s) => a + s.size, 0), n, 'IDs unique per socket');
      assert.equal(f.inflight, 0);
    } finally {
      f.close();
    }
    assert.equal(f.sockets, 0, 'close() released the pool');
  });

  it('source ports rotate as sockets reach their query budget', async () => {
    const f = new Forwarder({ upstreams: [{ address: up.address, port: 53 }], netns: fw.netns });
    try {
      seen.length = 0;
      const total = ROTATE_QUERIES * POOL_SIZE + 100;
      for (let done = 0; done < total; done += 100) {
        const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => {
          f.tryAcquire();
          return f.forward(query(i, `r${i}.example`), { key: `r${i}.example`, qtype: 1, qclass: 1 }, false);
        }));
        assert.ok(rs.every((r) => r !== null));
      }
      assert.ok(new Set(seen.map((s) => s.port)).size > POOL_SIZE, `ports used: ${new Set(seen.map((s) => s.port)).size}`);
      assert.ok(f.sockets <= POOL_SIZE * 2, `open sockets ${f.sockets}`);
    } finally {
      f.close();
    }
  });

  it('a closed upstream port fails at once (ICMP), then the next upstream answers', async () => {
    const f = new Forwarder({ upstreams: [{ address: up.address, port: 5454 }, { address: up.address, port: 53 }], netns: fw.netns, timeoutMs: 3000, budgetMs: 4000 });
    try {
      const t0 = Date.now();
      f.tryAcquire();
      const r = await f.forward(query(7, 'z.example'), { key: 'z.example', qtype: 1, qclass: 1 }, false);
      assert.ok(r);
      assert.equal(decodeMessage(r).id, 7);
      assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms: the refused upstream was not waited out`);
    } finally {
      f.close();
    }
  });
});
