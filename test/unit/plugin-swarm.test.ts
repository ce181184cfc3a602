/**
 * The swarm side of the plugin API (src/plugin/swarm.ts) with the real
 * controller, IPAM and embedded store and a recording driver: capabilities,
 * AllocateNetwork's option check, per-node holders of a swarm network ID,
 * and the IPAM repeats a manager and its workers send (docs/swarm.md).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../../src/cnm/controller.js';
import type { NetworkDriver } from '../../src/cnm/driver.js';
import type { NetworkRecord } from '../../src/cnm/model.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { handle } from '../../src/plugin/api.js';
import { enableSwarm, isSwarmId } from '../../src/plugin/swarm.js';
import { optionsFromEnv } from '../../src/daemon/plugin-env.js';

class Quiet implements NetworkDriver {
  constructor(readonly mode: NetworkRecord['mode']) {}
  validate(): void {}
  async ensureNetwork() {}
  async removeNetwork() {}
  async ensureEndpoint() {}
  async removeEndpoint() {}
  joinInfo() { return { gateway: '' }; }
  async sweepOrphans() { return []; }
}

let dir: string;
let store: EmbeddedStore;
let swarm: Controller;
let legacy: Controller;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-swarm-'));
  store = EmbeddedStore.open(dir);
  const drivers = () => [new Quiet('overlay'), new Quiet('bridge'), new Quiet('macvlan')];
  swarm = new Controller(store, drivers(), undefined, 'h1');
  legacy = new Controller(store, drivers(), undefined, 'h1');
  enableSwarm(swarm);
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(c: Controller, method: string, body: unknown = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await handle({ method: 'POST', path: `/${method}`, headers: {}, body: Buffer.from(JSON.stringify(body)) }, c);
  return { status: r.response.status, body: JSON.parse(String(r.response.body)) as Record<string, unknown> };
}

const NID = 'txyh5s0g5tw1blh5xq56d42we';

test('capabilities: global with swarm enabled, local on the legacy socket', async () => {
  assert.deepEqual((await call(swarm, 'NetworkDriver.GetCapabilities')).body, { Scope: 'global', ConnectivityScope: 'global' });
  assert.equal((await call(legacy, 'NetworkDriver.GetCapabilities')).body.Scope, 'local');
  assert.ok(isSwarmId(NID) && !isSwarmId('a'.repeat(64)));
});

test('AllocateNetwork echoes good options and refuses bad ones with a clear Err', async () => {
  const ok = await call(swarm, 'NetworkDriver.AllocateNetwork', { NetworkID: NID, Options: { 'com.docker.network.driver.mtu': '1400' }, IPv4Data: [{ AddressSpace: '', Pool: '198.19.60.0/24', Gateway: '198.19.60.1/24' }], IPv6Data: null });
  assert.deepEqual(ok, { status: 200, body: { Options: { 'com.docker.network.driver.mtu': '1400' } } });
  const bad = await call(swarm, 'NetworkDriver.AllocateNetwork', { NetworkID: NID, Options: { 'weft.mode': 'bogus' } });
  assert.equal(bad.status, 500);
  assert.match(String(bad.body.Err), /weft\.mode must be one of/);
  assert.equal((await call(swarm, 'NetworkDriver.FreeNetwork', { NetworkID: NID })).status, 200);
});

test('IPAM repeats on one node are claims; releases free the allocation last; no address twice', async () => {
  const space = String((await call(swarm, 'IpamDriver.GetDefaultAddressSpaces')).body.GlobalDefaultAddressSpace);
  const req = { AddressSpace: space, Pool: '198.19.60.0/24', SubPool: '', Options: {}, V6: false };
  const p1 = (await call(swarm, 'IpamDriver.RequestPool', req)).body;
  const p2 = (await call(swarm, 'IpamDriver.RequestPool', req)).body;
  assert.equal(p1.PoolID, p2.PoolID, 'the node asks again for the pool the allocator holds');
  const PoolID = p1.PoolID;
  const gw = { PoolID, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } };
  assert.equal((await call(swarm, 'IpamDriver.RequestAddress', gw)).body.Address, '198.19.60.1/24');
  assert.equal((await call(swarm, 'IpamDriver.RequestAddress', { ...gw, Address: '198.19.60.1' })).body.Address, '198.19.60.1/24');
  const task = String((await call(swarm, 'IpamDriver.RequestAddress', { PoolID, Address: '', Options: null })).body.Address);
  const again = await call(swarm, 'IpamDriver.RequestAddress', { PoolID, Address: task.split('/')[0], Options: null });
  assert.equal(again.body.Address, task, 'the node claims the address the allocator chose');
  const other = String((await call(swarm, 'IpamDriver.RequestAddress', { PoolID, Address: '', Options: null })).body.Address);
  assert.notEqual(other, task);
  await call(swarm, 'IpamDriver.ReleaseAddress', { PoolID, Address: task.split('/')[0] });
  assert.ok((await swarm.ipam.addresses(String(PoolID))).includes(task.split('/')[0]!), 'one release drops the claim only');
  await call(swarm, 'IpamDriver.ReleaseAddress', { PoolID, Address: task.split('/')[0] });
  await call(swarm, 'IpamDriver.ReleaseAddress', { PoolID, Address: other.split('/')[0] });
  for (let i = 0; i < 2; i++) await call(swarm, 'IpamDriver.ReleaseAddress', { PoolID, Address: '198.19.60.1' });
  assert.deepEqual(await swarm.ipam.addresses(String(PoolID)), []);
  await call(swarm, 'IpamDriver.ReleasePool', { PoolID });
  assert.equal((await swarm.ipam.pools()).length, 1, 'the first ReleasePool drops the claim');
  await call(swarm, 'IpamDriver.ReleasePool', { PoolID });
  assert.equal((await swarm.ipam.pools()).length, 0);
  assert.equal((await store.list('swarm/')).size, 0, 'no claim left');
});

test('a swarm network ID held by two nodes goes only with the last DeleteNetwork', async () => {
  const h2 = new Controller(store, [new Quiet('overlay')], undefined, 'h2');
  enableSwarm(h2);
  const body = { NetworkID: NID, Options: { 'com.docker.network.generic': {} }, IPv4Data: [{ AddressSpace: 'weft-global', Pool: '198.19.60.0/24', Gateway: '198.19.60.1/24' }], IPv6Data: [] };
  assert.equal((await call(swarm, 'NetworkDriver.CreateNetwork', body)).status, 200);
  assert.equal((await call(h2, 'NetworkDriver.CreateNetwork', body)).status, 200);
  await call(swarm, 'NetworkDriver.DeleteNetwork', { NetworkID: NID });
  assert.ok(await store.get(`networks/${NID}`), 'h2 still holds it');
  await call(h2, 'NetworkDriver.DeleteNetwork', { NetworkID: NID });
  assert.equal(await store.get(`networks/${NID}`), undefined);
  assert.equal((await store.list('swarm/')).size, 0);
});

test('DiscoverDelete of a departed node drops its holds, so the last remaining node removes the network', async () => {
  const h2 = new Controller(store, [new Quiet('overlay')], undefined, 'h2');
  enableSwarm(h2);
  await store.put('hosts/h2', JSON.stringify({ name: 'h2', address: '198.18.0.2' }));
  const body = { NetworkID: NID, Options: { 'com.docker.network.generic': {} }, IPv4Data: [{ AddressSpace: 'weft-global', Pool: '198.19.60.0/24', Gateway: '198.19.60.1/24' }], IPv6Data: [] };
  await call(swarm, 'NetworkDriver.CreateNetwork', body);
  await call(h2, 'NetworkDriver.CreateNetwork', body);
  const gone = await call(swarm, 'NetworkDriver.DiscoverDelete', { DiscoveryType: 1, DiscoveryData: { Address: '198.18.0.2', BindAddress: '', Self: false } });
  assert.equal(gone.status, 200);
  await call(swarm, 'NetworkDriver.DeleteNetwork', { NetworkID: NID });
  assert.equal(await store.get(`networks/${NID}`), undefined);
  assert.equal((await store.list('swarm/')).size, 0);
  await store.delete('hosts/h2');
});

test('plugin env: defaults, settings and clear errors', () => {
  const o = optionsFromEnv({ WEFT_STORE: 'etcd://198.18.0.254:2379', WEFT_LOCAL_ADDRESS: '198.18.0.1', WEFT_DNS_UPSTREAMS: '198.18.0.53, 198.18.0.54:5353' });
  assert.equal(o.dataScope, 'global');
  assert.equal(o.socket, '/run/docker/plugins/weft.sock');
  assert.deepEqual(o.dnsUpstreams, [{ address: '198.18.0.53', port: 53 }, { address: '198.18.0.54', port: 5353 }]);
  assert.throws(() => optionsFromEnv({ WEFT_LOG_LEVEL: 'loud' }), /WEFT_LOG_LEVEL must be one of/);
  assert.throws(() => optionsFromEnv({ WEFT_LEASE_TTL: '1' }), /WEFT_LEASE_TTL/);
});
