/**
 * The tunnel-offload output (vtep-tunnel.ts), pure: what one queued frame
 * becomes on the underlay TAP (the 24-byte virtio_net_hdr with the tunnel
 * offsets, outer Ethernet/IPv4/UDP/VXLAN, the inner frame untouched, the outer
 * ports the socket's and the remote's) and a frame too large for one
 * outer IPv4 packet refused. The kernel's side of it (the TAP parsing that header,
 * the forwarding, the peer's vxlan) is tested in
 * test/integration/vtep-workers.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameBatch, MAX_FRAME_SLOT, type TapDevice } from '../../src/io/tap.js';
import { internetChecksum } from '../../src/wire/bytes.js';
import * as vnet from '../../src/wire/virtio-net.js';
import { GSO_OK, GsoFrame, viewOf } from '../../src/dataplane/gso.js';
import { TUNNEL_OVERHEAD, TunnelSender } from '../../src/dataplane/vtep-tunnel.js';
import { newVtepCounters } from '../../src/dataplane/vtep.js';
import type { RemoteVtep } from '../../src/dataplane/fdb-table.js';

const TAP_MAC = Uint8Array.from([2, 0, 0, 0, 0, 0xaa]);
const LOCAL = 0xc6120001; // 198.18.0.1
const PORT = 4790;
/** sockaddr_in for 198.18.0.2:4789. */
const REMOTE: RemoteVtep = { address: '198.18.0.2', ip: 0xc6120002, sockaddr: Uint8Array.from([2, 0, 0x12, 0xb5, 198, 18, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]) };
const VNI = 4242;

/** A TAP that keeps what is written to it. */
function fakeTap(): { tap: TapDevice; written: Buffer[] } {
  const written: Buffer[] = [];
  const tap = {
    writeBatchFrom(batch: FrameBatch, first: number, count: number): number {
      for (let i = first; i < first + count; i++) written.push(Buffer.from(batch.buffer.subarray(i * batch.slotSize, i * batch.slotSize + batch.lengths[i]!)));
      return count;
    },
  } as unknown as TapDevice;
  return { tap, written };
}

/** A TSO super-frame as the TAP hands it out: virtio_net_hdr, Ethernet + IPv4 + TCP (20-byte header) + payload. */
function tapFrame(payload: number, gsoSize: number, sport = 40000): Buffer {
  const ipLen = 20 + 20 + payload;
  const b = Buffer.alloc(vnet.VNET_HDR_LEN + 14 + ipLen);
  const o = vnet.VNET_HDR_LEN;
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], o);
  b.writeUInt16BE(0x0800, o + 12);
  b[o + 14] = 0x45;
  b.writeUInt16BE(ipLen, o + 16);
  b[o + 14 + 8] = 64;
  b[o + 14 + 9] = 6;
  b.set([198, 19, 0, 1, 198, 19, 0, 2], o + 14 + 12);
  b.writeUInt16BE(sport, o + 34);
  b.writeUInt16BE(5201, o + 36);
  b[o + 34 + 12] = 0x50;
  b[o + 34 + 13] = 0x18;
  for (let i = 0; i < payload; i++) b[o + 54 + i] = i & 0xff;
  vnet.write(b, 0, vnet.F_NEEDS_CSUM, vnet.GSO_TCPV4, 54, gsoSize, 34, 16);
  return b;
}

function send(frames: Buffer[]): { written: Buffer[]; counters: ReturnType<typeof newVtepCounters>; refused: number } {
  const { tap, written } = fakeTap();
  const counters = newVtepCounters();
  const sender = new TunnelSender(tap, new FrameBatch(MAX_FRAME_SLOT, 4), VNI, LOCAL, PORT, TAP_MAC, counters);
  const parsed = new GsoFrame();
  let refused = 0;
  for (const f of frames) {
    const off = vnet.VNET_HDR_LEN;
    const len = f.length - off;
    const type = vnet.gsoType(f, 0);
    assert.equal(parsed.parse(viewOf(f), off, len, type, vnet.gsoSize(f, 0), vnet.csumStart(f, 0)), GSO_OK);
    if (!sender.queue(f, 0, off, len, parsed, REMOTE)) refused++;
  }
  sender.flush();
  return { written, counters, refused };
}

describe('tunnel offload output', () => {
  it('puts a super-frame behind a tunnel virtio_net_hdr and outer headers, the inner frame untouched', () => {
    const f = tapFrame(30000, 1398);
    const { written, counters } = send([f]);
    assert.equal(written.length, 1);
    const w = written[0]!;
    const inner = f.subarray(vnet.VNET_HDR_LEN);
    assert.equal(w.length, vnet.VNET_HDR_TUNNEL_LEN + TUNNEL_OVERHEAD + inner.length);
    // virtio_net_hdr: NEEDS_CSUM, TCPv4 over a UDP/IPv4 tunnel, offsets moved by the outer headers.
    assert.equal(vnet.flags(w, 0), vnet.F_NEEDS_CSUM);
    assert.equal(vnet.gsoType(w, 0), vnet.GSO_TCPV4 | vnet.GSO_UDP_TUNNEL_IPV4);
    assert.equal(vnet.gsoSize(w, 0), 1398);
    assert.equal(vnet.hdrLen(w, 0), TUNNEL_OVERHEAD + 54);
    assert.equal(vnet.csumStart(w, 0), TUNNEL_OVERHEAD + 34);
    assert.equal(vnet.csumOffset(w, 0), 16);
    assert.equal(w.readUInt16LE(20), 14 + 20, 'outer_th_offset: the outer UDP header');
    assert.equal(w.readUInt16LE(22), TUNNEL_OVERHEAD + 14, 'inner_nh_offset: the inner IP header');
    const e = w.subarray(vnet.VNET_HDR_TUNNEL_LEN);
    assert.deepEqual([...e.subarray(0, 6)], [...TAP_MAC]);
    assert.equal(e.readUInt16BE(12), 0x0800);
    // Outer IPv4: its length, UDP to the remote, a valid header checksum.
    assert.equal(e[14], 0x45);
    assert.equal(e.readUInt16BE(16), 20 + 8 + 8 + inner.length);
    assert.equal(e[23], 17);
    assert.deepEqual([...e.subarray(26, 34)], [198, 18, 0, 1, 198, 18, 0, 2]);
    assert.equal(internetChecksum(e.subarray(14, 34)), 0);
    assert.equal(e.readUInt16BE(34), PORT, 'the source port is the socket\'s');
    assert.equal(e.readUInt16BE(36), 4789, 'the destination port is the remote\'s');
    assert.equal(e.readUInt16BE(38), 8 + 8 + inner.length);
    assert.equal(e.readUInt16BE(40), 0, 'no outer UDP checksum (IPv4)');
    assert.deepEqual([...e.subarray(42, 50)], [0x08, 0, 0, 0, (VNI >> 16) & 0xff, (VNI >> 8) & 0xff, VNI & 0xff, 0]);
    assert.ok(e.subarray(50).equals(inner));
    assert.equal(counters.tx_packets, Math.ceil(30000 / 1398));
    assert.equal(counters.tx_bytes, inner.length);
  });

  it('refuses a frame whose outer IPv4 packet would pass 65,535 bytes, and sends the rest in order', () => {
    const big = tapFrame(65535 - 40, 1398);
    const small = tapFrame(3000, 1398);
    const { written, refused } = send([small, big, small]);
    assert.equal(refused, 1);
    assert.equal(written.length, 2);
  });

});
