/**
 * Faults between the store and the kernel: a daemon killed after persisting
 * but with its kernel objects gone, or with orphans left from a crash, is
 * reconciled on start — and nothing that is not weft's is touched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type LabHost, rootSkipReason } from '../support/lab.js';
import { json, run, sh } from '../support/exec.js';
import { LabDaemon, type WeftDaemon } from '../support/weft-daemon.js';
import { linkName } from '../../src/cnm/model.js';

const skip = rootSkipReason();
let lab: Lab;
let host: LabHost;
let weft: WeftDaemon;
let env: LabDaemon | undefined;

before(async () => {
  if (skip) return;
  env = await LabDaemon.start('r1');
  ({ lab, host, weft } = env);
});

after(async () => {
  await env?.destroy();
});

function call(path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: weft.opts.socket, path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const links = async () => (await json<{ ifname: string }[]>(['ip', '-n', host.netns, '-j', 'link', 'show'])).map((l) => l.ifname);

test('missing kernel objects are recreated, this instance\'s orphans removed, foreign and other instances\' links kept', { skip }, async () => {
  const nid = '5e'.repeat(32);
  const eid = '6f'.repeat(32);
  const create = await call('/NetworkDriver.CreateNetwork', {
    NetworkID: nid, Options: { 'com.docker.network.generic': { 'weft.mode': 'bridge' } },
    IPv4Data: [{ AddressSpace: 'weft-local', Pool: '198.19.60.0/24', Gateway: '198.19.60.1/24' }], IPv6Data: [],
  });
  assert.equal(create.status, 200, create.body);
  const ep = await call('/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: eid, Interface: { Address: '198.19.60.2/24', AddressIPv6: '', MacAddress: '' } });
  assert.equal(ep.status, 200, ep.body);
  const bridge = linkName('bridge', lab.prefix, nid);
  assert.ok((await links()).includes(bridge));

  await weft.kill();
  // The crash window: the store says the network exists, the kernel lost it;
  // and a crash left orphans of this instance behind. Foreign links, another
  // instance's and legacy-named ones sit beside them.
  const orphanBridge = linkName('bridge', lab.prefix, 'dead');
  const [orphanPort, orphanSrc] = [linkName('port', lab.prefix, 'dead'), linkName('container', lab.prefix, 'dead')];
  const otherInstance = linkName('bridge', `${lab.prefix}other`, 'dead');
  await sh(['ip', '-n', host.netns, 'link', 'del', bridge]);
  await sh(['ip', '-n', host.netns, 'link', 'add', orphanBridge, 'type', 'bridge']);
  await sh(['ip', '-n', host.netns, 'link', 'add', orphanPort, 'type', 'veth', 'peer', 'name', orphanSrc]);
  await sh(['ip', '-n', host.netns, 'link', 'add', otherInstance, 'type', 'bridge']);
  await sh(['ip', '-n', host.netns, 'link', 'add', 'wf-br-deadbeef0', 'type', 'bridge']);
  await sh(['ip', '-n', host.netns, 'link', 'add', 'keepme0', 'type', 'bridge']);
  await weft.start();

  const after = await links();
  assert.ok(after.includes(bridge), 'bridge recreated from the store');
  assert.ok(after.includes(linkName('port', lab.prefix, eid)), 'endpoint veth recreated');
  assert.ok(!after.includes(orphanBridge) && !after.includes(orphanPort), 'orphans removed');
  assert.ok(after.includes('keepme0') && after.includes('wf-br-deadbeef0') && after.includes(otherInstance), 'foreign links and other instances\' links untouched');
  const addrs = await json<{ addr_info: { local: string }[] }[]>(['ip', '-n', host.netns, '-j', 'addr', 'show', 'dev', bridge]);
  assert.ok(addrs[0]!.addr_info.some((a) => a.local === '198.19.60.1'), 'gateway address restored');
  assert.match(weft.log(), /reconciled kernel with store/);

  // The CLI sees the same state (read-only snapshot while the daemon runs).
  const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const ls = JSON.parse(await sh([process.execPath, cli, 'network', 'ls', '--json', '--state-dir', weft.stateDir])) as { id: string; endpoints: unknown[] }[];
  assert.equal(ls[0]?.id, nid);
  assert.equal(ls[0]?.endpoints.length, 1);

  assert.equal((await call('/NetworkDriver.DeleteEndpoint', { NetworkID: nid, EndpointID: eid })).status, 200);
  assert.equal((await call('/NetworkDriver.DeleteNetwork', { NetworkID: nid })).status, 200);
  assert.deepEqual((await links()).filter((l) => l.startsWith('wf')).sort(), [otherInstance, 'wf-br-deadbeef0'].sort());
  for (const l of ['keepme0', 'wf-br-deadbeef0', otherInstance]) await run(['ip', '-n', host.netns, 'link', 'del', l]);
});

test('a second daemon on the same socket is refused; a stale socket file is replaced', { skip }, async () => {
  const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const stateDir = mkdtempSync(join(tmpdir(), 'weft-second-'));
  try {
    const r = await run(['nsenter', `--net=/var/run/netns/${host.netns}`, process.execPath, cli, 'daemon', '--socket', weft.opts.socket, '--state-dir', stateDir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /in use by a running process/);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  await weft.kill(); // leaves the socket file behind
  await weft.start();
});
