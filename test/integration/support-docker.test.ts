/**
 * The dockerd test helper: an isolated daemon runs a busybox container with no
 * network, and stopping it leaves no process, mount, cgroup or temp dir.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { test } from 'node:test';
import {
  BUSYBOX, dockerSkipReason, mountsBelow, pluginSocketPath, processesMentioning, removePluginSocket,
  startDocker, sweepStaleDocker, uniquePluginName,
} from '../support/docker.js';

/** Whether a pid exists and is not a zombie (init reaps those in its own time). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

const skip = await dockerSkipReason();
if (skip) console.log(`# skipping dockerd tests: ${skip}`);

test('docker helper: isolated daemon runs weft-busybox and leaves nothing behind', { skip, timeout: 180_000 }, async () => {
  const d = await startDocker({ dns: '198.18.0.53' });
  const dir = d.dir;
  let pids: number[] = [];
  try {
    assert.equal(d.host, `unix://${d.socket}`);
    const out = await d.docker(['run', '--rm', '--network', 'none', BUSYBOX, 'echo', 'hi']);
    assert.equal(out.trim(), 'hi');

    const info = JSON.parse(await d.docker(['info', '--format', '{{json .}}'])) as Record<string, unknown>;
    assert.equal(info.DockerRootDir, `${dir}/data`, 'data-root is the temp dir');
    assert.equal(info.CgroupDriver, 'cgroupfs');

    // Containers get the lab resolver, never a public one.
    const resolv = await d.docker(['run', '--rm', '--network', 'none', BUSYBOX, 'cat', '/etc/resolv.conf']);
    assert.doesNotMatch(resolv, /nameserver (8\.8|1\.1|9\.9)/);

    // Applets the tests rely on are present.
    const applets = await d.docker(['run', '--rm', '--network', 'none', BUSYBOX, 'sh', '-c',
      'for a in sh ping ip nslookup wget sleep cat hostname ifconfig nc httpd; do command -v $a >/dev/null || echo missing $a; done; echo done']);
    assert.equal(applets.trim(), 'done');

    // A long-running container must be gone after stop() too.
    await d.docker(['run', '-d', '--name', 'sleeper', '--network', 'none', BUSYBOX, 'sleep', '600']);
    pids = processesMentioning(dir);
    assert.ok(pids.length >= 2, 'dockerd and containerd run from the temp dir');
  } finally {
    await d.stop();
  }
  assert.equal(existsSync(dir), false, 'temp dir removed');
  assert.deepEqual(mountsBelow(dir), [], 'nothing mounted below the temp dir');
  assert.deepEqual(processesMentioning(dir), [], 'no dockerd/containerd/shim left');
  for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} gone`);
  const cgroups = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.ok(!cgroups.includes(dir));
  await d.stop(); // idempotent
});

test('docker helper: the sweep cleans up after a test process killed with -9', { skip, timeout: 180_000 }, async () => {
  const helper = new URL('../support/docker.js', import.meta.url).href;
  const script = `
    const m = await import(${JSON.stringify(helper)});
    const d = await m.startDocker({ dns: '198.18.0.53' });
    await d.docker(['run', '-d', '--network', 'none', m.BUSYBOX, 'sleep', '600']);
    console.log(d.dir);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  let dir = '';
  try {
    for await (const chunk of child.stdout!) {
      dir += String(chunk);
      if (dir.includes('\n')) break;
    }
    dir = dir.trim();
    assert.match(dir, /weft-docker-/);
    assert.ok(processesMentioning(dir).length >= 2);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  const removed = sweepStaleDocker();
  assert.ok(removed.includes(dir), `sweep removed ${dir}`);
  assert.equal(existsSync(dir), false);
  assert.deepEqual(mountsBelow(dir), []);
  assert.deepEqual(processesMentioning(dir).filter(running), []);
});

test('docker helper: plugin names are unique per process and the socket path is the discovery path', { skip }, () => {
  const a = uniquePluginName();
  const b = uniquePluginName('weftipam');
  assert.notEqual(a, b);
  assert.match(a, new RegExp(`^weft-${process.pid.toString(36)}x[0-9a-f]{6}$`));
  const sock = pluginSocketPath(a);
  assert.equal(sock, `/run/docker/plugins/${a}.sock`);
  assert.equal(existsSync('/run/docker/plugins'), true);
  removePluginSocket(a);
  assert.throws(() => uniquePluginName('Other'));
});

test('docker helper: a plugin on its unique socket is discovered by the isolated daemon', { skip, timeout: 120_000 }, async () => {
  const name = uniquePluginName();
  const calls: string[] = [];
  // The smallest remote network driver: enough for network create/rm.
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      calls.push(path);
      const body = path === '/Plugin.Activate' ? { Implements: ['NetworkDriver'] }
        : path === '/NetworkDriver.GetCapabilities' ? { Scope: 'local', ConnectivityScope: 'local' }
        : {};
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.plugins.v1+json' });
      res.end(JSON.stringify(body));
    });
  });
  const sock = pluginSocketPath(name);
  await new Promise<void>((r) => server.listen(sock, r));
  const d = await startDocker({ busybox: false });
  try {
    await d.docker(['network', 'create', '-d', name, '--subnet', '198.18.77.0/24', 'pnet']);
    assert.match(await d.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']), new RegExp(`^pnet ${name}$`, 'm'));
    await d.docker(['network', 'rm', 'pnet']);
    assert.deepEqual(calls.filter((c) => /Activate|CreateNetwork|DeleteNetwork/.test(c)),
      ['/Plugin.Activate', '/NetworkDriver.CreateNetwork', '/NetworkDriver.DeleteNetwork']);
  } finally {
    await d.stop();
    server.close();
    removePluginSocket(name);
  }
  assert.equal(existsSync(sock), false);
});

test('docker helper: refuses a DNS server outside the lab ranges', async () => {
  await assert.rejects(startDocker({ dns: '8.8.8.8' }), /network safety/);
});
