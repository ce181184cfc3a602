/**
 * Overlay security on this host (its kernel has no ESP/GCM; the encrypted
 * data path itself is tested in the kernel lab, test/kernel/encryption.test.ts):
 *  - `-o encrypted` fails at once with a clear Err naming what is missing,
 *    and nothing is left behind;
 *  - on a plain-text etcd store an encrypted network is refused (keys would
 *    cross the network in clear);
 *  - plain overlays take VXLAN only from known peer VTEPs: a datagram from
 *    a non-member is dropped and counted, a member's still arrives;
 *  - a restart never weakens the filter: until the daemon has relearnt its
 *    networks, encrypted VNIs stay protected and the table stays;
 *  - the DNS listener only sees queries that came in on the network's own
 *    interface: an in-pool source arriving from outside gets nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Lab, type LabHost, rootSkipReason } from '../support/lab.js';
import { etcdSkipReason, startEtcd, type EtcdServer } from '../support/etcd.js';
import { have, json, sh } from '../support/exec.js';
import { WeftDaemon } from '../support/weft-daemon.js';
import { installedEncryptedVnis, overlayFilterCounters, overlayTableName } from '../../src/dataplane/nft-overlay.js';
import { OverlaySecurity, RING_KEY, parseRing } from '../../src/control/overlay-security.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import type { NetworkRecord } from '../../src/cnm/model.js';
import { DnsService } from '../../src/dns/index.js';

const skip = rootSkipReason() ?? (await etcdSkipReason()) ?? ((await have('nft')) ? undefined : 'nft not installed');
if (skip) console.log(`# skipping overlay-security: ${skip}`);

function call(socket: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const createNetwork = (socket: string, id: string, pool: string, generic: Record<string, string>) => call(socket, '/NetworkDriver.CreateNetwork', {
  NetworkID: id, Options: { 'com.docker.network.generic': generic },
  IPv4Data: [{ AddressSpace: 'weft', Pool: pool, Gateway: `${pool.replace(/0\/24$/, '1')}/24` }], IPv6Data: [],
});

async function sendUdp(from: LabHost, to: string, port: number, payload: Buffer, source?: string): Promise<void> {
  await from.exec([process.execPath, '-e', `
    const s = require('dgram').createSocket('udp4');
    const go = () => s.send(Buffer.from('${payload.toString('hex')}', 'hex'), ${port}, '${to}', () => s.close());
    ${source ? `s.bind(0, '${source}', go);` : 'go();'}`]);
}

const vxlanDatagram = (vni: number) => {
  const h = Buffer.alloc(8);
  h[0] = 8;
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, Buffer.from('ffffffffffff02000000066608060001080006040001020000000666c6130a63000000000000c6130a01', 'hex')]);
};

describe('overlay security (this host)', { skip }, () => {
  let lab: Lab;
  let h: LabHost[];
  let etcd: EtcdServer;
  const daemons: WeftDaemon[] = [];
  let dir: string;

  before(async () => {
    lab = await Lab.create();
    h = [await lab.host('s1'), await lab.host('s2'), await lab.host('s3')];
    dir = mkdtempSync(join(tmpdir(), 'weft-osec-'));
    etcd = await startEtcd({ netns: h[0]!.netns, host: h[0]!.address });
  });

  after(async () => {
    for (const d of daemons) await d.destroy().catch(() => undefined);
    await etcd?.stop();
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('-o encrypted on a kernel without ESP: a clear Err at once, nothing left behind', async () => {
    const d = new WeftDaemon({ netns: h[2]!.netns, socket: join(dir, 'enc.sock'), instance: `${lab.prefix}e` });
    daemons.push(d);
    await d.start();
    const r = await createNetwork(d.opts.socket, 'e1'.repeat(32), '198.19.70.0/24', { encrypted: '' });
    assert.match(String(r.body.Err), /required modules to install IPsec rules are missing/);
    assert.match(String(r.body.Err), /rfc4106\(gcm\(aes\)\)/);
    assert.ok(!readdirSync('/var/run/netns').some((n) => n.includes(`${lab.prefix}e`)), 'no overlay namespace left');
    const links = await json<{ ifname: string }[]>(['ip', '-n', h[2]!.netns, '-j', 'link', 'show']);
    assert.ok(!links.some((l) => l.ifname.startsWith('vx')), 'no VXLAN device');
    await d.destroy();
  });

  it('plain overlays: VXLAN from a non-peer is dropped and counted, members keep working; encrypted on a plain-text store is refused', async () => {
    const store = `etcd://${h[0]!.address}:2379`;
    for (const [i, host] of h.slice(0, 2).entries()) {
      const d = new WeftDaemon({ netns: host.netns, socket: join(dir, `p${i}.sock`), instance: `${lab.prefix}-p${i}`, store, local: host.address, host: `s${i}` });
      daemons.push(d);
      await d.start();
    }
    const [d1] = daemons.slice(-2);
    const nid = 'a7'.repeat(32);
    const r = await createNetwork(d1!.opts.socket, nid, '198.19.71.0/24', {});
    assert.equal(r.body.Err ?? '', '', JSON.stringify(r.body));
    const refused = await createNetwork(d1!.opts.socket, 'a8'.repeat(32), '198.19.72.0/24', { encrypted: '' });
    assert.match(String(refused.body.Err), /keys stored over TLS.*--insecure-store-keys/);

    const ns = `wf-ov-${lab.prefix}-p0-${nid.slice(0, 12)}`;
    const [vx] = await json<{ linkinfo: { info_data: { id: number } } }[]>(['ip', '-n', ns, '-d', '-j', 'link', 'show', 'vxlan0']);
    const vni = vx!.linkinfo.info_data.id;
    const table = overlayTableName(`${lab.prefix}-p0`);
    // The peer set follows the peer table: wait until host 2 is in it.
    for (let i = 0; i < 100; i++) {
      const set = await sh(['ip', 'netns', 'exec', h[0]!.netns, 'nft', 'list', 'set', 'ip', table, 'peer_vteps']).catch(() => '');
      if (set.includes(h[1]!.address)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const rx = async () => (await json<{ stats64: { rx: { packets: number } } }[]>(['ip', '-n', ns, '-s', '-j', 'link', 'show', 'vxlan0']))[0]!.stats64.rx.packets;
    const before = (await overlayFilterCounters(h[0]!.netns, table))!;
    const rx0 = await rx();
    await sendUdp(h[2]!, h[0]!.address, 4789, vxlanDatagram(vni));
    await new Promise((res) => setTimeout(res, 200));
    const mid = (await overlayFilterCounters(h[0]!.netns, table))!;
    assert.equal(mid.unknownVtep, before.unknownVtep + 1, 'non-peer VXLAN counted');
    assert.equal(await rx(), rx0, 'non-peer VXLAN never reached vxlan0');
    await sendUdp(h[1]!, h[0]!.address, 4789, vxlanDatagram(vni));
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(await rx(), rx0 + 1, 'a member VTEP still gets through');
    assert.equal((await overlayFilterCounters(h[0]!.netns, table))!.unknownVtep, mid.unknownVtep);
  });

  it('a restart keeps the filter: encrypted VNIs stay protected until the networks are known again', async () => {
    const ns = await lab.netns('osr');
    const table = overlayTableName(`${lab.prefix}r`);
    const store = await EmbeddedStore.open(mkdtempSync(join(dir, 'r-')));
    const record = (id: string, vni: number, encrypted: boolean): NetworkRecord => ({
      id: id.repeat(32), mode: 'overlay', mtu: 1424, internal: false, ipv6: false, ipv4: [], ipv6Subnets: [],
      options: encrypted ? { encrypted: '' } : {}, vni,
    });
    const [enc, plain, gone] = [record('e5', 4101, true), record('e6', 4102, false), record('e7', 4103, true)];
    const start = () => new OverlaySecurity(store, { netns: ns, instance: `${lab.prefix}r`, storeIsPrivate: true, log: () => undefined, probe: async () => undefined });
    const vnis = async () => (await installedEncryptedVnis(ns, table)).sort();
    try {
      const first = start();
      for (const n of [enc, plain, gone]) await first.ensureNetwork(n);
      await first.setPeers(['198.18.0.2']);
      assert.deepEqual(await vnis(), [4101, 4103]);
      // The restart: peers first (as with etcd), then the networks one by one, the plain one first.
      const next = start();
      await next.setPeers(['198.18.0.2']);
      assert.deepEqual(await vnis(), [4101, 4103], 'peers before any network: the table is untouched');
      await next.ensureNetwork(plain);
      assert.deepEqual(await vnis(), [4101, 4103], 'a plain network first: the encrypted VNIs stay protected');
      await next.ensureNetwork(enc);
      await next.settled();
      assert.deepEqual(await vnis(), [4101], 'after the reconcile, a network deleted while down is unprotected');
      await next.removeNetwork(enc);
      await next.removeNetwork(plain);
      assert.equal(await overlayFilterCounters(ns, table), undefined, 'the last network gone: the table is gone');
    } finally {
      await store.close();
    }
  });

  it('scheduled rotation: one host rotates when the period is up, a racing host does not rotate again, the timer rotates on its own', async () => {
    const ns = await lab.netns('osk');
    const store = await EmbeddedStore.open(mkdtempSync(join(dir, 'k-')));
    const enc: NetworkRecord = {
      id: 'e8'.repeat(32), mode: 'overlay', mtu: 1424, internal: false, ipv6: false, ipv4: [], ipv6Subnets: [], options: { encrypted: '' }, vni: 4108,
    };
    const host = (i: number) => new OverlaySecurity(store, {
      netns: ns, instance: `${lab.prefix}k${i}`, storeIsPrivate: true, rotateMs: 1000, log: () => undefined, probe: async () => undefined,
    });
    const keys = async () => [...parseRing((await store.get(RING_KEY))!)!.keys].sort((x, y) => y.tag - x.tag);
    const newest = async () => (await keys())[0]!.tag;
    const created = async () => Date.parse((await keys())[0]!.created);
    const [a, b] = [host(0), host(1)];
    try {
      await a.ensureNetwork(enc);
      await b.ensureNetwork(enc);
      assert.equal(await newest(), 2, 'one ring for both hosts');
      assert.equal(await a.rotateIfDue(await created() + 500), false, 'not due within the period');
      const due = await created() + 1001;
      const won = await Promise.all([a.rotateIfDue(due), b.rotateIfDue(due)]);
      assert.equal(won.filter(Boolean).length, 1, `exactly one host rotates (${won.join(',')})`);
      assert.equal(await newest(), 3);
      a.start();
      for (let i = 0; i < 200 && (await newest()) < 4; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok((await newest()) >= 4, 'the rotation timer rotated the ring by itself');
    } finally {
      await a.stop();
      await b.stop();
      await store.close();
    }
  });

  it('DNS: an in-pool source arriving from outside the network gets no answer', async () => {
    // s3 plays a bridge network's host: br on 198.19.73.1 with a client behind it,
    // and an outsider on the underlay claiming an in-pool address.
    const [, , host] = h;
    const client = await lab.netns('dnscl');
    const outsider = await lab.netns('dnsout');
    const ex = (ns: string, ...a: string[]) => sh(['ip', '-n', ns, ...a]);
    await ex(host!.netns, 'link', 'add', 'wlbr0', 'type', 'bridge');
    await ex(host!.netns, 'addr', 'add', '198.19.73.1/24', 'dev', 'wlbr0');
    await ex(host!.netns, 'link', 'set', 'wlbr0', 'up');
    await ex(host!.netns, 'link', 'add', 'wlc0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client);
    await ex(host!.netns, 'link', 'set', 'wlc0', 'master', 'wlbr0', 'up');
    await ex(client, 'addr', 'add', '198.19.73.5/24', 'dev', 'eth0');
    await ex(client, 'link', 'set', 'eth0', 'up');
    await ex(host!.netns, 'link', 'add', 'wlo0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outsider);
    await ex(host!.netns, 'addr', 'add', '198.18.9.1/24', 'dev', 'wlo0');
    await ex(host!.netns, 'link', 'set', 'wlo0', 'up');
    await ex(outsider, 'addr', 'add', '198.19.73.6/32', 'dev', 'eth0');
    await ex(outsider, 'link', 'set', 'eth0', 'up');
    await ex(outsider, 'route', 'add', '198.18.9.1/32', 'dev', 'eth0');
    await ex(outsider, 'route', 'add', '198.19.73.1/32', 'via', '198.18.9.1', 'dev', 'eth0', 'onlink');
    await ex(host!.netns, 'route', 'add', '198.19.73.6/32', 'dev', 'wlo0');
    const dns = new DnsService({ upstreams: [], rateLimit: null });
    try {
      dns.addRecord({ network: 'n1', name: 'web', type: 'A', address: '198.19.73.9' });
      await dns.listen({ netns: host!.netns, address: '198.19.73.1', networks: [{ name: 'n1', clients: ['198.19.73.0/24'], ingress: 'wlbr0' }] });
      const dig = (ns: string) => sh(['ip', 'netns', 'exec', ns, 'dig', '+tries=1', '+time=2', '+short', '@198.19.73.1', 'web', 'A']).catch((e: Error) => `failed: ${e.message}`);
      assert.equal((await dig(client)).trim(), '198.19.73.9', 'the network\'s own client is answered');
      const spoofed = await dig(outsider);
      assert.doesNotMatch(spoofed, /198\.19\.73\.9/, 'a query that came in from outside is never answered');
    } finally {
      await dns.close();
    }
  });
});
