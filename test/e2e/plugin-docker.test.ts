/**
 * `docker network create -d weft` end to end: a real, isolated dockerd and
 * a weft daemon share a lab host's network namespace; containers on weft
 * networks of each mode ping each other; connect/disconnect, static --ip,
 * rm leaves nothing; kill -9 of the daemon keeps traffic flowing and a
 * restart reconciles.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { BUSYBOX, type DockerDaemon, dockerSkipReason } from '../support/docker.js';
import { Lab, type LabHost, rootSkipReason } from '../support/lab.js';
import { json, run } from '../support/exec.js';
import type { WeftDaemon } from '../support/weft-daemon.js';
import { DockerWeft } from '../support/docker-weft.js';

const skip = rootSkipReason() ?? (await dockerSkipReason());
let lab: Lab;
let host: LabHost;
let docker: DockerDaemon;
let weft: WeftDaemon;
let driver: string;

let env: DockerWeft | undefined;

before(async () => {
  if (skip) return;
  env = await DockerWeft.start('d1');
  ({ lab, host, docker, weft, driver } = env);
});

after(async () => {
  await env?.destroy();
});

const d = (args: string[]) => docker.docker(args);
const ipOf = async (ctr: string, net: string) =>
  (await d(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, ctr])).trim();
const ping = (net: string, target: string, extra: string[] = []) =>
  d(['run', '--rm', '--network', net, ...extra, BUSYBOX, 'ping', '-c', '2', '-W', '2', target]);

async function weftLinks(): Promise<string[]> {
  const links = await json<{ ifname: string }[]>(['ip', '-n', host.netns, '-j', 'link', 'show']);
  return links.map((l) => l.ifname).filter((n) => n.startsWith('wf'));
}
const weftNamespaces = () => readdirSync('/var/run/netns').filter((n) => n.startsWith(`wf-ov-${lab.prefix}`));

for (const [mode, subnet, opts] of [
  ['overlay', '198.19.11.0/24', []],
  ['bridge', '198.19.12.0/24', ['-o', 'weft.mode=bridge']],
] as const) {
  test(`${mode}: two containers ping each other; static --ip; connect/disconnect; rm leaves nothing`, { skip }, async () => {
    const net = `w${mode}`;
    await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', subnet, ...opts, net]);
    try {
      await d(['run', '-d', '--name', `${net}-a`, '--network', net, BUSYBOX, 'sleep', '600']);
      const a = await ipOf(`${net}-a`, net);
      assert.match(a, /^198\.19\.1[12]\.\d+$/);
      await ping(net, a);
      const staticIp = subnet.replace('0/24', '77');
      await d(['run', '-d', '--name', `${net}-b`, '--network', net, '--ip', staticIp, BUSYBOX, 'sleep', '600']);
      assert.equal(await ipOf(`${net}-b`, net), staticIp);
      await d(['exec', `${net}-a`, 'ping', '-c', '2', '-W', '2', staticIp]);
      // connect a container that started on another weft network, then disconnect it
      await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', subnet.replace(/\.1(\d)\.0/, '.2$1.0'), ...opts, `${net}2`]);
      await d(['run', '-d', '--name', `${net}-c`, '--network', `${net}2`, BUSYBOX, 'sleep', '600']);
      await d(['network', 'connect', net, `${net}-c`]);
      await d(['exec', `${net}-c`, 'ping', '-c', '1', '-W', '2', a]);
      await d(['network', 'disconnect', net, `${net}-c`]);
      const r = await docker.tryDocker(['exec', `${net}-c`, 'ping', '-c', '1', '-W', '1', a]);
      assert.notEqual(r.code, 0, 'after disconnect the network is unreachable');
      await d(['rm', '-f', `${net}-a`, `${net}-b`, `${net}-c`]);
    } finally {
      await docker.tryDocker(['rm', '-f', `${net}-a`, `${net}-b`, `${net}-c`]);
      await docker.tryDocker(['network', 'rm', `${net}2`]);
      await d(['network', 'rm', net]);
    }
    assert.deepEqual(await weftLinks(), [], 'no weft link left in the host namespace');
    assert.deepEqual(weftNamespaces(), [], 'no overlay namespace left');
  });
}

test('macvlan on a lab veth parent: containers ping each other', { skip }, async () => {
  await host.exec(['ip', 'link', 'add', 'mvp0', 'type', 'veth', 'peer', 'name', 'mvp1']);
  await host.exec(['ip', 'link', 'set', 'mvp0', 'up']);
  await host.exec(['ip', 'link', 'set', 'mvp1', 'up']);
  const net = 'wmacvlan';
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.13.0/24', '-o', 'weft.mode=macvlan', '-o', 'parent=mvp0', net]);
  try {
    await d(['run', '-d', '--name', 'mv-a', '--network', net, BUSYBOX, 'sleep', '600']);
    await ping(net, await ipOf('mv-a', net));
  } finally {
    await docker.tryDocker(['rm', '-f', 'mv-a']);
    await d(['network', 'rm', net]);
  }
  assert.deepEqual(await weftLinks(), []);
});

test('bad requests: unknown driver options are refused with a clear error', { skip }, async () => {
  const r = await docker.tryDocker(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.14.0/24', '-o', 'weft.mode=nonsense', 'wbad']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /weft\.mode must be one of/);
  const m = await docker.tryDocker(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.14.0/24', '-o', 'weft.mode=macvlan', '-o', 'parent=nope9', 'wbad2']);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /nope9/);
  const o = await docker.tryDocker(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.11.0/24', 'wok']);
  assert.equal(o.code, 0, o.stderr);
  const overlap = await docker.tryDocker(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.11.128/25', 'woverlap']);
  assert.notEqual(overlap.code, 0);
  assert.match(overlap.stderr, /198\.19\.11\.0\/24/);
  await d(['network', 'rm', 'wok']);
});

test('kill -9 of the daemon: traffic keeps flowing; after restart docker run works and nothing leaks', { skip }, async () => {
  const net = 'wcrash';
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.15.0/24', net]);
  try {
    await d(['run', '-d', '--name', 'cr-a', '--network', net, BUSYBOX, 'sleep', '600']);
    await d(['run', '-d', '--name', 'cr-b', '--network', net, BUSYBOX, 'sleep', '600']);
    const b = await ipOf('cr-b', net);
    await weft.kill();
    await d(['exec', 'cr-a', 'ping', '-c', '2', '-W', '2', b]);
    await weft.start();
    await d(['exec', 'cr-a', 'ping', '-c', '2', '-W', '2', b]);
    await ping(net, b);
    await d(['rm', '-f', 'cr-a', 'cr-b']);
  } finally {
    await docker.tryDocker(['rm', '-f', 'cr-a', 'cr-b']);
    await d(['network', 'rm', net]);
  }
  assert.deepEqual(await weftLinks(), []);
  assert.deepEqual(weftNamespaces(), []);
});

test('dockerd restart: the network survives and new containers reach each other', { skip }, async () => {
  const net = 'wrestart';
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.16.0/24', net]);
  try {
    await docker.restartDockerd();
    await d(['run', '-d', '--name', 'rs-a', '--network', net, BUSYBOX, 'sleep', '600']);
    await ping(net, await ipOf('rs-a', net));
  } finally {
    await docker.tryDocker(['rm', '-f', 'rs-a']);
    await d(['network', 'rm', net]);
  }
  assert.deepEqual(await weftLinks(), []);
});

test('IPv6 and --mac-address: dual-stack containers reach each other over v6; the MAC is the one asked for', { skip }, async () => {
  const net = 'wv6';
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--ipv6', '--subnet', '198.19.17.0/24', '--subnet', 'fd00:198:19:17::/64', '-o', 'weft.mode=bridge', net]);
  try {
    await d(['run', '-d', '--name', 'v6-a', '--network', net, '--mac-address', '02:42:c6:13:11:aa', BUSYBOX, 'sleep', '600']);
    const v6 = (await d(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").GlobalIPv6Address}}`, 'v6-a'])).trim();
    assert.match(v6, /^fd00:198:19:17::/);
    const mac = (await d(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").MacAddress}}`, 'v6-a'])).trim();
    assert.equal(mac, '02:42:c6:13:11:aa');
    const shown = await d(['exec', 'v6-a', 'cat', '/sys/class/net/eth0/address']);
    assert.equal(shown.trim(), '02:42:c6:13:11:aa');
    await d(['run', '--rm', '--network', net, BUSYBOX, 'ping', '-6', '-c', '2', '-W', '3', v6]);
  } finally {
    await docker.tryDocker(['rm', '-f', 'v6-a']);
    await d(['network', 'rm', net]);
  }
});

test('bridge masquerade: a container reaches another lab host only with NAT; the chain is weft-owned and removed', { skip }, async () => {
  const other = await lab.host('d2');
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.19.0/24', '-o', 'weft.mode=bridge', 'wnonat']);
  try {
    const r = await docker.tryDocker(['run', '--rm', '--network', 'wnonat', BUSYBOX, 'ping', '-c', '1', '-W', '1', other.address]);
    assert.notEqual(r.code, 0, 'without masquerade the other host has no route back');
  } finally {
    await d(['network', 'rm', 'wnonat']);
  }
  const net = 'wnat';
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.18.0/24', '-o', 'weft.mode=bridge',
    '-o', 'com.docker.network.bridge.enable_ip_masquerade=true', net]);
  try {
    await d(['run', '--rm', '--network', net, BUSYBOX, 'ping', '-c', '2', '-W', '2', other.address]);
    const rules = await json<{ nftables: Record<string, unknown>[] }>(['ip', 'netns', 'exec', host.netns, 'nft', '-j', 'list', 'table', 'ip', 'weft_nat']);
    assert.ok(rules.nftables.some((e) => 'rule' in e), 'masquerade rule present');
  } finally {
    await d(['network', 'rm', net]);
  }
  const after = await json<{ nftables: Record<string, unknown>[] }>(['ip', 'netns', 'exec', host.netns, 'nft', '-j', 'list', 'table', 'ip', 'weft_nat']);
  assert.ok(!after.nftables.some((e) => 'chain' in e), 'chain removed with the network');
});

test('DNS on the gateway: names, aliases, weft.service, scoping; Docker forwards unknown names to it', { skip }, async () => {
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.30.0/24', 'wdns']);
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.31.0/24', '-o', 'weft.mode=bridge', 'wdns2']);
  try {
    await d(['run', '-d', '--name', 'dns-a', '--network', 'wdns', '--network-alias', 'web', BUSYBOX, 'sleep', '600']);
    await d(['run', '-d', '--name', 'dns-b', '--network', 'wdns', '--label', 'weft.service=api', BUSYBOX, 'sleep', '600']);
    const a = await ipOf('dns-a', 'wdns');
    const b = await ipOf('dns-b', 'wdns');
    const lookup = async (net: string, name: string, server: string, extra: string[] = []) => {
      for (let i = 0; i < 40; i++) { // names appear once Docker's events reach weft
        const r = await docker.tryDocker(['run', '--rm', '--network', net, ...extra, BUSYBOX, 'nslookup', name, server]);
        if (r.code === 0 && /Address:? .*198\.19\./.test(r.stdout.split(/Name:/)[1] ?? '')) return r.stdout;
        await new Promise((res) => setTimeout(res, 250));
      }
      return '';
    };
    assert.match(await lookup('wdns', 'dns-a', '198.19.30.1'), new RegExp(a.replaceAll('.', '\\.')));
    assert.match(await lookup('wdns', 'web', '198.19.30.1'), new RegExp(a.replaceAll('.', '\\.')));
    assert.match(await lookup('wdns', 'api', '198.19.30.1'), new RegExp(b.replaceAll('.', '\\.')));
    assert.match(await lookup('wdns', 'tasks.api', '198.19.30.1'), new RegExp(b.replaceAll('.', '\\.')));
    // A client on another network gets no answer for wdns's names from its own gateway.
    const other = await docker.tryDocker(['run', '--rm', '--network', 'wdns2', BUSYBOX, 'nslookup', 'dns-a', '198.19.31.1']);
    assert.doesNotMatch(other.stdout.split(/Name:/)[1] ?? '', /198\.19\.30/);
    // Through Docker's own resolver: `api` is unknown to Docker, which forwards it to --dns (weft).
    assert.match(await lookup('wdns', 'api', '127.0.0.11', ['--dns', '198.19.30.1']), new RegExp(b.replaceAll('.', '\\.')));
  } finally {
    await docker.tryDocker(['rm', '-f', 'dns-a', 'dns-b']);
    await d(['network', 'rm', 'wdns', 'wdns2']);
  }
});

test('routing mesh from Docker labels: weft.publish on an overlay service is reachable on the host port, spread over replicas', { skip }, async () => {
  const client = await lab.host('m2');
  const net = 'wmesh';
  await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', '198.19.40.0/24', net]);
  const serve = ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www'];
  const fetchOnce = async () => {
    const r = await run(['ip', 'netns', 'exec', client.netns, 'busybox', 'timeout', '3', 'busybox', 'nc', host.address, '8080'], { input: 'GET /index.html HTTP/1.0\r\n\r\n' });
    return r.stdout.trim().split('\n').pop()?.trim() ?? '';
  };
  try {
    for (const n of ['mesh-a', 'mesh-b']) {
      await d(['run', '-d', '--name', n, '--hostname', n, '--network', net, '-l', 'weft.service=web', '-l', 'weft.publish=8080:80', BUSYBOX, ...serve]);
    }
    // The mesh follows Docker's events: until both replicas answered (30 s at most), a pause after each try,
    // so one replica answering fast cannot use up the tries before the other's backend is in.
    const seen = new Set<string>();
    for (const end = Date.now() + 30_000; Date.now() < end && seen.size < 2;) {
      const who = await fetchOnce();
      if (who === 'mesh-a' || who === 'mesh-b') seen.add(who);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual([...seen].sort(), ['mesh-a', 'mesh-b'], 'both replicas answer through the published port');
    await d(['rm', '-f', 'mesh-a']);
    let onlyB = 0;
    for (const end = Date.now() + 30_000; Date.now() < end && onlyB < 5;) {
      const who = await fetchOnce();
      onlyB = who === 'mesh-b' ? onlyB + 1 : 0;
      if (who !== 'mesh-b') await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(onlyB, 5, 'a removed replica gets no more connections');
  } finally {
    await docker.tryDocker(['rm', '-f', 'mesh-a', 'mesh-b']);
    await d(['network', 'rm', net]);
  }
  assert.deepEqual(await weftLinks(), [], 'the ingress leg goes with the network');
});
