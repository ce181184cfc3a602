/**
 * Addresses, routes, neighbours, FDB entries, events and sysctls in a fresh
 * lab namespace, checked against `ip -j addr|route|neigh` and `bridge -j fdb`.
 * Re-adding through the idempotent paths never fails (docker-internals §1.13).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { Lab, rootSkipReason } from '../support/lab.js';
import { json, run, sh } from '../support/exec.js';
import { Rtnl } from '../../src/netlink/rtnetlink/handle.js';
import { addLink } from '../../src/netlink/rtnetlink/link-ops.js';
import { addAddress, deleteAddress, listAddresses, replaceAddress } from '../../src/netlink/rtnetlink/addr.js';
import { addRoute, deleteRoute, replaceRoute } from '../../src/netlink/rtnetlink/route.js';
import { addNeighbour, deleteNeighbour, replaceNeighbour } from '../../src/netlink/rtnetlink/neigh.js';
import { ZERO_MAC, addFdb, appendFdb, deleteFdb, replaceFdb } from '../../src/netlink/rtnetlink/fdb.js';
import { RtnlEvents, type RtnlEvent } from '../../src/netlink/rtnetlink/events.js';
import { SysctlChanges, netSysctl, readSysctl } from '../../src/io/sysctl.js';
import { ensureAddress, ensureLink } from '../../src/dataplane/ensure.js';

const skip = rootSkipReason();
let lab: Lab;
let ns: string;
let rtnl: Rtnl;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  ns = await lab.netns('ob');
  rtnl = Rtnl.open({ netns: ns });
  await addLink(rtnl, { name: 'eth0', kind: 'veth', up: true, veth: { peer: { name: 'eth1' } } });
  await sh(['ip', '-n', ns, 'link', 'set', 'eth1', 'up']);
  await addLink(rtnl, { name: 'vx0', kind: 'vxlan', up: true, vxlan: { id: 42, local: '198.18.0.1', learning: false, proxy: true, l2miss: true, l3miss: true } });
});

after(async () => {
  if (skip) return;
  rtnl.close();
  await lab.destroy();
});

test('addresses v4/v6 vs ip -j addr; replace is idempotent', { skip }, async () => {
  await addAddress(rtnl, { dev: 'eth0', address: '198.18.0.1/24', broadcast: '+', label: 'eth0:w' });
  await addAddress(rtnl, { dev: 'eth0', address: 'fd00::1/64', nodad: true });
  const [l] = await json<any[]>(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', 'eth0']);
  const v4 = l.addr_info.find((a: any) => a.family === 'inet');
  assert.deepEqual([v4.local, v4.prefixlen, v4.broadcast, v4.label, v4.scope], ['198.18.0.1', 24, '198.18.0.255', 'eth0:w', 'global']);
  const v6 = l.addr_info.find((a: any) => a.local === 'fd00::1');
  assert.deepEqual([v6.prefixlen, v6.nodad], [64, true]);
  await assert.rejects(addAddress(rtnl, { dev: 'eth0', address: '198.18.0.1/24' }), (e: any) => e.code === 'ERR_WEFT_ADDRESS' && /198\.18\.0\.1\/24 on eth0: EEXIST/.test(e.message));
  await replaceAddress(rtnl, { dev: 'eth0', address: '198.18.0.1/24', broadcast: '+', label: 'eth0:w' });
  assert.equal((await ensureAddress(rtnl, { dev: 'eth0', address: '198.18.0.1/24' })).action, 'unchanged');
  assert.equal((await listAddresses(rtnl, { dev: 'eth0', family: 2 })).length, 1);
  await deleteAddress(rtnl, { dev: 'eth0', address: 'fd00::1/64' });
  await assert.rejects(addAddress(rtnl, { dev: 'nope0', address: '198.18.9.1/24' }), (e: any) => e.code === 'ERR_WEFT_LINK_NOT_FOUND');
});

test('routes vs ip -j route; replace is idempotent', { skip }, async () => {
  await addRoute(rtnl, { dst: '198.19.0.0/16', gateway: '198.18.0.2', metric: 5 });
  await addRoute(rtnl, { dst: '198.18.128.0/24', dev: 'eth0' });
  await assert.rejects(addRoute(rtnl, { dst: '198.19.0.0/16', gateway: '198.18.0.2', metric: 5 }), (e: any) => e.code === 'ERR_WEFT_ROUTE' && e.errno === 'EEXIST');
  await replaceRoute(rtnl, { dst: '198.19.0.0/16', gateway: '198.18.0.2', metric: 5 });
  const routes = await json<any[]>(['ip', '-n', ns, '-j', 'route']);
  const r1 = routes.find((r) => r.dst === '198.19.0.0/16');
  assert.deepEqual([r1.gateway, r1.dev, r1.metric, r1.protocol], ['198.18.0.2', 'eth0', 5, undefined]);
  const r2 = routes.find((r) => r.dst === '198.18.128.0/24');
  assert.deepEqual([r2.dev, r2.scope], ['eth0', 'link']);
  const mine = JSON.parse((await sh(['node', 'dist/src/cli/main.js', 'route', 'ls', '--json', '--netns', ns])));
  assert.deepEqual(mine, routes);
  await deleteRoute(rtnl, { dst: '198.19.0.0/16', gateway: '198.18.0.2', metric: 5 });
  await deleteRoute(rtnl, { dst: '198.18.128.0/24', dev: 'eth0' });
  assert.equal((await json<any[]>(['ip', '-n', ns, '-j', 'route'])).length, 1);
});

test('neighbours (permanent, proxy) vs ip -j neigh; re-adding never fails', { skip }, async () => {
  await addNeighbour(rtnl, { dev: 'vx0', dst: '198.19.0.2', lladdr: '02:42:c6:13:00:02', state: 'permanent' });
  await assert.rejects(addNeighbour(rtnl, { dev: 'vx0', dst: '198.19.0.2', lladdr: '02:42:c6:13:00:03' }), (e: any) => e.code === 'ERR_WEFT_NEIGHBOUR' && e.errno === 'EEXIST');
  // A stale entry with another MAC is overwritten by REPLACE (no drift).
  await replaceNeighbour(rtnl, { dev: 'vx0', dst: '198.19.0.3', lladdr: '02:00:00:00:00:99', state: 'stale' });
  await replaceNeighbour(rtnl, { dev: 'vx0', dst: '198.19.0.3', lladdr: '02:42:c6:13:00:03', state: 'permanent' });
  await replaceNeighbour(rtnl, { dev: 'vx0', dst: '198.19.0.3', lladdr: '02:42:c6:13:00:03', state: 'permanent' });
  await addNeighbour(rtnl, { dev: 'eth0', dst: '198.18.0.9', proxy: true });
  const neigh = await json<any[]>(['ip', '-n', ns, '-j', 'neigh', 'show', 'dev', 'vx0']);
  assert.deepEqual(neigh.map((n) => [n.dst, n.lladdr, n.state]).sort(), [
    ['198.19.0.2', '02:42:c6:13:00:02', ['PERMANENT']], ['198.19.0.3', '02:42:c6:13:00:03', ['PERMANENT']],
  ]);
  const proxy = await json<any[]>(['ip', '-n', ns, '-j', 'neigh', 'show', 'proxy']);
  assert.deepEqual(proxy, [{ dst: '198.18.0.9', dev: 'eth0', proxy: null }]);
  const mine = JSON.parse(await sh(['node', 'dist/src/cli/main.js', 'neigh', 'ls', 'proxy', '--json', '--netns', ns]));
  assert.deepEqual(mine, proxy);
  const all = JSON.parse(await sh(['node', 'dist/src/cli/main.js', 'neigh', 'ls', '--json', '--netns', ns]));
  assert.deepEqual(all, await json<any[]>(['ip', '-n', ns, '-j', 'neigh']));
  await deleteNeighbour(rtnl, { dev: 'eth0', dst: '198.18.0.9', proxy: true });
  await deleteNeighbour(rtnl, { dev: 'vx0', dst: '198.19.0.3' });
  await deleteNeighbour(rtnl, { dev: 'vx0', dst: '198.19.0.3' }, { ignoreMissing: true });
});

test('FDB on vxlan vs bridge -j fdb: add, append for flooding, replace, re-add, delete', { skip }, async () => {
  await addFdb(rtnl, { dev: 'vx0', mac: '02:42:c6:13:00:02', dst: '198.18.0.2', vni: 42, port: 4789 });
  await assert.rejects(addFdb(rtnl, { dev: 'vx0', mac: '02:42:c6:13:00:02', dst: '198.18.0.2' }), (e: any) => e.code === 'ERR_WEFT_FDB' && e.errno === 'EEXIST');
  await replaceFdb(rtnl, { dev: 'vx0', mac: '02:42:c6:13:00:02', dst: '198.18.0.3' });
  await replaceFdb(rtnl, { dev: 'vx0', mac: '02:42:c6:13:00:02', dst: '198.18.0.3' });
  await appendFdb(rtnl, { dev: 'vx0', mac: ZERO_MAC, dst: '198.18.0.2' });
  await appendFdb(rtnl, { dev: 'vx0', mac: ZERO_MAC, dst: '198.18.0.3' });
  const theirs = (await json<any[]>(['bridge', '-n', ns, '-j', 'fdb', 'show'])).filter((e) => e.ifname === 'vx0');
  const mine = JSON.parse(await sh(['node', 'dist/src/cli/main.js', 'fdb', 'ls', '--json', '--netns', ns])).filter((e: any) => e.ifname === 'vx0');
  assert.deepEqual(mine, theirs);
  const uni = theirs.find((e) => e.mac === '02:42:c6:13:00:02');
  assert.deepEqual([uni.dst, uni.flags, uni.state], ['198.18.0.3', ['self'], 'permanent']);
  assert.deepEqual(theirs.filter((e) => e.mac === ZERO_MAC).map((e) => e.dst).sort(), ['198.18.0.2', '198.18.0.3']);
  await deleteFdb(rtnl, { dev: 'vx0', mac: ZERO_MAC, dst: '198.18.0.2' });
  await deleteFdb(rtnl, { dev: 'vx0', mac: '02:42:c6:13:00:02', dst: '198.18.0.3' });
  await deleteFdb(rtnl, { dev: 'vx0', mac: '02:42:c6:13:00:02', dst: '198.18.0.3' }, { ignoreMissing: true });
  const left = (await json<any[]>(['bridge', '-n', ns, '-j', 'fdb', 'show', 'dev', 'vx0']));
  assert.deepEqual(left.map((e) => [e.mac, e.dst]), [[ZERO_MAC, '198.18.0.3']]);
  // iproute2 syntax through the CLI.
  const r = await run(['node', 'dist/src/cli/main.js', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '198.18.0.4', '--netns', ns]);
  assert.equal(r.code, 0, r.stderr);
});

test('events: link/addr/neigh changes, L3 miss, and overrun surfaced', { skip }, async () => {
  const ev = RtnlEvents.open({ netns: ns });
  const seen: RtnlEvent[] = [];
  const wait = async (pred: (e: RtnlEvent) => boolean) => {
    for (;;) {
      const { value, done } = await ev.next();
      if (done) throw new Error('closed');
      seen.push(value);
      if (pred(value)) return value;
    }
  };
  try {
    await sh(['ip', '-n', ns, 'link', 'add', 'evt0', 'type', 'bridge']);
    await wait((e) => e.type === 'link' && e.action === 'new' && e.link.name === 'evt0');
    await sh(['ip', '-n', ns, 'addr', 'add', '198.18.77.1/24', 'dev', 'evt0']);
    await wait((e) => e.type === 'addr' && e.action === 'new' && e.address.local === '198.18.77.1');
    await replaceNeighbour(rtnl, { dev: 'vx0', dst: '198.19.5.5', lladdr: '02:42:c6:13:05:05' });
    await wait((e) => e.type === 'neigh' && e.action === 'new' && e.neighbour.dst === '198.19.5.5');
    await sh(['ip', '-n', ns, 'link', 'del', 'evt0']);
    await wait((e) => e.type === 'link' && e.action === 'del' && e.link.name === 'evt0');
    // An ARP request for an unknown IP through the proxying vxlan raises an L3 miss.
    await sh(['ip', '-n', ns, 'addr', 'add', '198.19.9.1/24', 'dev', 'vx0']);
    const arping = run(['ip', 'netns', 'exec', ns, 'python3', '-c', [
      'import socket,struct,time',
      's=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)',
      's.bind(("vx0",0))',
      'mac=open("/sys/class/net/vx0/address").read().strip()',
      'm=bytes.fromhex(mac.replace(":",""))',
      'arp=struct.pack("!HHBBH6s4s6s4s",1,0x0800,6,4,1,m,socket.inet_aton("198.19.9.1"),b"\\0"*6,socket.inet_aton("198.19.9.77"))',
      'f=b"\\xff"*6+m+b"\\x08\\x06"+arp',
      '[ (s.send(f), time.sleep(0.05)) for _ in range(20) ]',
    ].join('\n')]);
    const miss = await wait((e) => e.type === 'miss' && e.neighbour.dst === '198.19.9.77');
    await arping;
    assert.ok(miss.type === 'miss');
    if (miss.type === 'miss') {
      assert.equal(miss.miss, 'l3');
      assert.equal(miss.neighbour.dst, '198.19.9.77');
    }
  } finally {
    ev.close();
  }
  // A tiny receive buffer that nobody reads while 100 links appear: ENOBUFS becomes an overrun event.
  const small = RtnlEvents.open({ netns: ns, groups: ['link'], receiveBufferBytes: 4096 });
  try {
    const lines = Array.from({ length: 100 }, (_, i) => `link add ov${i} type bridge`).join('\n');
    execSync(`ip -n ${ns} -batch -`, { input: `${lines}\n` }); // blocks the event loop: nobody reads meanwhile
    let overrun = false;
    for (let i = 0; i < 200 && !overrun; i++) {
      const { value } = await small.next();
      if (value?.type === 'overrun') overrun = true;
    }
    assert.ok(overrun, 'overrun surfaced');
    execSync(`ip -n ${ns} -batch -`, { input: `${Array.from({ length: 100 }, (_, i) => `link del ov${i}`).join('\n')}\n` });
  } finally {
    small.close();
  }
});

test('per-namespace sysctls: read, write, restore', { skip }, async () => {
  const key = netSysctl.proxyArp('eth0');
  assert.equal(await readSysctl(ns, key), '0');
  const ch = new SysctlChanges(ns);
  await ch.set({ [key]: 1, [netSysctl.forwarding('ipv4', 'all')]: 1, [netSysctl.proxyDelay('eth0')]: 0 });
  assert.equal((await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.conf.eth0.proxy_arp'])).trim(), '1');
  assert.equal((await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.neigh.eth0.proxy_delay'])).trim(), '0');
  await ch.restore();
  assert.equal((await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.conf.eth0.proxy_arp'])).trim(), '0');
  assert.equal(await readSysctl(ns, netSysctl.forwarding('ipv4', 'all')), '0');
  await assert.rejects(readSysctl(ns, 'net/ipv4/conf/nope0/proxy_arp'), (e: any) => e.code === 'ERR_WEFT_SYSCTL');
  await assert.rejects(readSysctl(ns, 'kernel/hostname'), (e: any) => e.code === 'ERR_WEFT_SYSCTL');
});

test('ensureLink: create, change what differs, leave what matches', { skip }, async () => {
  const spec = { name: 'ebr0', kind: 'bridge' as const, mtu: 1450, up: true, bridge: { ageingTime: 1000 } };
  assert.equal((await ensureLink(rtnl, spec)).action, 'created');
  assert.equal((await ensureLink(rtnl, spec)).action, 'unchanged');
  await sh(['ip', '-n', ns, 'link', 'set', 'ebr0', 'mtu', '1500']);
  assert.deepEqual(await ensureLink(rtnl, spec), { action: 'changed', changed: ['mtu'] });
  const vx = { name: 'evx0', kind: 'vxlan' as const, master: 'ebr0', vxlan: { id: 100, learning: false, proxy: true } };
  assert.equal((await ensureLink(rtnl, vx)).action, 'created');
  assert.equal((await ensureLink(rtnl, vx)).action, 'unchanged');
  await sh(['ip', '-n', ns, 'link', 'set', 'evx0', 'type', 'vxlan', 'learning']);
  assert.deepEqual(await ensureLink(rtnl, vx), { action: 'changed', changed: ['vxlan'] });
  assert.equal((await json<any[]>(['ip', '-n', ns, '-j', '-d', 'link', 'show', 'evx0']))[0].linkinfo.info_data.learning, false);
  assert.deepEqual(await ensureLink(rtnl, { ...vx, vxlan: { ...vx.vxlan, id: 101 } }), { action: 'recreated', changed: ['id'] });
  const after = (await json<any[]>(['ip', '-n', ns, '-j', '-d', 'link', 'show', 'evx0']))[0];
  assert.deepEqual([after.linkinfo.info_data.id, after.master], [101, 'ebr0']);
  await assert.rejects(ensureLink(rtnl, { name: 'ebr0', kind: 'vxlan', vxlan: { id: 5 } }), (e: any) => e.code === 'ERR_WEFT_LINK_CONFIG' && /exists as bridge/.test(e.message));
  const veth = { name: 'eve0', kind: 'veth' as const, mtu: 1450, master: 'ebr0', veth: { peer: { name: 'eve1' } } };
  assert.equal((await ensureLink(rtnl, veth)).action, 'created');
  assert.equal((await ensureLink(rtnl, veth)).action, 'unchanged');
  const mv = { name: 'emv0', kind: 'macvlan' as const, parent: 'eth1', macvlan: { mode: 'bridge' as const } };
  assert.equal((await ensureLink(rtnl, mv)).action, 'created');
  assert.deepEqual(await ensureLink(rtnl, { ...mv, macvlan: { mode: 'private' } }), { action: 'changed', changed: ['macvlan'] });
});
