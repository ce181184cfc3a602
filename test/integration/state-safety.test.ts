/**
 * State that is never lost (docs/state.md), against a real daemon in a lab
 * namespace: a second daemon is refused before it touches anything; a
 * damaged, empty or missing journal with this instance's objects in the
 * kernel refuses start and touches nothing; a full disk (a small tmpfs as
 * the state directory) refuses writes with a clear Err and loses nothing
 * acknowledged; 100 rounds of kill -9 at random points (some on a full
 * disk) keep every acknowledged write and leak nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type LabHost, rootSkipReason } from '../support/lab.js';
import { json, run, sh } from '../support/exec.js';
import { WeftDaemon } from '../support/weft-daemon.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { type EndpointRecord, ownsLinkName } from '../../src/cnm/model.js';

const skip = rootSkipReason();
const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
let lab: Lab;
let host: LabHost;
let dir: string;
const mounts: string[] = [];

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  host = await lab.host('s1');
  dir = mkdtempSync(join(tmpdir(), 'weft-safety-'));
});

after(async () => {
  for (const m of mounts) await run(['umount', '-l', m]);
  await lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function call(socket: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // checked by status
        }
        resolve({ status: res.statusCode ?? 0, json: parsed });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const links = async () => (await json<{ ifname: string }[]>(['ip', '-n', host.netns, '-j', 'link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith('wf')).sort();
const daemonArgs = (stateDir: string, socket: string, instance: string) =>
  ['nsenter', `--net=/var/run/netns/${host.netns}`, process.execPath, cli, 'daemon', '--socket', socket, '--state-dir', stateDir, '--instance', instance,
    '--dns-upstream', '198.18.0.53', '--docker-socket', join(dir, 'no-docker.sock')];

let seq = 0;
/** A daemon with a bridge network and `eps` endpoints. */
async function daemonWithNetwork(name: string, eps: number, opts: { stateDir?: string; instance?: string } = {}) {
  const n = ++seq;
  const weft = new WeftDaemon({
    netns: host.netns, socket: join(dir, `${name}.sock`), instance: opts.instance ?? `${lab.prefix}${name}`, logPath: join(dir, `${name}.log`),
    extraArgs: ['--no-dns', '--mesh', 'off', '--docker-reconcile', '0'], ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  });
  await weft.start();
  const nid = `${n.toString(16).padStart(2, '0')}`.repeat(32);
  const subnet = `198.19.${100 + n}`;
  const r = await call(weft.opts.socket, '/NetworkDriver.CreateNetwork', {
    NetworkID: nid, Options: { 'com.docker.network.generic': { 'weft.mode': 'bridge' } },
    IPv4Data: [{ AddressSpace: 'weft-local', Pool: `${subnet}.0/24`, Gateway: `${subnet}.1/24` }], IPv6Data: [],
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  for (let i = 0; i < eps; i++) {
    const e = await call(weft.opts.socket, '/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: `${nid.slice(0, 62)}${(i + 16).toString(16)}`, Interface: { Address: `${subnet}.${i + 2}/24`, AddressIPv6: '', MacAddress: '' } });
    assert.equal(e.status, 200, JSON.stringify(e.json));
  }
  return { weft, nid, subnet };
}

test('a second daemon on the same state dir, or with the same instance, exits with a clear error and touches nothing', { skip }, async () => {
  const { weft, nid, subnet } = await daemonWithNetwork('first', 2);
  try {
    const before = { links: await links(), journal: readFileSync(join(weft.stateDir, 'state.journal')) };
    const same = await run(daemonArgs(weft.stateDir, join(dir, 'second.sock'), `${lab.prefix}second`));
    assert.equal(same.code, 1);
    assert.match(same.stderr, /state directory .* is in use by weft daemon pid \d+/);
    const other = mkdtempSync(join(dir, 'other-'));
    const sameInstance = await run(daemonArgs(other, join(dir, 'third.sock'), weft.opts.instance));
    assert.equal(sameInstance.code, 1);
    assert.match(sameInstance.stderr, /another weft daemon with --instance \S+ runs in this network namespace/);
    assert.deepEqual(await links(), before.links, 'the first daemon\'s kernel objects are untouched');
    assert.deepEqual(readFileSync(join(weft.stateDir, 'state.journal')), before.journal, 'and its journal');
    // A daemon with its own instance name starts beside it and sweeps nothing of the first's.
    const beside = new WeftDaemon({ netns: host.netns, socket: join(dir, 'beside.sock'), instance: `${lab.prefix}beside`, stateDir: other, logPath: join(dir, 'beside.log') });
    await beside.start();
    await beside.destroy();
    assert.deepEqual(await links(), before.links);
    const e = await call(weft.opts.socket, '/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: 'ee'.repeat(32), Interface: { Address: `${subnet}.50/24`, AddressIPv6: '', MacAddress: '' } });
    assert.equal(e.status, 200, 'the first daemon still writes');
  } finally {
    await weft.destroy();
  }
});

test('a flipped byte, an empty or a missing journal with this instance\'s objects in the kernel: start refuses, nothing is touched', { skip }, async () => {
  const { weft } = await daemonWithNetwork('damage', 3);
  const journal = join(weft.stateDir, 'state.journal');
  try {
    await weft.kill();
    const good = readFileSync(journal);
    const kernel = await links();
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)] ^= 0x04;
    for (const [what, content, pattern] of [
      ['flipped byte', flipped, /is damaged at byte \d+ .*weft state recover/],
      ['empty', Buffer.alloc(0), /is empty, but the kernel still has \d+ object\(s\) of this weft instance.*weft state recover/],
      ['missing', undefined, /is missing, but the kernel still has/],
    ] as const) {
      if (content) writeFileSync(journal, content);
      else unlinkSync(journal);
      const r = await run(daemonArgs(weft.stateDir, weft.opts.socket, weft.opts.instance));
      assert.equal(r.code, 1, what);
      assert.match(r.stderr, pattern, what);
      assert.deepEqual(await links(), kernel, `${what}: kernel untouched`);
      if (content) assert.deepEqual(readFileSync(journal), content, `${what}: journal untouched`);
      else assert.ok(!existsSync(journal), 'no journal invented');
      const check = await run(['nsenter', `--net=/var/run/netns/${host.netns}`, process.execPath, cli, 'state', 'check', '--state-dir', weft.stateDir, '--instance', weft.opts.instance]);
      assert.equal(check.code, 1, check.stdout);
      assert.match(check.stdout, /weft will not start; run 'weft state recover/);
    }
    // Recovery keeps the intact records before the damage and a backup of the damaged file.
    writeFileSync(journal, flipped);
    const rec = await run(['nsenter', `--net=/var/run/netns/${host.netns}`, process.execPath, cli, 'state', 'recover', '--state-dir', weft.stateDir, '--instance', weft.opts.instance, '--docker-socket', join(dir, 'no-docker.sock'), '--without-docker', '--json']);
    assert.equal(rec.code, 0, rec.stderr);
    const report = JSON.parse(rec.stdout) as { kept: number; backup: string };
    assert.ok(report.kept > 0);
    assert.deepEqual(readFileSync(report.backup), flipped);
    await weft.start();
    assert.match(weft.log(), /reconciled kernel with store/);
  } finally {
    await weft.destroy();
  }
});

test('weft endpoint rm / network rm: a dry run prints the calls, the real run removes records, addresses and links', { skip }, async () => {
  const { weft, nid, subnet } = await daemonWithNetwork('repair', 2);
  const socket = weft.opts.socket;
  const weftCli = (args: string[]) => run(['nsenter', `--net=/var/run/netns/${host.netns}`, process.execPath, cli, ...args, '--socket', socket, '--state-dir', weft.stateDir]);
  try {
    const pool = (await call(socket, '/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: `${subnet.replace(/\.\d+$/, '.250')}.0/24`, V6: false })).json.PoolID as string;
    assert.ok(pool);
    const eid = `${nid.slice(0, 62)}10`;
    const linksBefore = await links();
    const dry = await weftCli(['endpoint', 'rm', eid.slice(0, 64), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would call \/NetworkDriver\.DeleteEndpoint \{"NetworkID":"[0-9a-f]{64}","EndpointID":"[0-9a-f]{64}"\}$/m);
    assert.deepEqual(await links(), linksBefore, 'a dry run changes nothing');
    const bad = await weftCli(['endpoint', 'rm', 'zzzz']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^weft: no weft endpoint zzzz/);
    const rm = await weftCli(['endpoint', 'rm', eid]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.ok(!EmbeddedStore.snapshot(weft.stateDir).has(`endpoints/${eid}`));
    const nrm = await weftCli(['network', 'rm', nid.slice(0, 12)]);
    assert.equal(nrm.code, 0, nrm.stderr);
    assert.match(nrm.stdout, /DeleteNetwork/);
    const keys = [...EmbeddedStore.snapshot(weft.stateDir).keys()];
    assert.deepEqual(keys.filter((k) => k.startsWith('networks/') || k.startsWith('endpoints/')), []);
    await weft.kill();
    await weft.start();
    assert.deepEqual((await links()).filter((l) => ownsLinkName(l, weft.opts.instance)), [], 'no link of the network left');
  } finally {
    await weft.destroy();
  }
});

test('--mesh ipvs on a kernel without IPVS refuses to start with a clear message', { skip }, async (t) => {
  const { probeMeshBackend } = await import('../../src/dataplane/mesh.js');
  if ((await probeMeshBackend()) === 'ipvs') {
    t.skip('this kernel has IPVS (the kernel-lab tier covers --mesh ipvs)');
    return;
  }
  const stateDir = mkdtempSync(join(dir, 'ipvs-'));
  const r = await run([...daemonArgs(stateDir, join(dir, 'ipvs.sock'), `${lab.prefix}ipvs`), '--mesh', 'ipvs']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^weft: --mesh ipvs: this kernel has no IPVS/);
  assert.ok(!existsSync(join(stateDir, 'state.journal')), 'refused before touching the state');
});

/** A small tmpfs as a state directory. */
async function tmpfs(name: string): Promise<string> {
  const m = join(dir, name);
  mkdirSync(m);
  await sh(['mount', '-t', 'tmpfs', '-o', 'size=512k,mode=0700', `weft-${lab.prefix}`, m]);
  mounts.push(m);
  return join(m, 'state');
}

/** Fills the filesystem under `path` to the last byte; returns the filler's path. */
function fill(path: string): string {
  const filler = join(path, '..', 'filler');
  const fd = openSync(filler, 'w');
  try {
    for (const size of [65536, 4096, 256, 16, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

test('a full disk: writes get Err naming the path and free space, nothing acknowledged is lost, writes resume, a restart has everything', { skip }, async () => {
  const stateDir = await tmpfs('full');
  const { weft, nid, subnet } = await daemonWithNetwork('full', 1, { stateDir });
  const socket = weft.opts.socket;
  try {
    const acked: string[] = [];
    const filler = fill(stateDir);
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      const id = `${'f1'.repeat(31)}${(i + 16).toString(16)}`;
      const r = await call(socket, '/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: id, Interface: { Address: `${subnet}.${i + 100}/24`, AddressIPv6: '', MacAddress: '' } });
      if (r.status === 200) acked.push(id);
      else {
        refused++;
        assert.match(String(r.json.Err), new RegExp(`cannot write state journal ${stateDir}/state.journal: no space left on device \\(\\d+ bytes free\\)`));
      }
    }
    assert.ok(refused > 0, 'the full disk refused some writes');
    assert.deepEqual(readdirSync(stateDir).filter((f) => f.includes('tmp')), [], 'no temp file left');
    // Restart while the disk is still full: it starts, serves reads, refuses writes.
    await weft.kill();
    await weft.start();
    assert.match(weft.log(), /reconciled kernel with store/);
    const info = await call(socket, '/NetworkDriver.EndpointOperInfo', { NetworkID: nid, EndpointID: acked[0] ?? 'x' });
    assert.equal(info.status, 200);
    const w = await call(socket, '/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: 'f2'.repeat(32), Interface: { Address: `${subnet}.200/24`, AddressIPv6: '', MacAddress: '' } });
    assert.equal(w.status, 500);
    assert.match(String(w.json.Err), /no space left on device/);
    unlinkSync(filler);
    const after = await call(socket, '/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: 'f3'.repeat(32), Interface: { Address: `${subnet}.201/24`, AddressIPv6: '', MacAddress: '' } });
    assert.equal(after.status, 200, JSON.stringify(after.json));
    acked.push('f3'.repeat(32));
    await weft.kill();
    await weft.start();
    const have = new Set([...EmbeddedStore.snapshot(stateDir).keys()]);
    for (const id of acked) assert.ok(have.has(`endpoints/${id}`), `acknowledged endpoint ${id.slice(0, 12)} survived`);
  } finally {
    await weft.destroy();
  }
});

/** A stand-in for dockerd's API: the networks and endpoints Docker has, for reconciliation. */
function fakeDocker(socket: string, view: () => { id: string; driver: string; subnet: string; gateway: string; endpoints: Map<string, string>; held: Set<string> }) {
  const server = createServer((req, res) => {
    const v = view();
    // Addresses Docker holds for endpoints it is still creating show as aux addresses here.
    const aux = Object.fromEntries([...v.held].map((a, i) => [`h${i}`, a]));
    const summary = { Id: v.id, Driver: v.driver, IPAM: { Driver: v.driver, Config: [{ Subnet: v.subnet, Gateway: v.gateway, AuxiliaryAddresses: aux }] } };
    const containers = Object.fromEntries([...v.endpoints].map(([ep, a], i) => [`c${i}`, { EndpointID: ep, IPv4Address: a }]));
    const body = req.url === '/networks' ? [summary] : req.url === `/networks/${v.id}` ? { ...summary, Containers: containers } : undefined;
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body ?? { message: 'not found' }));
  });
  return new Promise<{ close(): void }>((resolve) => server.listen(socket, () => resolve({ close: () => server.close() })));
}

test('100 rounds of kill -9 at random points (every 5th on a full disk): every acknowledged write survives, nothing leaks', { skip }, async () => {
  const stateDir = await tmpfs('rounds');
  const dockerSocket = join(dir, 'docker.sock');
  const weft = new WeftDaemon({
    netns: host.netns, socket: join(dir, 'rounds.sock'), instance: `${lab.prefix}rounds`, logPath: join(dir, 'rounds.log'), stateDir, dockerSocket,
    extraArgs: ['--no-dns', '--mesh', 'off', '--docker-reconcile', '3'],
  });
  const socket = weft.opts.socket;
  const nid = '7e'.repeat(32);
  const subnet = '198.19.90';
  const live = new Map<string, string>(); // acknowledged endpoints -> address
  const inDoubt = new Set<string>(); // CreateEndpoint sent, no answer
  const pending = new Set<string>(); // DeleteEndpoint sent, no answer: Docker retries it
  const held = new Set<string>(); // addresses Docker got an answer for and has not released
  const docker = await fakeDocker(dockerSocket, () => ({ id: nid, driver: 'rounds', subnet: `${subnet}.0/24`, gateway: `${subnet}.1`, endpoints: live, held }));
  await weft.start();
  const poolReply = await call(socket, '/IpamDriver.RequestPool', { AddressSpace: 'weft-local', Pool: `${subnet}.0/24`, V6: false });
  const pool = poolReply.json.PoolID as string;
  await call(socket, '/IpamDriver.RequestAddress', { PoolID: pool, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } });
  assert.equal((await call(socket, '/NetworkDriver.CreateNetwork', {
    NetworkID: nid, Options: { 'com.docker.network.generic': { 'weft.mode': 'bridge' } },
    IPv4Data: [{ AddressSpace: 'weft-local', Pool: `${subnet}.0/24`, Gateway: `${subnet}.1/24` }], IPv6Data: [],
  })).status, 200);
  let n = 0;
  try {
    for (let round = 0; round < 100; round++) {
      const filler = round % 5 === 4 ? fill(stateDir) : undefined;
      const calls: Promise<void>[] = [];
      for (let i = 0; i < 2; i++) {
        const id = (++n).toString(16).padStart(64, 'a');
        const mac = `02:42:00:00:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
        calls.push((async () => {
          const a = await call(socket, '/IpamDriver.RequestAddress', { PoolID: pool, Address: '', Options: { 'com.docker.network.endpoint.macaddress': mac } });
          if (a.status !== 200) return;
          held.add((a.json.Address as string).split('/')[0]!);
          inDoubt.add(id);
          const e = await call(socket, '/NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: id, Interface: { Address: a.json.Address, AddressIPv6: '', MacAddress: mac } });
          if (e.status === 200) live.set(id, a.json.Address as string);
          else held.delete((a.json.Address as string).split('/')[0]!); // Docker rolls back: releases it
          if (e.status === 200 || e.status >= 400) inDoubt.delete(id);
        })().catch(() => undefined));
      }
      for (const id of [...live.keys()].slice(0, 2)) {
        pending.add(id);
        calls.push(call(socket, '/NetworkDriver.DeleteEndpoint', { NetworkID: nid, EndpointID: id }).then(async (r) => {
          if (r.status !== 200) return;
          pending.delete(id);
          const address = live.get(id)!;
          live.delete(id);
          held.delete(address.split('/')[0]!);
          await call(socket, '/IpamDriver.ReleaseAddress', { PoolID: pool, Address: address.split('/')[0] });
        }).catch(() => undefined));
      }
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      await weft.kill();
      await Promise.allSettled(calls);
      if (filler) unlinkSync(filler);
      const state = EmbeddedStore.snapshot(stateDir);
      for (const id of live.keys()) assert.ok(state.has(`endpoints/${id}`) || pending.has(id), `round ${round}: acknowledged endpoint ${id.slice(-6)} lost`);
      const addresses = [...state].filter(([k]) => k.startsWith('endpoints/')).map(([, v]) => (JSON.parse(v) as EndpointRecord).address);
      assert.equal(new Set(addresses).size, addresses.length, `round ${round}: duplicate address`);
      await weft.start();
    }
    // Docker retries the deletes it never got an answer for; what it never
    // acknowledged is released by reconciliation with its view.
    for (const id of pending) {
      assert.equal((await call(socket, '/NetworkDriver.DeleteEndpoint', { NetworkID: nid, EndpointID: id })).status, 200);
      const address = live.get(id);
      if (address) await call(socket, '/IpamDriver.ReleaseAddress', { PoolID: pool, Address: address.split('/')[0] });
      live.delete(id);
    }
    for (const id of [...live.keys()]) {
      assert.equal((await call(socket, '/NetworkDriver.DeleteEndpoint', { NetworkID: nid, EndpointID: id })).status, 200);
      held.delete(live.get(id)!.split('/')[0]!);
      await call(socket, '/IpamDriver.ReleaseAddress', { PoolID: pool, Address: live.get(id)!.split('/')[0] });
      live.delete(id);
    }
    held.clear();
    const leftover = () => [...EmbeddedStore.snapshot(stateDir).keys()].filter((k) => k.startsWith('endpoints/') || (k.startsWith('ipam/addrs/') && !k.endsWith(`/${subnet}.1`)));
    for (const k of leftover()) assert.ok(k.startsWith('ipam/') || inDoubt.has(k.slice('endpoints/'.length)), `${k} was never in doubt`);
    for (let i = 0; i < 600 && leftover().length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(leftover(), [], 'reconciliation with Docker released what Docker never acknowledged');
    assert.equal((await call(socket, '/NetworkDriver.DeleteNetwork', { NetworkID: nid })).status, 200);
    await call(socket, '/IpamDriver.ReleaseAddress', { PoolID: pool, Address: `${subnet}.1` });
    await call(socket, '/IpamDriver.ReleasePool', { PoolID: pool });
    await weft.kill();
    assert.deepEqual([...EmbeddedStore.snapshot(stateDir).keys()], [], 'no pool, address, VNI, network or endpoint left');
    await weft.start();
    assert.deepEqual((await links()).filter((l) => ownsLinkName(l, weft.opts.instance)), [], 'no link left');
  } finally {
    await weft.destroy();
    docker.close();
  }
});
