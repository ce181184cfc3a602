/**
 * Hostile datagrams at the userspace VTEP (reliability.md §3.1): crafted
 * UDP payloads sent to A:4789 from the peer namespace B (a known VTEP) and
 * from C (not a peer). Each is dropped and counted under its own reason,
 * nothing reaches the TAP, the forwarding table does not change, and the
 * VTEP keeps forwarding (a ping still crosses afterwards).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rootSkipReason, type LabHost } from '../support/lab.js';
import { sh } from '../support/exec.js';
import { UdpSocket } from '../../src/io/udp.js';
import { macBytes } from '../../src/wire/bytes.js';
import type { VtepCounterName } from '../../src/dataplane/vtep.js';
import { IP_B, MAC_A, MAC_B, VNI, vtepPair, type VtepPair } from './vtep-lab.js';

const skip = rootSkipReason();
if (skip) console.log(`# skipping vtep-badframes: ${skip}`);

/** VXLAN header (flags, vni) + an inner Ethernet frame of `inner` bytes from `src` to A. */
function datagram(opts: { flags?: number; vni?: number; inner?: number; src?: string; reservedByte?: number } = {}): Buffer {
  const inner = opts.inner ?? 60;
  const d = Buffer.alloc(8 + inner);
  d[0] = opts.flags ?? 0x08;
  d[3] = opts.reservedByte ?? 0;
  d.writeUIntBE(opts.vni ?? VNI, 4, 3);
  if (inner >= 14) {
    d.set(macBytes(MAC_A), 8);
    d.set(macBytes(opts.src ?? '02:42:c6:13:00:99'), 14);
    d.writeUInt16BE(0x88b5, 20); // local experimental EtherType: A's kernel ignores it
  }
  return d;
}

describe('userspace VTEP drops bad datagrams and keeps forwarding', { skip }, () => {
  let p: VtepPair & { others: LabHost[] };
  let fromB: UdpSocket;
  let fromC: UdpSocket;

  before(async () => {
    p = await vtepPair({}, ['c']);
    fromB = UdpSocket.open({ address: p.b.address, port: 0, netns: p.b.netns });
    fromC = UdpSocket.open({ address: p.others[0]!.address, port: 0, netns: p.others[0]!.netns });
  });

  after(async () => {
    fromB?.close();
    fromC?.close();
    await p?.close();
  });

  async function expectDrop(sock: UdpSocket, d: Buffer, reason: VtepCounterName): Promise<void> {
    const before = p.vtep.stats();
    assert.ok(sock.sendTo(d, 0, d.length, p.a.address, 4789));
    for (let i = 0; i < 100 && p.vtep.stats().counters[reason] === before.counters[reason]; i++) await new Promise((r) => setTimeout(r, 10));
    const after = p.vtep.stats();
    assert.equal(after.counters[reason], before.counters[reason] + 1, `${reason} counted`);
    assert.equal(after.counters.rx_packets, before.counters.rx_packets, 'nothing written to the TAP');
    assert.deepEqual(after.fdb, before.fdb, 'forwarding table unchanged');
  }

  it('short header (V1)', async () => expectDrop(fromB, Buffer.from([8, 0, 0]), 'short_header'));
  it('I flag clear (V2)', async () => expectDrop(fromB, datagram({ flags: 0x00 }), 'invalid_header'));
  it('other flag bits / reserved byte set (V3)', async () => {
    await expectDrop(fromB, datagram({ flags: 0x0c }), 'invalid_header');
    await expectDrop(fromB, datagram({ reservedByte: 1 }), 'invalid_header');
  });
  it('unknown VNI (V4)', async () => expectDrop(fromB, datagram({ vni: VNI + 1 }), 'vni_not_found'));
  it('inner frame truncated (V5)', async () => {
    await expectDrop(fromB, datagram({ inner: 10 }), 'short_inner');
    await expectDrop(fromB, datagram({ inner: 14 }), 'short_inner');
  });
  it('jumbo inner frame, larger than the overlay MTU (V13)', async () => expectDrop(fromB, datagram({ inner: 2000 }), 'jumbo'));
  it('datagram larger than the receive slot', async () => expectDrop(fromB, datagram({ inner: 9000 }), 'truncated'));
  it('multicast or zero inner source MAC (V6)', async () => {
    await expectDrop(fromB, datagram({ src: '01:00:5e:00:00:01' }), 'invalid_src_mac');
    await expectDrop(fromB, datagram({ src: '00:00:00:00:00:00' }), 'invalid_src_mac');
  });
  it("inner source MAC is the VTEP's own (V7)", async () => expectDrop(fromB, datagram({ src: MAC_A }), 'local_mac'));
  it('sender is not a known VTEP (V8)', async () => expectDrop(fromC, datagram(), 'unknown_peer'));
  it('inner source MAC pinned to another VTEP (V9)', async () => {
    p.vtep.fdb.addPeer(p.others[0]!.address);
    try {
      await expectDrop(fromC, datagram({ src: MAC_B }), 'entry_exists');
    } finally {
      p.vtep.fdb.removePeer(p.others[0]!.address);
    }
  });

  it('a valid datagram still reaches the TAP, and ping still crosses', async () => {
    const before = p.vtep.stats().counters.rx_packets;
    const d = datagram({ src: MAC_B });
    fromB.sendTo(d, 0, d.length, p.a.address, 4789);
    for (let i = 0; i < 100 && p.vtep.stats().counters.rx_packets === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(p.vtep.stats().counters.rx_packets, before + 1);
    assert.match(await sh(['ip', 'netns', 'exec', p.a.netns, 'busybox', 'ping', '-c', '2', '-W', '2', IP_B], { timeoutMs: 20_000 }), /2 packets received/);
  });
});
