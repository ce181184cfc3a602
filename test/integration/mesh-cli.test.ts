/**
 * `weft service create|add|rm|ls` end to end: the compiled CLI, one process
 * per command, against lab namespaces (mesh-lab.ts: h1 and h2 on the
 * underlay, backend b1 behind h1 and b2 behind h2, each running a server
 * that answers with its name, a client namespace on the underlay). The CLI
 * runs on h1 with its state file in a temp dir; the client connects to
 * h1's published port.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { probeMeshBackend } from '../../src/dataplane/mesh.js';
import { have, run, sh } from '../support/exec.js';
import { rootSkipReason } from '../support/lab.js';
import { type MeshLab, connectMany, createMeshLab } from './mesh-lab.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

const skip = rootSkipReason() ?? (process.env.WEFT_KLAB === '1' ? 'runs on the host (the kernel lab covers IPVS in test/kernel)' : undefined);

interface LsJson {
  backend: string;
  hostIndex: number;
  services: Array<{ name: string; network: string; ports: Array<{ published: number; target: number; protocol: string }>; mode: string; scheduler: string; backends: Array<{ address: string; weight: number }> }>;
}

/** nft tables in a namespace ('' = the host's own namespace, read only). */
async function tables(ns: string): Promise<string[]> {
  const argv = ns ? ['ip', 'netns', 'exec', ns, 'nft', 'list', 'tables'] : ['nft', 'list', 'tables'];
  return (await sh(argv)).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** DNAT targets programmed in a namespace's weft_mesh table. */
async function dnats(ns: string): Promise<string[]> {
  const out = await sh(['ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'ip', 'weft_mesh']);
  return [...out.matchAll(/dnat to (\S+)/g)].map((m) => m[1]!).sort();
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test('weft service CLI: create, add, rm, ls in lab namespaces; bad arguments; nothing left behind', { skip, timeout: 180_000 }, async (t) => {
  if (!(await have('nft'))) return t.skip('nft not installed');
  const rootTablesBefore = await tables('');
  const stateDir = mkdtempSync(join(tmpdir(), 'weft-mesh-cli-'));
  let ml: MeshLab | undefined;
  let labNamespaces: string[] = [];
  const pids: number[] = [];
  try {
    ml = await createMeshLab(2, [80]);
    labNamespaces = [...ml.lab.namespaces];
    const [h1, h2] = ml.hosts as [typeof ml.hosts[0], typeof ml.hosts[0]];
    const [b1, b2] = ml.backends as [typeof ml.backends[0], typeof ml.backends[0]];
    // h2 only forwards to its backend (no mesh there).
    await sh(['ip', 'netns', 'exec', h2.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    for (const b of ml.backends) pids.push(...(await sh(['ip', 'netns', 'pids', b.netns])).split(/\s+/).filter(Boolean).map(Number));
    assert.ok(pids.length >= 2, 'backend servers run in their namespaces');

    const weft = (...args: string[]) => run([process.execPath, CLI, 'service', ...args], { timeoutMs: 60_000 });
    const ok = async (...args: string[]) => {
      const r = await weft(...args);
      assert.equal(r.code, 0, `weft service ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      return r.stdout;
    };
    const on = ['--netns', h1.netns, '--state-dir', stateDir];
    const ls = async (): Promise<LsJson> => JSON.parse(await ok('ls', '--json', ...on)) as LsJson;
    const answers = async (n: number) => {
      const r = await connectMany(ml!.client.netns, h1.address, 8080, n, 2);
      assert.equal(r.failed, 0, `connections to the published port failed: ${JSON.stringify(r)}`);
      return r.counts;
    };

    // Bad arguments: exit 2, one line on stderr, nothing touched, even in a namespace the mesh has not used yet.
    const h2State = join(stateDir, `mesh-${h2.netns}.json`);
    const bad: string[][] = [
      [],
      ['frob'],
      ['create'],
      ['create', 'web', '--network', 'ingress'],
      ['create', 'web', '--network', 'ingress', '--publish', '99999:80'],
      ['create', 'web', '--network', 'ingress', '--publish', '8080:80/sctp'],
      ['create', 'web', '--network', 'ingress', '--publish', '8080:80', '--mode', 'bogus'],
      ['create', 'web', '--network', 'ingress', '--publish', '8080:80', '--scheduler', 'fastest'],
      ['create', 'web', '--network', 'ingress', '--publish', '8080:80', '--vip', '10.0.0'],
      ['create', 'bad name!', '--network', 'ingress', '--publish', '8080:80'],
      ['create', 'web', 'extra', '--network', 'ingress', '--publish', '8080:80'],
      ['create', 'web', '--network', 'ingress', '--publish'],
      ['add', 'web'],
      ['add', 'web', '--backend', 'not-an-address'],
      ['add', 'web', '--backend', '198.19.1.256'],
      ['add', 'web', '--backend', '198.19.1.2@1001'],
      ['ls', '--bogus', 'x'],
      ['ls', '--mesh-backend', 'iptables'],
      ['ls', '--host-index', '99'],
      ['ls', '--peer', 'one=198.18.0.1'],
    ];
    for (const args of bad) {
      const r = await weft(...args, '--netns', h2.netns, '--state-dir', stateDir);
      const what = `weft service ${args.join(' ')}`;
      assert.equal(r.code, 2, `${what}: exit ${r.code} (stderr ${JSON.stringify(r.stderr)})`);
      assert.match(r.stderr, /^weft: [^\n]+\n$/, `${what}: one line on stderr`);
      assert.equal(r.stdout, '', `${what}: nothing on stdout`);
    }
    assert.deepEqual(await tables(h2.netns), [], 'bad arguments installed nothing in the namespace');
    assert.equal(existsSync(h2State), false, 'bad arguments wrote no state file');
    // --netns is a global flag; a missing value is bad input too.
    const noNs = await weft('ls', '--state-dir', stateDir, '--netns');
    assert.equal(noNs.code, 2);
    assert.match(noNs.stderr, /^weft: [^\n]+\n$/);

    // create + add: both backends answer through h1's published port.
    await ok('create', 'web', '--network', 'ingress', '--publish', '8080:80/tcp', ...on);
    const state = await ls();
    const kind = await probeMeshBackend(h1.netns);
    assert.equal(state.backend, kind);
    if (kind === 'nft') assert.deepEqual(await tables(h1.netns), ['table ip weft_mesh']);
    assert.deepEqual(state.services.map((s) => [s.name, s.network, s.mode, s.scheduler, s.ports]), [['web', 'ingress', 'masquerade', 'rr', [{ published: 8080, target: 80, protocol: 'tcp' }]]]);
    assert.deepEqual(state.services[0]!.backends, []);
    assert.ok(existsSync(join(stateDir, `mesh-${h1.netns}.json`)), 'state file in --state-dir');

    // No backends yet: the published port refuses (RST), it does not hang.
    const refused = await connectMany(ml.client.netns, h1.address, 8080, 3, 1);
    assert.equal(refused.failed, 3);
    assert.deepEqual(refused.counts, {});

    await ok('add', 'web', '--backend', b1.address, ...on);
    await ok('add', 'web', '--backend', b2.address, ...on);
    const both = await ls();
    assert.deepEqual(both.services[0]!.backends.map((b) => b.address).sort(), [b1.address, b2.address]);
    if (kind === 'nft') assert.deepEqual(await dnats(h1.netns), [`${b1.address}:80`, `${b2.address}:80`]);
    let counts = await answers(40);
    assert.ok((counts.b1 ?? 0) >= 10 && (counts.b2 ?? 0) >= 10, `both backends answer: ${JSON.stringify(counts)}`);

    // Adding the same backend twice keeps one; a service on a taken port is refused (exit 2, state unchanged).
    await ok('add', 'web', '--backend', b1.address, ...on);
    assert.equal((await ls()).services[0]!.backends.length, 2);
    const clash = await weft('create', 'api', '--network', 'ingress', '--publish', '8080:81', ...on);
    assert.equal(clash.code, 2, clash.stderr);
    assert.match(clash.stderr, /^weft: [^\n]*8080\/tcp[^\n]*\n$/);
    assert.deepEqual((await ls()).services.map((s) => s.name), ['web']);
    // A scheduler the dataplane lacks is refused and rolled back.
    if (kind === 'nft') {
      const lc = await weft('create', 'web', '--network', 'ingress', '--publish', '8080:80', '--scheduler', 'lc', ...on);
      assert.equal(lc.code, 2, lc.stderr);
      assert.match(lc.stderr, /^weft: [^\n]+\n$/);
      assert.equal((await ls()).services[0]!.scheduler, 'rr');
    }
    // Unknown service: not bad syntax, but still one line and non-zero.
    const missing = await weft('add', 'nosuch', '--backend', b1.address, ...on);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /^weft: [^\n]+\n$/);

    // Text listing names the backend kind and both backends.
    const text = await ok('ls', ...on);
    assert.match(text, new RegExp(`^mesh backend: ${kind}\n`));
    const line = text.split('\n')[1]!.split('\t');
    assert.deepEqual(line.slice(0, 5), ['web', 'ingress', '8080:80/tcp', 'masquerade', 'rr']);
    assert.deepEqual(line[5]!.split(',').sort(), [b1.address, b2.address]);

    // rm one backend: only the other answers.
    await ok('rm', 'web', '--backend', b1.address, ...on);
    assert.deepEqual((await ls()).services[0]!.backends.map((b) => b.address), [b2.address]);
    counts = await answers(20);
    assert.deepEqual(counts, { b2: 20 });

    // Someone flushes the namespace's ruleset: the next changing command reconciles from the state file
    // (ls only reads: it leaves the flushed ruleset alone).
    await sh(['ip', 'netns', 'exec', h1.netns, 'nft', 'flush', 'ruleset']);
    await ok('ls', ...on);
    assert.deepEqual(await tables(h1.netns), []);
    await ok('add', 'web', '--backend', b2.address, ...on);
    assert.deepEqual(await answers(10), { b2: 10 });

    // rm the service: the port closes, no DNAT rule stays.
    await ok('rm', 'web', ...on);
    assert.deepEqual((await ls()).services, []);
    if (kind === 'nft') assert.deepEqual(await dnats(h1.netns), []);
    const closed = await connectMany(ml.client.netns, h1.address, 8080, 3, 1);
    assert.equal(closed.failed, 3);
  } finally {
    await ml?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  // Nothing left behind: the lab's namespaces, its servers, the host's own ruleset.
  const left = existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : [];
  assert.deepEqual(left.filter((n) => labNamespaces.includes(n)), [], 'lab namespaces removed');
  for (const pid of pids) assert.ok(await gone(pid), `backend server ${pid} still running`);
  assert.deepEqual(await tables(''), rootTablesBefore, 'the host namespace ruleset is untouched');
  assert.equal(existsSync(stateDir), false);
});
