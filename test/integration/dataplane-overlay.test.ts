/**
 * Two lab hosts, one overlay network each, endpoints in sandboxes: traffic
 * crosses VXLAN with only the static entries weft programs (learning off,
 * no flood entry). A third endpoint added later is reachable without
 * touching the first two.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type LabHost, rootSkipReason } from '../support/lab.js';
import { json } from '../support/exec.js';
import { UdpSocket } from '../../src/io/udp.js';
import { OverlayNetwork, overlayNetnsName } from '../../src/dataplane/overlay.js';

const skip = rootSkipReason();
let lab: Lab;
let h1: LabHost;
let h2: LabHost;
const nets: OverlayNetwork[] = [];
const NET_ID = 'a1b2c3d4e5f60718293a';

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  h1 = await lab.host('h1');
  h2 = await lab.host('h2');
});

after(async () => {
  if (skip) return;
  for (const n of nets) await n.destroy();
  await lab.destroy();
});

/**
 * UDP echo from `from` to `to` (no ping binary here): a server in the
 * destination sandbox answers, the client resends until an answer or 3 s.
 */
async function ping(from: string, to: string): Promise<boolean> {
  const dest = sandboxOf.get(to)!;
  const server = UdpSocket.open({ address: to, port: 7777, netns: dest });
  const client = UdpSocket.open({ address: '0.0.0.0', port: 0, netns: from });
  try {
    server.onBatch((v) => {
      for (let i = 0; i < v.count; i++) server.sendTo(v.data(i), 0, v.length(i), v.sourceAddress(i), v.sourcePort(i));
    });
    return await new Promise<boolean>((resolve) => {
      const msg = Buffer.from('weft-overlay');
      const timer = setInterval(() => client.sendTo(msg, 0, msg.length, to, 7777), 100);
      const give = setTimeout(() => { clearInterval(timer); resolve(false); }, 3000);
      client.onBatch((v) => {
        if (v.count > 0 && v.data(0).equals(msg)) { clearInterval(timer); clearTimeout(give); resolve(true); }
      });
      client.sendTo(msg, 0, msg.length, to, 7777);
    });
  } finally {
    client.close();
    server.close();
  }
}

const sandboxOf = new Map<string, string>();

test('overlay across two hosts with static FDB and neighbour entries only', { skip }, async () => {
  const mk = async (h: LabHost, epoch: number) => {
    const n = await OverlayNetwork.create({
      networkId: NET_ID, vni: 4097, gateway: '198.19.1.1/24', hostNetns: h.netns, local: h.address, dev: 'eth0',
      prefix: `${lab.prefix}-`, epoch,
    });
    lab.namespaces.push(n.netns);
    nets.push(n);
    return n;
  };
  // Distinct epochs so both hosts' overlay namespaces can coexist on one machine.
  const o1 = await mk(h1, 1);
  const o2 = await mk(h2, 2);
  assert.equal(o1.netns, overlayNetnsName(NET_ID, 1, `${lab.prefix}-`));

  // Docker's shape, checked with iproute2.
  const [vx] = await json<any[]>(['ip', '-n', o1.netns, '-j', '-d', 'link', 'show', 'vxlan0']);
  assert.equal(vx.mtu, 1450);
  assert.equal(vx.master, 'br0');
  assert.equal(vx.link_netnsid, 0, 'vxlan0 keeps its socket in the host namespace');
  const d = vx.linkinfo.info_data;
  assert.equal(d.id, 4097);
  assert.equal(d.port, 4789);
  assert.equal(d.learning, false);
  assert.equal(d.proxy, true);
  assert.equal(d.l2miss, true);
  assert.equal(d.l3miss, true);
  assert.equal(d.udp_csum, true);
  const [br] = await json<any[]>(['ip', '-n', o1.netns, '-j', 'addr', 'show', 'br0']);
  assert.equal(br.mtu, 1450);
  assert.deepEqual(br.addr_info.filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`), ['198.19.1.1/24']);

  const c1 = await lab.netns('c1');
  const c2 = await lab.netns('c2');
  const e1 = await o1.attachEndpoint(c1, { address: '198.19.1.2' });
  const e2 = await o2.attachEndpoint(c2, { address: '198.19.1.3' });
  sandboxOf.set('198.19.1.2', c1).set('198.19.1.3', c2);
  assert.equal(e1.mac, '02:42:c6:13:01:02');
  const [eth0] = await json<any[]>(['ip', '-n', c1, '-j', 'addr', 'show', 'eth0']);
  assert.equal(eth0.mtu, 1450);
  assert.equal(eth0.address, e1.mac);
  assert.equal(eth0.addr_info[0].local, '198.19.1.2');

  await o1.addRemotePeer({ ip: '198.19.1.3/24', mac: e2.mac, vtep: h2.address });
  await o2.addRemotePeer({ ip: '198.19.1.2/24', mac: e1.mac, vtep: h1.address });
  // Re-adding is a no-op, never EEXIST (moby#52661 / PR #53663).
  await o1.addRemotePeer({ ip: '198.19.1.3/24', mac: e2.mac, vtep: h2.address });

  assert.ok(await ping(c1, '198.19.1.3'), 'c1 -> c2 across VXLAN');
  assert.ok(await ping(c2, '198.19.1.2'), 'c2 -> c1 across VXLAN');

  // No flooding: only unicast self entries on vxlan0.
  const fdb = await json<any[]>(['bridge', '-n', o1.netns, '-j', 'fdb', 'show', 'dev', 'vxlan0']);
  assert.ok(fdb.every((e) => e.mac !== '00:00:00:00:00:00'));
  assert.deepEqual(fdb.filter((e) => e.dst).map((e) => [e.mac, e.dst, e.state]), [[e2.mac, h2.address, 'permanent']]);

  // A third endpoint, on h2, later: only h1's overlay learns about it.
  const c3 = await lab.netns('c3');
  const e3 = await o2.attachEndpoint(c3, { address: '198.19.1.4' });
  sandboxOf.set('198.19.1.4', c3);
  await o1.addRemotePeer({ ip: '198.19.1.4', mac: e3.mac, vtep: h2.address });
  await o2.addRemotePeer({ ip: '198.19.1.2', mac: e1.mac, vtep: h1.address });
  assert.ok(await ping(c1, '198.19.1.4'), 'c1 -> c3');
  assert.ok(await ping(c3, '198.19.1.2'), 'c3 -> c1');
  assert.ok(await ping(c3, '198.19.1.3'), 'c3 -> c2 (same host, through br0)');

  // Removing a peer removes exactly Docker's two entries.
  await o1.removeRemotePeer({ ip: '198.19.1.4', mac: e3.mac, vtep: h2.address });
  const neigh = await json<any[]>(['ip', '-n', o1.netns, '-j', 'neigh', 'show', 'dev', 'vxlan0']);
  assert.deepEqual(neigh.map((n) => n.dst), ['198.19.1.3']);
  await o1.removeRemotePeer({ ip: '198.19.1.4', mac: e3.mac, vtep: h2.address });
});
