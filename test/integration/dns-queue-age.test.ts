/**
 * The DNS listener drops a query that waited in its socket's receive queue
 * longer than maxQueueAgeMs (the kernel's arrival timestamp says so), and
 * answers a fresh one. The wait is made by blocking this process's event
 * loop, so the ages are certain, not timed. Loopback in this namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpSocket } from '../../src/io/udp.js';
import { DnsService } from '../../src/dns/index.js';
import { emptyMessage, encodeMessage, question } from '../../src/wire/dns/message.js';

function blockFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // the listener cannot read while this runs: its queries age in the kernel
  }
}

async function replies(client: UdpSocket, waitMs: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < waitMs / 10; i++) {
    await new Promise((r) => setTimeout(r, 10));
    n += client.receiveBatch().count;
  }
  return n;
}

test('a query older than maxQueueAgeMs is dropped (droppedLate), a fresh one answered', async () => {
  const dns = new DnsService({ upstreams: [], rateLimit: null, maxQueueAgeMs: 20, log: () => undefined });
  const client = UdpSocket.open({ address: '127.0.0.1', port: 0 });
  try {
    const l = await dns.listen({ address: '127.0.0.1', port: 0, networks: ['n1'], tcp: false });
    const q = encodeMessage({ ...emptyMessage(), id: 7, rd: true, questions: [question('web.n1', 1)] });
    for (let i = 0; i < 5; i++) client.sendTo(q, 0, q.length, '127.0.0.1', l.port);
    blockFor(80);
    assert.equal(await replies(client, 300), 0);
    assert.equal(l.stats.droppedLate, 5);
    client.sendTo(q, 0, q.length, '127.0.0.1', l.port);
    assert.equal(await replies(client, 1000), 1);
    assert.equal(l.stats.droppedLate, 5);
  } finally {
    client.close();
    await dns.close();
  }
});
