/**
 * Docker's plugin protocol at the HTTP level, over a real unix socket, with
 * the real controller, IPAM and store and a recording driver in place of the
 * kernel. Sequences are the ones dockerd 20.10 sends (plugin-api.md §4, §9),
 * with Docker's exact headers: no Content-Type, Accept v1.2, null maps.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../../src/cnm/controller.js';
import type { NetworkDriver } from '../../src/cnm/driver.js';
import { type NetworkRecord, linkName } from '../../src/cnm/model.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { PluginServer } from '../../src/plugin/server.js';

class RecordingDriver implements NetworkDriver {
  calls: string[] = [];
  constructor(readonly mode: NetworkRecord['mode']) {}
  validate(): void {}
  async ensureNetwork(n: NetworkRecord) { this.calls.push(`ensureNetwork ${n.id.slice(0, 4)}`); }
  async removeNetwork(n: NetworkRecord) { this.calls.push(`removeNetwork ${n.id.slice(0, 4)}`); }
  async ensureEndpoint() { this.calls.push('ensureEndpoint'); }
  async removeEndpoint() { this.calls.push('removeEndpoint'); }
  joinInfo(n: NetworkRecord) { return { gateway: n.ipv4[0]?.gateway?.split('/')[0] ?? '' }; }
  async sweepOrphans() { return []; }
}

let dir: string;
let store: EmbeddedStore;
let server: PluginServer;
let socket: string;
const overlay = new RecordingDriver('overlay');
const logs: Record<string, unknown>[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-plugin-'));
  socket = join(dir, 'plugins', 'weft.sock');
  store = EmbeddedStore.open(join(dir, 'state'));
  const controller = new Controller(store, [overlay, new RecordingDriver('bridge'), new RecordingDriver('macvlan')]);
  server = await PluginServer.listen(socket, controller, (r) => logs.push(r));
});

after(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function call(path: string, body: string | Buffer | undefined, method = 'POST'): Promise<{ status: number; json: Record<string, unknown>; raw: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method, headers: { Accept: 'application/vnd.docker.plugins.v1.2+json', Host: 'plugin.moby.localhost' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(raw); } catch { /* checked by callers */ }
        resolve({ status: res.statusCode ?? 0, json, raw });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const NID = 'a1'.repeat(32);
const EID = 'e1'.repeat(32);

test('Activate and capabilities answer with non-empty JSON', async () => {
  const a = await call('/Plugin.Activate', undefined);
  assert.equal(a.status, 200);
  assert.deepEqual(a.json, { Implements: ['NetworkDriver', 'IpamDriver'] });
  assert.deepEqual((await call('/NetworkDriver.GetCapabilities', '')).json, { Scope: 'local', ConnectivityScope: 'local' });
  assert.deepEqual((await call('/IpamDriver.GetCapabilities', '')).json, { RequiresMACAddress: true, RequiresRequestReplay: false });
  const spaces = await call('/IpamDriver.GetDefaultAddressSpaces', '');
  assert.ok(spaces.json.LocalDefaultAddressSpace);
});

test('network create, container run and stop, network rm: the sequence dockerd sends', async () => {
  const pool = await call('/IpamDriver.RequestPool', '{"AddressSpace":"weft-local","Options":{},"Pool":"198.19.40.0/24","SubPool":"","V6":false}\n');
  assert.equal(pool.status, 200);
  assert.equal(pool.json.Pool, '198.19.40.0/24');
  const poolId = pool.json.PoolID as string;
  const gw = await call('/IpamDriver.RequestAddress', JSON.stringify({ PoolID: poolId, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } }));
  assert.equal(gw.json.Address, '198.19.40.1/24');
  const aux = await call('/IpamDriver.RequestAddress', JSON.stringify({ PoolID: poolId, Address: '198.19.40.250', Options: null }));
  assert.equal(aux.json.Address, '198.19.40.250/24');
  const create = await call('/NetworkDriver.CreateNetwork', JSON.stringify({
    NetworkID: NID,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
    IPv4Data: [{ AddressSpace: 'weft-local', Gateway: '198.19.40.1/24', Pool: '198.19.40.0/24', AuxAddresses: { r: '198.19.40.250/24' } }],
    IPv6Data: [],
  }));
  assert.equal(create.status, 200, create.raw);
  assert.deepEqual(create.json, {});
  const addr = await call('/IpamDriver.RequestAddress', JSON.stringify({ PoolID: poolId, Address: '', Options: {} }));
  assert.equal(addr.json.Address, '198.19.40.2/24');
  const ep = await call('/NetworkDriver.CreateEndpoint', JSON.stringify({
    NetworkID: NID, EndpointID: EID,
    Interface: { Address: '198.19.40.2/24', AddressIPv6: '', MacAddress: '' },
    Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] },
  }));
  assert.equal(ep.status, 200, ep.raw);
  const iface = ep.json.Interface as Record<string, string>;
  assert.deepEqual(Object.keys(iface), ['MacAddress'], 'only fields Docker left empty are returned');
  assert.match(iface.MacAddress!, /^02:42:c6:13:28:02$/);
  const join = await call('/NetworkDriver.Join', JSON.stringify({ NetworkID: NID, EndpointID: EID, SandboxKey: '/var/run/docker/netns/abc', Options: null }));
  assert.equal(join.status, 200);
  assert.deepEqual(join.json.InterfaceName, { SrcName: linkName('container', '', EID), DstPrefix: 'eth' });
  assert.equal(join.json.Gateway, '198.19.40.1', 'Gateway is a bare IP');
  assert.equal(join.json.DisableGatewayService, true);
  assert.equal((await call('/NetworkDriver.ProgramExternalConnectivity', JSON.stringify({ NetworkID: NID, EndpointID: EID, Options: {} }))).status, 200);
  assert.deepEqual((await call('/NetworkDriver.EndpointOperInfo', JSON.stringify({ NetworkID: NID, EndpointID: EID }))).json.Value !== undefined, true);
  // Docker may retry a call whose connection dropped: same answers, no duplicates.
  assert.equal((await call('/NetworkDriver.Join', JSON.stringify({ NetworkID: NID, EndpointID: EID, SandboxKey: '/var/run/docker/netns/abc', Options: null }))).status, 200);
  for (const m of ['RevokeExternalConnectivity', 'Leave', 'DeleteEndpoint', 'DeleteEndpoint']) {
    const r = await call(`/NetworkDriver.${m}`, JSON.stringify({ NetworkID: NID, EndpointID: EID }));
    assert.equal(r.status, 200, `${m}: ${r.raw}`);
  }
  await call('/IpamDriver.ReleaseAddress', JSON.stringify({ PoolID: poolId, Address: '198.19.40.2' }));
  await call('/IpamDriver.ReleaseAddress', JSON.stringify({ PoolID: poolId, Address: '198.19.40.1' }));
  await call('/IpamDriver.ReleaseAddress', JSON.stringify({ PoolID: poolId, Address: '198.19.40.250' }));
  assert.equal((await call('/IpamDriver.ReleasePool', JSON.stringify({ PoolID: poolId }))).status, 200);
  assert.equal((await call('/NetworkDriver.DeleteNetwork', JSON.stringify({ NetworkID: NID }))).status, 200);
  assert.equal((await call('/NetworkDriver.DeleteNetwork', JSON.stringify({ NetworkID: NID }))).status, 200, 'idempotent');
  assert.deepEqual(overlay.calls.filter((c) => c.includes('Network')), [`ensureNetwork ${NID.slice(0, 4)}`, `removeNetwork ${NID.slice(0, 4)}`]);
});

test('a MAC Docker already set is never echoed back', async () => {
  const nid = 'b2'.repeat(32);
  await call('/NetworkDriver.CreateNetwork', JSON.stringify({ NetworkID: nid, Options: null, IPv4Data: null, IPv6Data: null }));
  const r = await call('/NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: nid, EndpointID: 'f'.repeat(64), Interface: { Address: '', AddressIPv6: '', MacAddress: '02:42:aa:bb:cc:dd' }, Options: null }));
  assert.equal(r.status, 200, r.raw);
  assert.equal(r.json.Interface, null);
  await call('/NetworkDriver.DeleteEndpoint', JSON.stringify({ NetworkID: nid, EndpointID: 'f'.repeat(64) }));
  await call('/NetworkDriver.DeleteNetwork', JSON.stringify({ NetworkID: nid }));
});

test('bad input gets an Err, never a crash', async () => {
  const cases: [string, string | Buffer, number, RegExp][] = [
    ['/NetworkDriver.CreateNetwork', '{not json', 400, /not JSON/],
    ['/NetworkDriver.CreateNetwork', '[]', 400, /JSON object/],
    ['/NetworkDriver.CreateNetwork', '{"NetworkID": 42}', 400, /NetworkID must be a string/],
    ['/NetworkDriver.CreateNetwork', '{"NetworkID": "../../etc"}', 400, /alphanumeric/],
    ['/NetworkDriver.CreateNetwork', JSON.stringify({ NetworkID: 'c3'.repeat(32), IPv4Data: 'x' }), 400, /IPv4Data must be an array/],
    ['/NetworkDriver.CreateNetwork', JSON.stringify({ NetworkID: 'c3'.repeat(32), Options: { 'com.docker.network.generic': { 'weft.mode': 'mesh' } } }), 500, /weft.mode/],
    ['/NetworkDriver.CreateNetwork', JSON.stringify({ NetworkID: 'c3'.repeat(32), Options: { 'com.docker.network.generic': { 'com.docker.network.driver.mtu': '9x' } } }), 500, /mtu/],
    ['/NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: 'd4'.repeat(32), EndpointID: 'e'.repeat(64), Interface: {} }), 500, /not found/],
    ['/NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: 'd4'.repeat(32), EndpointID: 'e'.repeat(64), Interface: { MacAddress: 'zz' } }), 400, /MAC/],
    ['/NetworkDriver.Join', JSON.stringify({ NetworkID: 'd4'.repeat(32), EndpointID: 'e'.repeat(64) }), 500, /not found/],
    ['/NetworkDriver.Join', '', 400, /NetworkID is required/],
    ['/IpamDriver.RequestAddress', JSON.stringify({ PoolID: 'nope' }), 500, /unknown pool/],
    ['/IpamDriver.RequestPool', JSON.stringify({ Pool: '300.1.2.0/24' }), 500, /invalid/],
    ['/IpamDriver.RequestPool', JSON.stringify({ Pool: '', SubPool: '198.19.1.0/25' }), 500, /needs --subnet/],
    ['/NetworkDriver.NoSuchMethod', '{}', 404, /unknown method/],
    ['/IpamDriver.RequestPool', Buffer.alloc(2 << 20, 0x20), 413, /larger than/],
  ];
  for (const [path, body, status, re] of cases) {
    const r = await call(path, body);
    assert.equal(r.status, status, `${path} ${String(body).slice(0, 60)}: ${r.raw}`);
    assert.match(String(r.json.Err ?? ''), re, `${path}: ${r.raw}`);
    if (path.startsWith('/IpamDriver') && status === 500) assert.equal(r.json.Error, r.json.Err, 'IPAM errors also carry Error');
  }
  assert.equal((await call('/Plugin.Activate', undefined)).status, 200, 'still serving');
  assert.ok(logs.every((l) => typeof l.ms === 'number' && typeof l.method === 'string'), 'one structured line per request');
});

test('concurrent calls for one network are serialised and all answered', async () => {
  const nid = 'c5'.repeat(32);
  await call('/NetworkDriver.CreateNetwork', JSON.stringify({ NetworkID: nid, Options: {}, IPv4Data: [], IPv6Data: [] }));
  const eps = Array.from({ length: 20 }, (_, i) => i.toString(16).padStart(2, '0').repeat(32));
  const rs = await Promise.all(eps.map((e) => call('/NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: nid, EndpointID: e, Interface: { Address: '', AddressIPv6: '', MacAddress: '' } }))));
  assert.ok(rs.every((r) => r.status === 200));
  await Promise.all(eps.map((e) => call('/NetworkDriver.DeleteEndpoint', JSON.stringify({ NetworkID: nid, EndpointID: e }))));
  assert.equal((await call('/NetworkDriver.DeleteNetwork', JSON.stringify({ NetworkID: nid }))).status, 200);
});

test('a socket opened before start-up holds requests until the controller is ready, and refuses them if start-up fails', async () => {
  const early = join(dir, 'plugins', 'early.sock');
  let ready!: (c: Controller) => void;
  const server2 = await PluginServer.listen(early, new Promise<Controller>((r) => { ready = r; }), () => undefined);
  const failing = join(dir, 'plugins', 'failing.sock');
  const failed = Promise.reject(new Error('etcd unreachable'));
  failed.catch(() => undefined);
  const server3 = await PluginServer.listen(failing, failed, () => undefined);
  try {
    const get = (sock: string) => new Promise<{ status: number; raw: string }>((resolve, reject) => {
      const req = request({ socketPath: sock, path: '/NetworkDriver.GetCapabilities', method: 'POST' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end('');
    });
    let answered = false;
    const pending = get(early).then((r) => { answered = true; return r; });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(answered, false, 'no answer before the controller exists');
    ready(new Controller(store, [overlay, new RecordingDriver('bridge'), new RecordingDriver('macvlan')]));
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.raw), { Scope: 'local', ConnectivityScope: 'local' });
    const f = await get(failing);
    assert.equal(f.status, 500);
    assert.match(JSON.parse(f.raw).Err, /etcd unreachable/);
  } finally {
    await server2.close();
    await server3.close();
  }
});
