/**
 * Published ports, option checks, per-subnet gateways and the host-side
 * nftables batch, without privileges: the real controller and store with a
 * recording host side. The kernel side is tested in
 * test/e2e/docker-connectivity.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../../src/cnm/controller.js';
import { gatewayJoinInfo, type NetworkDriver } from '../../src/cnm/driver.js';
import type { EndpointRecord, NetworkRecord } from '../../src/cnm/model.js';
import { allocatePorts, formatBinding, parsePortmap } from '../../src/cnm/drivers/ports.js';
import { connectState } from '../../src/cnm/drivers/connectivity.js';
import { connectBatch } from '../../src/dataplane/nft-connect.js';
import { parseProcNet } from '../../src/io/listening.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { checkNetworkOptions } from '../../src/plugin/options.js';
import fc from 'fast-check';

class NullDriver implements NetworkDriver {
  constructor(readonly mode: NetworkRecord['mode']) {}
  validate(): void {}
  async ensureNetwork() {}
  async removeNetwork() {}
  async ensureEndpoint() {}
  async removeEndpoint() {}
  joinInfo(n: NetworkRecord, ep: EndpointRecord) { return gatewayJoinInfo(n, ep); }
  async sweepOrphans() { return []; }
}

let dir: string;
let store: EmbeddedStore;
let c: Controller;
const applied: { ports: string[] }[] = [];
const NID = 'a1'.repeat(32);
const OTHER = 'b2'.repeat(32);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-conn-'));
  store = EmbeddedStore.open(dir);
  c = new Controller(store, [new NullDriver('overlay'), new NullDriver('bridge'), new NullDriver('macvlan')]);
  c.applyHostSide = async (networks, endpoints) => {
    applied.push({ ports: connectState(networks, endpoints).ports.map((p) => `${p.proto}/${p.hostPort}->${p.address}:${p.port}`) });
  };
  c.boundPorts = () => [{ proto: 'tcp', address: '0.0.0.0', port: 18099 }];
  const subnets = (a: string, b: string) => [{ pool: `${a}.0/24`, gateway: `${a}.1/24`, aux: {} }, { pool: `${b}.0/24`, gateway: `${b}.1/24`, aux: {} }];
  await c.createNetwork({ id: NID, options: { 'weft.mode': 'bridge' }, internal: false, ipv6: false, ipv4: subnets('198.19.1', '198.19.2'), ipv6Subnets: [] });
  await c.createNetwork({ id: OTHER, options: { 'weft.mode': 'bridge' }, internal: false, ipv6: false, ipv4: subnets('198.19.3', '198.19.4'), ipv6Subnets: [] });
});

after(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const ep = async (id: string, nid: string, address: string) => {
  await c.createEndpoint(nid, id, { address, addressV6: '', mac: '' });
  return c.join(nid, id, `/run/docker/netns/${id.slice(0, 6)}`);
};

test('Join returns the gateway of the endpoint\'s own subnet', async () => {
  assert.equal((await ep('e1'.repeat(32), NID, '198.19.2.10/24')).gateway, '198.19.2.1');
  assert.equal((await ep('e2'.repeat(32), NID, '198.19.1.10/24')).gateway, '198.19.1.1');
});

test('published ports: stored, programmed, kept on a retry, refused when taken, freed on revoke', async () => {
  const E1 = 'e1'.repeat(32);
  const E2 = 'e2'.repeat(32);
  const req = parsePortmap([{ Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 18080, HostPortEnd: 18080 }, { Proto: 17, Port: 53, HostPort: 0, HostPortEnd: 0 }]);
  const got = await c.publishPorts(NID, E1, req);
  assert.deepEqual(got.map(formatBinding), ['0.0.0.0:18080->80/tcp', '0.0.0.0:49153->53/udp']);
  assert.deepEqual(applied.at(-1)!.ports, ['tcp/18080->198.19.2.10:80', 'udp/49153->198.19.2.10:53']);
  assert.deepEqual((await c.endpoint(E1)).ports, got, 'persisted on the endpoint');
  assert.deepEqual(await c.publishPorts(NID, E1, req), got, 'a retry keeps the ports');
  await assert.rejects(c.publishPorts(NID, E2, parsePortmap([{ Proto: 6, Port: 80, HostPort: 18080, HostPortEnd: 18080 }])),
    (e: Error & { code?: string }) => e.code === 'ERR_WEFT_PORT_IN_USE' && /18080\/tcp is already in use by endpoint e1e1e1e1e1e1/.test(e.message));
  await assert.rejects(c.publishPorts(NID, E2, parsePortmap([{ Proto: 6, Port: 80, HostPort: 18099, HostPortEnd: 18099 }])), /a socket on the host/);
  const ranged = await c.publishPorts(NID, E2, parsePortmap([{ Proto: 6, Port: 80, HostPort: 18080, HostPortEnd: 18082 }]));
  assert.deepEqual(ranged.map(formatBinding), ['0.0.0.0:18081->80/tcp'], 'first free port of the range');
  await c.unpublishPorts(E1);
  await c.unpublishPorts(E1);
  assert.deepEqual(applied.at(-1)!.ports, ['tcp/18081->198.19.1.10:80']);
  await c.deleteEndpoint(NID, E2);
  assert.deepEqual(applied.at(-1)!.ports, [], 'gone with the endpoint');
});

test('portmap input Docker could send badly gets a clear error', () => {
  assert.throws(() => parsePortmap({}), /must be an array/);
  assert.throws(() => parsePortmap([{ Proto: 1, Port: 80 }]), /not tcp/);
  assert.throws(() => parsePortmap([{ Proto: 6, Port: 70000 }]), /Port must be a port number/);
  assert.throws(() => parsePortmap([{ Proto: 6, Port: 80, HostIP: '::1' }]), /IPv4 host addresses only/);
  assert.deepEqual(parsePortmap(null), []);
  assert.deepEqual(parsePortmap([{ Proto: 6, Port: 80, HostIP: '198.18.0.1', HostPort: 8080 }]), [{ proto: 'tcp', hostIp: '198.18.0.1', hostPort: 8080, hostPortEnd: 8080, port: 80 }]);
  // Different HostIPs may share a port; the wildcard takes it from both.
  const a = allocatePorts(parsePortmap([{ Proto: 6, Port: 80, HostIP: '198.18.0.1', HostPort: 80 }]), [{ binding: { proto: 'tcp', hostIp: '198.18.0.2', hostPort: 80, port: 80 }, owner: 'x' }], []);
  assert.equal(a[0]!.hostPort, 80);
  assert.throws(() => allocatePorts(parsePortmap([{ Proto: 6, Port: 80, HostPort: 80 }]), [{ binding: { proto: 'tcp', hostIp: '198.18.0.2', hostPort: 80, port: 80 }, owner: 'x' }], []), /in use by x/);
});

test('subnets overlapping another weft network are refused, naming it', async () => {
  await assert.rejects(c.createNetwork({ id: 'c3'.repeat(32), options: {}, internal: false, ipv6: false, ipv4: [{ pool: '198.19.4.128/25', aux: {} }], ipv6Subnets: [] }),
    /subnet 198\.19\.4\.128\/25 overlaps subnet 198\.19\.4\.0\/24 of weft network b2b2b2b2b2b2/);
});

test('options: unknown weft.* keys and options of another mode are refused', () => {
  assert.throws(() => checkNetworkOptions({ 'weft.mdoe': 'bridge' }), /unknown option weft\.mdoe/);
  assert.throws(() => checkNetworkOptions({ 'weft.mode': 'bridge', parent: 'eth0' }), /option parent applies to weft\.mode=macvlan, not to bridge/);
  assert.throws(() => checkNetworkOptions({ 'weft.vni': '5' , 'weft.mode': 'macvlan', parent: 'eth0' }), /weft\.vni applies to weft\.mode=overlay/);
  assert.throws(() => checkNetworkOptions({ 'com.docker.network.bridge.name': 'br9' }), /not supported by weft/);
  checkNetworkOptions({ 'weft.mode': 'macvlan', parent: 'eth0.10', macvlan_mode: 'bridge', 'com.docker.network.driver.mtu': '1400' });
  checkNetworkOptions({ 'weft.network': 'g', 'weft.vni': '300', 'some.other': 'x' });
});

test('the nft batch: whole-table replace, DNAT per port, isolation per network', () => {
  const b = connectBatch({
    networks: [{ link: 'wfeA', subnets: ['198.19.1.0/24'], internal: false, masquerade: true }, { link: 'wf-br-B', subnets: ['198.19.2.0/24'], internal: true, masquerade: false }],
    ports: [{ proto: 'tcp', hostIp: '198.18.0.1', hostPort: 18080, address: '198.19.1.2', port: 80 }],
  });
  const text = JSON.stringify(b.nftables);
  assert.deepEqual(b.nftables.slice(0, 3).map((x) => Object.keys(x)[0]), ['add', 'delete', 'add']);
  assert.match(text, /"dnat":\{"family":"ip","addr":"198.19.1.2","port":80\}/);
  assert.match(text, /"masquerade":null/);
  assert.equal((text.match(/"drop":null/g) ?? []).length, 3, 'the internal network in and out, and A to the other weft links');
  assert.equal(connectBatch({ networks: [], ports: [] }).nftables.length, 2, 'nothing left: the table goes');
});

test('/proc/net parsing: TCP listeners and bound UDP sockets', () => {
  const tcp = '  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 0\n   1: 0100007F:1F91 0200007F:0050 01 0\n';
  assert.deepEqual(parseProcNet(tcp, 'tcp', false), [{ proto: 'tcp', address: '127.0.0.1', port: 8080 }]);
  const udp6 = '  sl  local_address\n   0: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 0\n';
  assert.deepEqual(parseProcNet(udp6, 'udp', true), [{ proto: 'udp', address: '::', port: 53 }]);
});

test('property: chosen host ports are in the requested range and never clash with weft bindings or host sockets', () => {
  const port = fc.integer({ min: 18000, max: 18015 });
  fc.assert(fc.property(
    fc.array(fc.record({ proto: fc.constantFrom('tcp' as const, 'udp' as const), hostPort: port, width: fc.integer({ min: 0, max: 4 }) }), { maxLength: 4 }),
    fc.array(fc.record({ proto: fc.constantFrom('tcp' as const, 'udp' as const), hostPort: port }), { maxLength: 8 }),
    fc.array(fc.record({ proto: fc.constantFrom('tcp' as const, 'udp' as const), port }), { maxLength: 4 }),
    (reqs, held, sockets) => {
      const requests = reqs.map((r) => ({ proto: r.proto, hostPort: r.hostPort, hostPortEnd: r.hostPort + r.width, port: 80 }));
      const taken = held.map((h) => ({ binding: { ...h, port: 80 }, owner: 'other' }));
      const bound = sockets.map((x) => ({ ...x, address: '0.0.0.0' }));
      let got;
      try {
        got = allocatePorts(requests, taken, bound);
      } catch (err) {
        return (err as { code?: string }).code === 'ERR_WEFT_PORT_IN_USE';
      }
      const key = (p: { proto: string; hostPort: number }) => `${p.proto}/${p.hostPort}`;
      const busy = new Set([...held.map(key), ...sockets.map((x) => `${x.proto}/${x.port}`)]);
      return got.every((g, i) => g.hostPort >= requests[i]!.hostPort && g.hostPort <= requests[i]!.hostPortEnd && !busy.has(key(g)))
        && new Set(got.map(key)).size === got.length;
    },
  ));
});
