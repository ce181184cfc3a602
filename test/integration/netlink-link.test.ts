/**
 * Link operations in a fresh lab namespace, checked field by field against
 * `ip -j -d link`; error paths give typed errors and leave nothing behind;
 * `weft link ls --json` agrees with `ip -j -d link`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason } from '../support/lab.js';
import { json, run, sh } from '../support/exec.js';
import { Rtnl } from '../../src/netlink/rtnetlink/handle.js';
import { addLink, deleteLink, setLink } from '../../src/netlink/rtnetlink/link-ops.js';
import { vxlanInfo } from '../../src/netlink/rtnetlink/link-kinds/index.js';

const skip = rootSkipReason();
let lab: Lab;
let ns: string;
let peerNs: string;
let rtnl: Rtnl;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  ns = await lab.netns('lk');
  peerNs = await lab.netns('lkp');
  rtnl = Rtnl.open({ netns: ns });
});

after(async () => {
  if (skip) return;
  rtnl.close();
  await lab.destroy();
});

const ipLink = async (n: string, name: string) => (await json<any[]>(['ip', '-n', n, '-j', '-d', 'link', 'show', name]))[0];
const names = async (n: string) => (await json<any[]>(['ip', '-n', n, '-j', 'link'])).map((l) => l.ifname).sort();

test('bridge, veth (peer in another namespace), vxlan, macvlan, tap: create, read, update, delete', { skip }, async () => {
  await addLink(rtnl, { name: 'br0', kind: 'bridge', mtu: 1450, address: '02:00:00:00:01:01', up: true, bridge: { ageingTime: 1234, stpState: 0 } });
  let br = await ipLink(ns, 'br0');
  assert.equal(br.mtu, 1450);
  assert.equal(br.address, '02:00:00:00:01:01');
  assert.ok(br.flags.includes('UP'));
  assert.equal(br.linkinfo.info_data.ageing_time, 1234);
  assert.equal(br.linkinfo.info_data.stp_state, 0);

  await addLink(rtnl, { name: 've0', kind: 'veth', mtu: 1450, master: 'br0', veth: { peer: { name: 'eth0', netns: peerNs, mtu: 1450, address: '02:00:00:00:01:02' } } });
  const ve = await ipLink(ns, 've0');
  assert.equal(ve.master, 'br0');
  assert.equal(ve.mtu, 1450);
  assert.equal(ve.linkinfo.info_kind, 'veth');
  const peer = await ipLink(peerNs, 'eth0');
  assert.equal(peer.mtu, 1450);
  assert.equal(peer.address, '02:00:00:00:01:02');
  assert.equal(peer.link_index, ve.ifindex);

  await addLink(rtnl, { name: 'up0', kind: 'veth', veth: { peer: { name: 'up1' } } });
  await addLink(rtnl, {
    name: 'vx0', kind: 'vxlan', mtu: 1400,
    vxlan: { id: 42, port: 4789, local: '198.18.0.1', dev: 'up0', learning: false, proxy: true, l2miss: true, l3miss: true, ttl: 10, udpCsum: false, portRange: [40000, 41000], ageing: 100 },
  });
  let d = (await ipLink(ns, 'vx0')).linkinfo.info_data;
  assert.deepEqual(
    { id: d.id, local: d.local, link: d.link, port: d.port, learning: d.learning, proxy: d.proxy, l2miss: d.l2miss, l3miss: d.l3miss, ttl: d.ttl, udp_csum: d.udp_csum, port_range: d.port_range, ageing: d.ageing },
    { id: 42, local: '198.18.0.1', link: 'up0', port: 4789, learning: false, proxy: true, l2miss: true, l3miss: true, ttl: 10, udp_csum: false, port_range: { low: 40000, high: 41000 }, ageing: 100 },
  );
  // Decoded kind data agrees too.
  const info = vxlanInfo((await rtnl.link('vx0'))!)!;
  assert.equal(info.id, 42);
  assert.equal(info.learning, false);

  // Update: up, master, learning back on, MTU, rename.
  await setLink(rtnl, 'vx0', { up: true, master: 'br0', mtu: 1350, vxlan: { learning: true } });
  let vx = await ipLink(ns, 'vx0');
  assert.equal(vx.master, 'br0');
  assert.equal(vx.mtu, 1350);
  assert.ok(vx.flags.includes('UP'));
  assert.equal(vx.linkinfo.info_data.learning, true);
  await setLink(rtnl, 'vx0', { master: null, name: 'vx1', up: false });
  vx = await ipLink(ns, 'vx1');
  assert.equal(vx.master, undefined);
  assert.ok(!vx.flags.includes('UP'));

  await addLink(rtnl, { name: 'mv0', kind: 'macvlan', parent: 'up1', macvlan: { mode: 'private' } });
  assert.equal((await ipLink(ns, 'mv0')).linkinfo.info_data.mode, 'private');
  await setLink(rtnl, 'mv0', { macvlan: { mode: 'bridge' } });
  assert.equal((await ipLink(ns, 'mv0')).linkinfo.info_data.mode, 'bridge');
  // Move to another namespace and rename there.
  await setLink(rtnl, 'mv0', { netns: peerNs, name: 'mvx' });
  assert.equal((await ipLink(peerNs, 'mvx')).linkinfo.info_kind, 'macvlan');

  await addLink(rtnl, { name: 'tap0', kind: 'tap', mtu: 1400 });
  const tap = await ipLink(ns, 'tap0');
  assert.equal(tap.linkinfo.info_data.type, 'tap');
  assert.equal(tap.linkinfo.info_data.persist, true);
  assert.equal(tap.mtu, 1400);

  br = await ipLink(ns, 'br0');
  await setLink(rtnl, 'br0', { bridge: { ageingTime: 30000 } });
  assert.equal((await ipLink(ns, 'br0')).linkinfo.info_data.ageing_time, 30000);

  assert.deepEqual(await names(peerNs), ['eth0', 'lo', 'mvx']);
  for (const n of ['tap0', 'vx1', 'up0', 've0', 'br0']) await deleteLink(rtnl, n);
  assert.deepEqual(await names(ns), ['lo']);
  // The veth peer went with ve0, the macvlan with its parent up1.
  assert.deepEqual(await names(peerNs), ['lo']);
});

test('error paths are typed, name the object, and leave nothing half-created', { skip }, async () => {
  await addLink(rtnl, { name: 'e0', kind: 'veth', veth: { peer: { name: 'e1' } } });
  const before = await names(ns);
  const cases: [() => Promise<unknown>, string, RegExp][] = [
    [() => addLink(rtnl, { name: 'e0', kind: 'bridge' }), 'ERR_WEFT_LINK_EXISTS', /link e0 .* already exists/],
    [() => addLink(rtnl, { name: 'm0', kind: 'macvlan', parent: 'nope0' }), 'ERR_WEFT_LINK_NOT_FOUND', /parent link nope0 .*does not exist \(for m0\)/],
    [() => addLink(rtnl, { name: 'v0', kind: 'vxlan', vxlan: { id: 0 } }), 'ERR_WEFT_LINK_CONFIG', /link v0: vni must be between 1 and 16777215/],
    [() => addLink(rtnl, { name: 'v0', kind: 'vxlan', vxlan: { id: 1 << 24 } }), 'ERR_WEFT_LINK_CONFIG', /link v0: vni/],
    [() => addLink(rtnl, { name: 'q0', kind: 'vlan', parent: 'e0', vlan: { id: 4095 } }), 'ERR_WEFT_LINK_CONFIG', /link q0: vlan id must be between 1 and 4094/],
    [() => addLink(rtnl, { name: 'q0', kind: 'vlan', parent: 'e0', vlan: { id: 0 } }), 'ERR_WEFT_LINK_CONFIG', /vlan id/],
    [() => addLink(rtnl, { name: 'b9', kind: 'bridge', mtu: 70000 }), 'ERR_WEFT_LINK_CONFIG', /link b9: mtu must be between/],
    [() => addLink(rtnl, { name: 'p0', kind: 'veth', veth: { peer: { name: 'p1', netns: `${lab.prefix}-gone` } } }), 'ERR_WEFT_NETNS_NOT_FOUND', /gone does not exist/],
    [() => setLink(rtnl, 'nope1', { up: true }), 'ERR_WEFT_LINK_NOT_FOUND', /link nope1 .*does not exist/],
    [() => deleteLink(rtnl, 'nope2'), 'ERR_WEFT_LINK_NOT_FOUND', /link nope2/],
  ];
  for (const [p, code, msg] of cases) {
    await assert.rejects(p(), (err: any) => {
      assert.equal(err.code, code, `${err.code}: ${err.message}`);
      assert.match(err.message, msg);
      return true;
    });
  }
  // MTU too large for the kernel (a vxlan cannot exceed its underlay minus 50).
  await addLink(rtnl, { name: 'vx9', kind: 'vxlan', vxlan: { id: 9, dev: 'e0' } });
  await assert.rejects(setLink(rtnl, 'vx9', { mtu: 9000 }), (err: any) => err.code === 'ERR_WEFT_LINK_CONFIG' && /link vx9: mtu/.test(err.message));
  await deleteLink(rtnl, 'vx9');
  assert.throws(() => Rtnl.open({ netns: `${lab.prefix}-gone` }), (err: any) => err.code === 'ERR_WEFT_NETNS_NOT_FOUND');
  assert.deepEqual(await names(ns), before, 'nothing half-created');
  await deleteLink(rtnl, 'e0');
});

test('weft link ls --json agrees with ip -j -d link', { skip }, async () => {
  await sh(['ip', '-n', ns, 'link', 'add', 'br7', 'mtu', '1450', 'type', 'bridge']);
  await sh(['ip', '-n', ns, 'link', 'add', 'a7', 'type', 'veth', 'peer', 'name', 'b7']);
  await sh(['ip', '-n', ns, 'link', 'set', 'a7', 'master', 'br7', 'up']);
  await sh(['ip', '-n', ns, 'link', 'add', 'vx7', 'type', 'vxlan', 'id', '77', 'dstport', '4789', 'nolearning', 'proxy']);
  await sh(['ip', '-n', ns, 'link', 'set', 'br7', 'up']);
  const r = await run(['node', 'dist/src/cli/main.js', 'link', 'ls', '--json', '--netns', ns]);
  assert.equal(r.code, 0, r.stderr);
  const mine = JSON.parse(r.stdout) as any[];
  const theirs = await json<any[]>(['ip', '-n', ns, '-j', '-d', 'link']);
  assert.deepEqual(mine.map((l) => l.ifname), theirs.map((l) => l.ifname));
  for (let i = 0; i < theirs.length; i++) {
    const a = mine[i], b = theirs[i];
    for (const k of ['ifindex', 'ifname', 'mtu', 'address', 'master', 'operstate', 'link']) assert.deepEqual(a[k], b[k], `${b.ifname}.${k}`);
    assert.deepEqual(a.flags, b.flags, `${b.ifname}.flags`);
    assert.equal(a.linkinfo?.info_kind, b.linkinfo?.info_kind, `${b.ifname} kind`);
  }
  const vx = mine.find((l) => l.ifname === 'vx7');
  const ref = theirs.find((l) => l.ifname === 'vx7');
  for (const k of ['id', 'port', 'learning', 'proxy', 'ttl', 'ageing', 'udp_csum', 'port_range']) {
    assert.deepEqual(vx.linkinfo.info_data[k], ref.linkinfo.info_data[k], `vx7 ${k}`);
  }
  const br = mine.find((l) => l.ifname === 'br7').linkinfo.info_data;
  const bref = theirs.find((l) => l.ifname === 'br7').linkinfo.info_data;
  for (const k of ['ageing_time', 'stp_state', 'vlan_filtering', 'forward_delay', 'priority']) assert.deepEqual(br[k], bref[k], `br7 ${k}`);
  for (const n of ['br7', 'a7', 'vx7']) await sh(['ip', '-n', ns, 'link', 'del', n]);
});

test('CLI add/set/del with iproute2 syntax', { skip }, async () => {
  const weft = (...a: string[]) => run(['node', 'dist/src/cli/main.js', ...a, '--netns', ns]);
  const first = await weft('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
  assert.equal(first.code, 0, first.stderr);
  const r = await weft('link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '198.18.0.1', 'dev', 'eth0', 'nolearning');
  assert.equal(r.code, 0, r.stderr);
  const d = (await ipLink(ns, 'vx0')).linkinfo.info_data;
  assert.deepEqual([d.id, d.port, d.local, d.link, d.learning], [42, 4789, '198.18.0.1', 'eth0', false]);
  assert.equal((await weft('link', 'set', 'vx0', 'mtu', '1400', 'up')).code, 0);
  assert.equal((await ipLink(ns, 'vx0')).mtu, 1400);
  const bad = await weft('link', 'add', 'vx1', 'type', 'vxlan', 'id', '0');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^weft: link vx1: vni must be between 1 and 16777215, got 0 \[ERR_WEFT_LINK_CONFIG\]\n$/);
  assert.equal((await weft('link', 'del', 'vx0')).code, 0);
  assert.equal((await weft('link', 'del', 'eth0')).code, 0);
  assert.deepEqual(await names(ns), ['lo']);
});
