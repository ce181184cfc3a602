/**
 * Docker's retries of a call whose reply was lost (docs/state.md): every
 * IPAM and driver call sent twice gives the same answer and leaks nothing;
 * the empty-body retries dockerd sends after a crash succeed for deletes and
 * trigger reconciliation; bad addresses and pools are refused at the door;
 * reconciliation with Docker's view releases what Docker no longer has.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../../src/cnm/controller.js';
import type { NetworkDriver } from '../../src/cnm/driver.js';
import { type EndpointRecord, type NetworkRecord, linkName, ownsLinkName } from '../../src/cnm/model.js';
import { Ipam, LOCAL_SPACE } from '../../src/cnm/ipam.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import type { KvStore, WatchEvent } from '../../src/control/store.js';
import { PluginServer } from '../../src/plugin/server.js';
import { reconcileWithDocker } from '../../src/daemon/docker-reconcile.js';

class NullDriver implements NetworkDriver {
  removed: string[] = [];
  constructor(readonly mode: NetworkRecord['mode']) {}
  validate(): void {}
  async ensureNetwork() {}
  async removeNetwork(n: NetworkRecord) { this.removed.push(n.id); }
  async ensureEndpoint() {}
  async removeEndpoint(_n: NetworkRecord, ep: EndpointRecord) { this.removed.push(ep.id); }
  joinInfo() { return {}; }
  async sweepOrphans() { return []; }
}

let dir: string;
let store: EmbeddedStore;
let controller: Controller;
let server: PluginServer;
let socket: string;
let lostRetries = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-retries-'));
  socket = join(dir, 'weft.sock');
  store = EmbeddedStore.open(join(dir, 'state'));
  controller = new Controller(store, [new NullDriver('overlay'), new NullDriver('bridge'), new NullDriver('macvlan')]);
  controller.onLostRetry = () => lostRetries++;
  server = await PluginServer.listen(socket, controller, () => undefined);
});

after(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function call(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) as Record<string, unknown> : {} }));
    });
    req.on('error', reject);
    req.end(body === undefined ? '' : JSON.stringify(body));
  });
}

/** Sends a call twice (the reply to the first lost) and returns both answers. */
async function twice(path: string, body: unknown) {
  const a = await call(path, body);
  const b = await call(path, body);
  return [a, b] as const;
}

const keys = async (prefix: string) => [...(await store.list(prefix)).keys()].sort();

test('every IPAM and driver call sent twice: same answer, nothing leaked', async () => {
  const nid = 'c3'.repeat(32);
  const eid = 'd4'.repeat(32);
  const mac = '02:42:c6:13:33:02';
  const [p1, p2] = await twice('/IpamDriver.RequestPool', { AddressSpace: LOCAL_SPACE, Pool: '198.19.51.0/24', SubPool: '', V6: false, Options: {} });
  assert.equal(p1.status, 200, JSON.stringify(p1.json));
  assert.deepEqual(p2.json, p1.json, 'RequestPool retried: the same pool');
  const poolId = p1.json.PoolID as string;
  const [g1, g2] = await twice('/IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } });
  assert.equal(g1.json.Address, '198.19.51.1/24');
  assert.deepEqual(g2.json, g1.json, 'a retried gateway request returns the gateway');
  const [n1, n2] = await twice('/NetworkDriver.CreateNetwork', {
    NetworkID: nid, Options: { 'com.docker.network.generic': { 'weft.vni': '4242' } },
    IPv4Data: [{ AddressSpace: LOCAL_SPACE, Pool: '198.19.51.0/24', Gateway: '198.19.51.1/24' }], IPv6Data: [],
  });
  assert.deepEqual([n1.status, n2.status], [200, 200]);
  assert.deepEqual(await keys('vni/'), ['vni/4242']);
  const [a1, a2] = await twice('/IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: { 'com.docker.network.endpoint.macaddress': mac } });
  assert.equal(a1.json.Address, '198.19.51.2/24');
  assert.deepEqual(a2.json, a1.json, 'RequestAddress retried with the same MAC: the same address');
  const [s1, s2] = await twice('/IpamDriver.RequestAddress', { PoolID: poolId, Address: '198.19.51.77', Options: { 'com.docker.network.endpoint.macaddress': '02:42:00:00:00:77' } });
  assert.deepEqual([s1.json.Address, s2.json.Address], ['198.19.51.77/24', '198.19.51.77/24'], 'a static address retried by its owner');
  const [e1, e2] = await twice('/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: eid, Interface: { Address: '198.19.51.2/24', AddressIPv6: '', MacAddress: mac } });
  assert.deepEqual([e1.status, e2.status, e2.json], [200, 200, e1.json]);
  const [j1, j2] = await twice('/NetworkDriver.Join', { NetworkID: nid, EndpointID: eid, SandboxKey: '/var/run/docker/netns/x' });
  assert.deepEqual(j2.json, j1.json);
  for (const m of ['Leave', 'DeleteEndpoint']) {
    const [r1, r2] = await twice(`/NetworkDriver.${m}`, { NetworkID: nid, EndpointID: eid });
    assert.deepEqual([r1.status, r2.status], [200, 200], m);
  }
  for (const a of ['198.19.51.2', '198.19.51.77', '198.19.51.1']) {
    const [r1, r2] = await twice('/IpamDriver.ReleaseAddress', { PoolID: poolId, Address: a });
    assert.deepEqual([r1.status, r2.status], [200, 200]);
  }
  const [rp1, rp2] = await twice('/IpamDriver.ReleasePool', { PoolID: poolId });
  assert.deepEqual([rp1.status, rp2.status], [200, 200]);
  const [d1, d2] = await twice('/NetworkDriver.DeleteNetwork', { NetworkID: nid });
  assert.deepEqual([d1.status, d2.status], [200, 200]);
  assert.deepEqual(await keys(''), [], 'no pool, address, VNI, network or endpoint left');
});

test('a pool a network already holds is not handed out again as a "retry"', async () => {
  const ipam = new Ipam(store);
  const p = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.52.0/24', v6: false });
  await ipam.requestAddress(p.id, undefined, { mac: '02:42:00:00:00:01' });
  await assert.rejects(ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.52.0/24', v6: false }), /overlaps/, 'it has endpoint addresses');
  const q = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.53.0/24', v6: false });
  await assert.rejects(ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.53.0/24', v6: false }, ['198.19.53.0/24']), /overlaps/, 'a network uses it');
  await ipam.releasePool(p.id);
  await ipam.releasePool(q.id);
});

test('empty-body retries (what dockerd sends after a crash) succeed for deletes and ask for reconciliation', async () => {
  const before = lostRetries;
  for (const m of ['/NetworkDriver.DeleteEndpoint', '/NetworkDriver.Leave', '/NetworkDriver.DeleteNetwork', '/IpamDriver.ReleaseAddress', '/IpamDriver.ReleasePool']) {
    assert.equal((await call(m, undefined)).status, 200, m);
  }
  assert.equal(lostRetries - before, 5);
  const r = await call('/IpamDriver.RequestAddress', undefined);
  assert.equal(r.status, 400);
  assert.match(String(r.json.Err), /PoolID is required/);
});

test('addresses, prefixes and pools are validated before anything is stored', async () => {
  for (const pool of ['127.0.0.0/8', '224.0.0.0/24', '::/0', '0.0.0.0/0', '10.0.0.0/7', 'ff02::/64', '198.19.0.0/33', 'garbage']) {
    const r = await call('/IpamDriver.RequestPool', { AddressSpace: LOCAL_SPACE, Pool: pool, V6: pool.includes(':') });
    assert.equal(r.status, 500, pool);
    const n = await call('/NetworkDriver.CreateNetwork', { NetworkID: 'e5'.repeat(32), Options: { 'com.docker.network.generic': { 'weft.mode': 'bridge' } }, IPv4Data: [{ Pool: pool }], IPv6Data: [] });
    assert.equal(n.status, 500, `CreateNetwork ${pool}`);
  }
  const nid = 'f6'.repeat(32);
  assert.equal((await call('/NetworkDriver.CreateNetwork', { NetworkID: nid, Options: { 'com.docker.network.generic': { 'weft.mode': 'bridge' } }, IPv4Data: [{ Pool: '198.19.54.0/24', Gateway: '198.19.54.1/24' }], IPv6Data: [] })).status, 200);
  for (const address of ['garbage', '127.0.0.1/8', '224.0.0.5/24', '198.19.99.2/24', '198.19.54.2']) {
    const r = await call('/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: 'a7'.repeat(32), Interface: { Address: address, AddressIPv6: '', MacAddress: '' } });
    assert.equal(r.status, 500, address);
    assert.ok(r.json.Err, address);
  }
  assert.deepEqual(await keys('endpoints/'), []);
  assert.equal((await call('/NetworkDriver.DeleteNetwork', { NetworkID: nid })).status, 200);
});

test('link names: instance-tagged, 15 characters, distinct for IDs sharing a long prefix', async () => {
  const a = `${'ab'.repeat(10)}0000`;
  const b = `${'ab'.repeat(10)}1111`;
  assert.notEqual(linkName('container', '', a), linkName('container', '', b));
  assert.notEqual(linkName('bridge', 'one', a), linkName('bridge', 'two', a));
  for (const kind of ['bridge', 'container', 'port', 'ingress'] as const) {
    const n = linkName(kind, 'one', a);
    assert.equal(n.length, 15);
    assert.ok(ownsLinkName(n, 'one') && !ownsLinkName(n, 'two'));
  }
  // Endpoints whose IDs share 12 (and 63) characters get their own links.
  const nid = 'b8'.repeat(32);
  await controller.createNetwork({ id: nid, options: { 'weft.mode': 'bridge' }, internal: false, ipv6: false, ipv4: [{ pool: '198.19.55.0/24', aux: {} }], ipv6Subnets: [] });
  const e1 = `${'c'.repeat(63)}1`;
  const e2 = `${'c'.repeat(63)}2`;
  await controller.createEndpoint(nid, e1, { address: '198.19.55.2/24', addressV6: '', mac: '' });
  await controller.createEndpoint(nid, e2, { address: '198.19.55.3/24', addressV6: '', mac: '' });
  const [r1, r2] = [await controller.endpoint(e1), await controller.endpoint(e2)];
  assert.equal(new Set([r1.srcName, r1.portName, r2.srcName, r2.portName]).size, 4);
  await controller.deleteEndpoint(nid, e1);
  await controller.deleteEndpoint(nid, e2);
  await controller.deleteNetwork(nid);
});

test('reconciliation with Docker releases networks, endpoints, addresses and pools Docker no longer has', async () => {
  const ipam = controller.ipam;
  const keep = 'aa'.repeat(32);
  const gone = 'bb'.repeat(32);
  const pk = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.56.0/24', v6: false });
  const pg = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.57.0/24', v6: false });
  await ipam.requestAddress(pk.id, undefined, { gateway: true });
  for (const [id, pool] of [[keep, '198.19.56.0/24'], [gone, '198.19.57.0/24']] as const) {
    await controller.createNetwork({ id, options: {}, internal: false, ipv6: false, ipv4: [{ pool, gateway: pool.replace('0/24', '1/24'), aux: {} }], ipv6Subnets: [] });
  }
  const a = await ipam.requestAddress(pk.id, undefined, { mac: '02:42:00:00:00:0a' });
  const leaked = await ipam.requestAddress(pk.id, undefined, { mac: '02:42:00:00:00:0b' });
  await controller.createEndpoint(keep, 'e1'.repeat(32), { address: a, addressV6: '', mac: '' });
  await controller.createEndpoint(keep, 'e2'.repeat(32), { address: leaked, addressV6: '', mac: '' });
  await controller.join(keep, 'e2'.repeat(32), '/var/run/docker/netns/gone');
  const unjoined = await ipam.requestAddress(pk.id, undefined, { mac: '02:42:00:00:00:0c' });
  await controller.createEndpoint(keep, 'e4'.repeat(32), { address: unjoined, addressV6: '', mac: '' });
  await controller.createEndpoint(gone, 'e3'.repeat(32), { address: '198.19.57.2/24', addressV6: '', mac: '' });
  const view = {
    networks: new Map([[keep, new Set(['e1'.repeat(32)])]]),
    subnets: new Map([['198.19.56.0/24', new Set(['198.19.56.1', a.split('/')[0]!])]]),
  };
  const young = await reconcileWithDocker(controller, view, 60_000);
  assert.deepEqual(young, { networks: [], endpoints: [], addresses: [], pools: [] }, 'nothing younger than the grace period is touched');
  const r = await reconcileWithDocker(controller, view, 1000, Date.now() + 2000);
  assert.deepEqual(r.networks, [gone]);
  assert.deepEqual(r.endpoints, ['e2'.repeat(32)], 'a joined endpoint Docker does not list goes after one period');
  assert.deepEqual(r.addresses, [`${pk.id}:${leaked.split('/')[0]}`], 'the released endpoint\'s address; one an endpoint record holds stays, and the gateway');
  assert.deepEqual(r.pools, [pg.id]);
  const later = await reconcileWithDocker(controller, view, 1000, Date.now() + 31_000);
  assert.deepEqual(later.endpoints, ['e4'.repeat(32)], 'one that never joined only after the longer grace');
  assert.deepEqual(later.addresses, [`${pk.id}:${unjoined.split('/')[0]}`]);
  assert.deepEqual((await controller.endpoints()).map((e) => e.id), ['e1'.repeat(32)]);
  assert.deepEqual(await keys('vni/'), [`vni/${(await controller.network(keep)).vni}`]);
  await controller.deleteEndpoint(keep, 'e1'.repeat(32));
  await controller.deleteNetwork(keep);
  await ipam.releasePool(pk.id);
  assert.deepEqual(await keys(''), []);
});

/** The embedded store under another kind: what a shared (etcd) store looks like to the reconciliation. */
class SharedStore implements KvStore {
  readonly kind = 'etcd';
  constructor(private readonly inner: KvStore) {}
  get(key: string) { return this.inner.get(key); }
  list(prefix: string) { return this.inner.list(prefix); }
  put(key: string, value: string) { return this.inner.put(key, value); }
  create(key: string, value: string) { return this.inner.create(key, value); }
  delete(key: string) { return this.inner.delete(key); }
  watch(prefix: string, onEvent: (e: WatchEvent) => void, onResync?: () => void) { return this.inner.watch(prefix, onEvent, onResync); }
  close() { return this.inner.close(); }
}

test('with a shared store, a host releases only its own endpoints and address claims its Docker no longer has', async () => {
  const sdir = mkdtempSync(join(tmpdir(), 'weft-shared-'));
  const inner = EmbeddedStore.open(join(sdir, 'state'));
  const shared = new SharedStore(inner);
  const drivers = () => [new NullDriver('overlay'), new NullDriver('bridge'), new NullDriver('macvlan')];
  const h1 = new Controller(shared, drivers(), undefined, 'h1');
  const h2 = new Controller(shared, drivers(), undefined, 'h2');
  try {
    const net = 'c1'.repeat(32);
    const other = 'c2'.repeat(32);
    const pool = await h1.ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.58.0/24', v6: false });
    const pool2 = await h1.ipam.requestPool({ space: LOCAL_SPACE, pool: '198.19.59.0/24', v6: false });
    await h1.createNetwork({ id: net, options: {}, internal: false, ipv6: false, ipv4: [{ pool: '198.19.58.0/24', gateway: '198.19.58.1/24', aux: {} }], ipv6Subnets: [] });
    await h1.createNetwork({ id: other, options: {}, internal: false, ipv6: false, ipv4: [{ pool: '198.19.59.0/24', gateway: '198.19.59.1/24', aux: {} }], ipv6Subnets: [] });
    const ep = async (c: Controller, nid: string, poolId: string, id: string) => {
      const address = await c.ipam.requestAddress(poolId, undefined);
      await c.createEndpoint(nid, id, { address, addressV6: '', mac: '' });
      await c.join(nid, id, '/var/run/docker/netns/x');
      return address.split('/')[0]!;
    };
    const live = 'e5'.repeat(32);
    const stale = 'e6'.repeat(32);
    const theirs = 'e7'.repeat(32);
    const unseen = 'e8'.repeat(32);
    await ep(h1, net, pool.id, live);
    const staleIp = await ep(h1, net, pool.id, stale);
    const theirIp = await ep(h2, net, pool.id, theirs);
    await ep(h1, other, pool2.id, unseen);
    // Claims with no endpoint record: h1's Docker asked for two (it holds one), h2's for one.
    const leaked = (await h1.ipam.requestAddress(pool.id, undefined, { host: 'h1' })).split('/')[0]!;
    const heldByDocker = (await h1.ipam.requestAddress(pool.id, undefined, { host: 'h1' })).split('/')[0]!;
    await h1.ipam.requestAddress(pool.id, undefined, { host: 'h2' });
    // h1's Docker lists `live` on `net` and does not show `other` at all.
    const view = { networks: new Map([[net, new Set([live])]]), subnets: new Map([['198.19.58.0/24', new Set(['198.19.58.1', heldByDocker])]]) };
    assert.deepEqual(await reconcileWithDocker(h1, view, 60_000), { networks: [], endpoints: [], addresses: [], pools: [] }, 'nothing younger than the grace period');
    const r = await reconcileWithDocker(h1, view, 1000, Date.now() + 2000);
    assert.deepEqual(r, { networks: [], endpoints: [stale], addresses: [`${pool.id}:${staleIp}`], pools: [] });
    assert.deepEqual((await h1.endpoints()).map((e) => e.id).sort(), [live, theirs, unseen].sort(), "h2's endpoint and those of a network h1's Docker does not show stay");
    assert.ok((await h1.ipam.claims(pool.id)).has(theirIp));
    // A stale endpoint whose address went back and was handed out again: the newer claim is not its own.
    const again = 'e9'.repeat(32);
    await h1.createEndpoint(net, again, { address: `${staleIp}/24`, addressV6: '', mac: '' });
    const rec = JSON.parse((await inner.get(`endpoints/${again}`))!) as EndpointRecord;
    await inner.put(`endpoints/${again}`, JSON.stringify({ ...rec, created: Date.now() - 10_000 }));
    await h1.ipam.requestAddress(pool.id, staleIp);
    const r2 = await reconcileWithDocker(h1, view, 1000, Date.now() + 31_000);
    assert.deepEqual(r2.endpoints, [again]);
    assert.deepEqual(r2.addresses, [`${pool.id}:${leaked}`], "again's claim is newer than it; after the longer grace, h1's claim nothing holds");
    const claims = await h1.ipam.claims(pool.id);
    assert.ok(claims.has(staleIp) && claims.has(heldByDocker) && !claims.has(leaked));
    assert.equal([...claims.values()].filter((c) => c.host === 'h2').length, 1, "h2's claim is h2's to judge");
  } finally {
    await inner.close();
    rmSync(sdir, { recursive: true, force: true });
  }
});

test('store back-off: exponential with jitter in the upper half, capped at 30 s', async () => {
  const { backoffMs } = await import('../../src/control/backoff.js');
  const ceilings = [1, 2, 3, 4, 5, 8, 9, 50].map((f) => backoffMs(f, () => 1));
  assert.deepEqual(ceilings, [250, 500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  for (let f = 1; f < 12; f++) {
    const hi = backoffMs(f, () => 1);
    assert.equal(backoffMs(f, () => 0), hi / 2, 'the lower bound is half the ceiling');
  }
});
