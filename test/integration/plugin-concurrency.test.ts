/**
 * Docker sends CreateEndpoint, Join and DeleteEndpoint for different
 * containers at once. Through one daemon, whose drivers share one netlink
 * handle per namespace (src/cnm/drivers/rtnl-handles.ts), a burst of them on
 * an overlay and a bridge network leaves exactly the kernel state the
 * requests asked for, checked with `ip -j`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Lab, type LabHost, rootSkipReason } from '../support/lab.js';
import { json } from '../support/exec.js';
import { LabDaemon, type WeftDaemon } from '../support/weft-daemon.js';
import { linkName, names } from '../../src/cnm/model.js';

const skip = rootSkipReason();
let lab: Lab;
let host: LabHost;
let weft: WeftDaemon;
let env: LabDaemon | undefined;

before(async () => {
  if (skip) return;
  env = await LabDaemon.start('cc');
  ({ lab, host, weft } = env);
});

after(async () => {
  await env?.destroy();
});

async function call(path: string, body: unknown): Promise<void> {
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath: weft.opts.socket, path, method: 'POST' }, (r) => {
      let text = '';
      r.on('data', (c) => (text += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
  assert.equal(res.status, 200, `${path}: ${res.body}`);
  assert.ok(!(JSON.parse(res.body) as { Err?: string }).Err, `${path}: ${res.body}`);
}

interface IpLink { ifname: string; master?: string; flags: string[] }
const links = async (ns: string) => new Map((await json<IpLink[]>(['ip', '-n', ns, '-j', 'link', 'show'])).map((l) => [l.ifname, l]));

test('concurrent CreateEndpoint, Join and DeleteEndpoint on an overlay and a bridge network leave exactly what was asked', { skip }, async () => {
  const nets = [
    { id: '7a'.repeat(32), mode: 'overlay', subnet: '198.19.63' },
    { id: '7b'.repeat(32), mode: 'bridge', subnet: '198.19.64' },
  ];
  for (const n of nets) {
    await call('/NetworkDriver.CreateNetwork', {
      NetworkID: n.id, Options: { 'com.docker.network.generic': { 'weft.mode': n.mode } },
      IPv4Data: [{ AddressSpace: 'weft-local', Pool: `${n.subnet}.0/24`, Gateway: `${n.subnet}.1/24` }], IPv6Data: [],
    });
  }
  const N = 12;
  const eps = nets.flatMap((n) => Array.from({ length: N }, (_, i) => ({ n, i, id: `${n.id.slice(0, 2)}${i.toString(16).padStart(2, '0')}`.repeat(16) })));
  // Each container's calls in Docker's order; the containers all at once.
  await Promise.all(eps.map(async (e) => {
    const ids = { NetworkID: e.n.id, EndpointID: e.id };
    await call('/NetworkDriver.CreateEndpoint', { ...ids, Interface: { Address: `${e.n.subnet}.${e.i + 10}/24`, AddressIPv6: '', MacAddress: '' } });
    await call('/NetworkDriver.Join', { ...ids, SandboxKey: `/var/run/docker/netns/wftest${e.i}`, Options: {} });
    if (e.i % 2 === 1) {
      await call('/NetworkDriver.Leave', ids);
      await call('/NetworkDriver.DeleteEndpoint', ids);
    }
  }));

  const overlayNs = names.overlayNetns(nets[0]!.id, lab.prefix);
  const where = (e: (typeof eps)[number]) => (e.n.mode === 'overlay' ? overlayNs : host.netns);
  const bridge = linkName('bridge', lab.prefix, nets[1]!.id);
  // Deleted endpoints' links go in the background: wait until they are gone.
  for (;;) {
    const [inner, outer] = [await links(overlayNs), await links(host.netns)];
    const lingering = eps.filter((e) => e.i % 2 === 1 && (e.n.mode === 'overlay' ? inner : outer).has(linkName('port', lab.prefix, e.id)));
    if (lingering.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const state = new Map([[overlayNs, await links(overlayNs)], [host.netns, await links(host.netns)]]);
  for (const e of eps) {
    const port = state.get(where(e))!.get(linkName('port', lab.prefix, e.id));
    const src = state.get(host.netns)!.get(linkName('container', lab.prefix, e.id));
    if (e.i % 2 === 1) {
      assert.equal(port, undefined, `${e.n.mode} endpoint ${e.i}: port removed`);
      assert.equal(src, undefined, `${e.n.mode} endpoint ${e.i}: container end removed`);
      continue;
    }
    assert.ok(port, `${e.n.mode} endpoint ${e.i}: port exists`);
    assert.equal(port.master, e.n.mode === 'overlay' ? 'br0' : bridge);
    assert.ok(port.flags.includes('UP'), `${e.n.mode} endpoint ${e.i}: port up`);
    assert.ok(src, `${e.n.mode} endpoint ${e.i}: the end Docker moves exists`);
  }
});
