/**
 * Issue 16 end to end: swarm services and stacks on weft's managed plugin.
 * Three lab hosts, each with its own isolated dockerd, form a swarm over the
 * lab underlay (h1 manager, h2 and h3 workers); etcd runs in the underlay
 * namespace; the plugin built by `npm run plugin` is installed on every node
 * with `docker plugin create/enable`. One swarm is shared by every case
 * (they run in order). Checked: a swarm network and a 6-replica dnsrr
 * service spread over the nodes, every pair of tasks pings, names resolve on
 * every node, scaling, drain, a node leaving, `docker stack deploy/rm` with
 * a published port through weft's mesh, plugin disable/enable, dockerd
 * restart and plugin reinstall with running containers, a bad option, and
 * nothing left behind (kernel namespaces, etcd keys, addresses).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX, dockerSkipReason, installManagedPlugin } from '../support/docker.js';
import { etcdSkipReason } from '../support/etcd.js';
import { rootSkipReason } from '../support/lab.js';
import { run } from '../support/exec.js';
import { PLUGIN, SwarmLab, type SwarmNode, pingFailures, pluginDir, resolveIn as resolve, sleep, until } from './swarm-lab.js';

const SUBNET = '198.19.60.0/24';
const skip = rootSkipReason() ?? (await etcdSkipReason()) ?? (await dockerSkipReason());

let s: SwarmLab;
const mgr = () => s.mgr;
const nodes = (): SwarmNode[] => s.nodes;
const tasksOn = (n: SwarmNode, prefix: string) => s.tasksOn(n, prefix);
const allTasks = (prefix: string) => s.allTasks(prefix);
const waitReplicas = (service: string, n: number) => s.waitReplicas(service, n);

before(async () => {
  if (skip) return;
  s = await SwarmLab.create();
});

after(async () => {
  await s?.destroy();
});

test('swarm network: weft:dev with --scope swarm, options reach the workers', { skip }, async () => {
  await mgr().docker(['network', 'create', '-d', PLUGIN, '--ipam-driver', PLUGIN, '--scope', 'swarm', '--attachable',
    '--subnet', SUBNET, '-o', 'com.docker.network.driver.mtu=1400', 'weftnet']);
  // The manager allocates the network (AllocateNetwork, IPAM) after `network create` returns (docs/swarm.md);
  // until then inspect shows no driver.
  let scope = '';
  await until('the manager allocated weftnet', async () =>
    (scope = (await mgr().docker(['network', 'inspect', '-f', '{{.Scope}} {{.Driver}}', 'weftnet'])).trim()) !== 'swarm', 30_000);
  assert.equal(scope, `swarm ${PLUGIN}`);
});

test('a 6-replica dnsrr service spreads over the nodes; every pair pings; names resolve everywhere', { skip }, async () => {
  await mgr().docker(['service', 'create', '--detach', '--no-resolve-image', '--name', 'web', '--replicas', '6',
    '--endpoint-mode', 'dnsrr', '--network', 'weftnet', '--stop-grace-period', '1s', BUSYBOX, 'sleep', '100000']);
  const tasks = await waitReplicas('web', 6);
  assert.equal(new Set(tasks.map((t) => t.node.name)).size, 3, 'tasks on all three nodes');
  const ips = tasks.map((t) => t.ip);
  assert.equal(new Set(ips).size, 6, `no address twice: ${ips.join(' ')}`);
  for (const ip of ips) assert.ok(ip.startsWith('198.19.60.'), ip);
  const mtu = await tasks[0]!.node.docker.docker(['exec', tasks[0]!.id, 'cat', '/sys/class/net/eth0/mtu']);
  assert.equal(mtu.trim(), '1400', 'the -o option reached the worker that runs the task');
  await until('every pair of tasks pings', async () => (await pingFailures(tasks)).length === 0, 30_000);
  for (const node of nodes()) {
    const t = tasks.find((x) => x.node === node)!;
    await until(`tasks.web and web resolve on ${node.name}`, async () =>
      JSON.stringify(await resolve(node, t.id, 'tasks.web')) === JSON.stringify([...ips].sort()) &&
      JSON.stringify(await resolve(node, t.id, 'web')) === JSON.stringify([...ips].sort()), 30_000);
  }
});

test('scale to 2 and back to 6', { skip }, async () => {
  await mgr().docker(['service', 'scale', '--detach', 'web=2']);
  const two = await waitReplicas('web', 2);
  await until('2 tasks ping each other', async () => (await pingFailures(two)).length === 0, 30_000);
  await mgr().docker(['service', 'scale', '--detach', 'web=6']);
  const six = await waitReplicas('web', 6);
  assert.equal(new Set(six.map((t) => t.ip)).size, 6);
  await until('6 tasks ping each other', async () => (await pingFailures(six)).length === 0, 30_000);
});

test('draining a node moves its tasks; the rest still ping', { skip }, async () => {
  const h3 = nodes()[2]!;
  await mgr().docker(['node', 'update', '--availability', 'drain', h3.id]);
  await until('h3 runs no task', async () => (await tasksOn(h3, 'web.')).length === 0);
  const tasks = await waitReplicas('web', 6);
  assert.ok(tasks.every((t) => t.node !== h3));
  await until('tasks ping after drain', async () => (await pingFailures(tasks)).length === 0, 30_000);
  await mgr().docker(['node', 'update', '--availability', 'active', h3.id]);
});

test('docker stack deploy: weft overlay with driver_opts, two services, published port through the mesh; stack rm leaves nothing', { skip }, async () => {
  const stack = [
    'version: "3.8"',
    'services:',
    '  front:',
    `    image: ${BUSYBOX}`,
    '    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]',
    '    networks: [appnet]',
    '    labels:',
    '      weft.service: front',
    '      weft.publish: "8080:80"',
    '    stop_grace_period: 1s',
    '    deploy:',
    '      replicas: 3',
    '      endpoint_mode: dnsrr',
    '  back:',
    `    image: ${BUSYBOX}`,
    '    command: ["sleep", "100000"]',
    '    networks: [appnet]',
    '    stop_grace_period: 1s',
    '    deploy:',
    '      replicas: 2',
    '      endpoint_mode: dnsrr',
    'networks:',
    '  appnet:',
    `    driver: ${PLUGIN}`,
    '    driver_opts:',
    '      com.docker.network.driver.mtu: "1420"',
    '    ipam:',
    `      driver: ${PLUGIN}`,
    '      config:',
    '        - subnet: 198.19.61.0/24',
    '',
  ].join('\n');
  const file = join(mgr().dir, 'stack.yml');
  writeFileSync(file, stack);
  await mgr().docker(['stack', 'deploy', '--resolve-image', 'never', '-c', file, 'app'], { timeoutMs: 120_000 });
  const front = await waitReplicas('app_front', 3);
  const back = await waitReplicas('app_back', 2);
  await until('stack tasks ping each other', async () => (await pingFailures([...front, ...back])).length === 0, 30_000);
  const b = back[0]!;
  await until('front resolves from back', async () => (await resolve(b.node, b.id, 'front')).length === 3, 30_000);
  // The published port answers on every node's underlay address, from the underlay.
  for (const node of nodes()) {
    await until(`mesh port 8080 on ${node.name}`, async () => {
      const r = await run(['ip', 'netns', 'exec', s.ul, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 ${node.host.address} 8080`]);
      return r.stdout.includes('200 OK');
    }, 60_000);
  }
  await mgr().docker(['stack', 'rm', 'app']);
  await until('stack tasks gone', async () => (await allTasks('app_')).length === 0);
  await until('stack network gone from every node', async () => {
    for (const n of nodes()) if ((await n.docker.docker(['network', 'ls', '-q', '--filter', 'name=app_appnet'])).trim()) return false;
    return !(await s.etcdKeys()).some((k) => k.includes('198.19.61.'));
  });
});

test('a bad driver option is refused by AllocateNetwork and no task runs on it', { skip }, async () => {
  const r = await mgr().tryDocker(['network', 'create', '-d', PLUGIN, '--ipam-driver', PLUGIN, '--scope', 'swarm',
    '--subnet', '198.19.62.0/24', '-o', 'weft.mode=bogus', 'badnet']);
  // Docker 20.10 allocates swarm networks after `network create` returns (docs/swarm.md): the
  // plugin's Err lands in the manager's log and the network never becomes usable.
  if (r.code !== 0) assert.match(r.stderr, /weft\.mode/);
  else {
    await until('AllocateNetwork refusal logged', async () => {
      const log = readFileSync(join(mgr().dir, 'dockerd.log'), 'utf8');
      return /weft\.mode/.test(log);
    }, 30_000);
    const s = await mgr().tryDocker(['service', 'create', '--detach', '--no-resolve-image', '--name', 'bad', '--network', 'badnet',
      '--endpoint-mode', 'dnsrr', BUSYBOX, 'sleep', '100000']);
    await sleep(3000);
    assert.equal((await allTasks('bad.')).length, 0, 'no task of a service on the refused network runs');
    if (s.code === 0) await mgr().docker(['service', 'rm', 'bad']);
    await mgr().tryDocker(['network', 'rm', 'badnet']);
  }
});

/** For a failure message: every weft overlay namespace's peers, c1's neighbours, Docker's and etcd's endpoints. */
async function overlayState(): Promise<string> {
  const out: string[] = [];
  const lines = async (argv: string[]) => (await run(argv)).stdout.split('\n').filter(Boolean).join(' | ');
  for (const ns of s.weftNamespaces()) {
    out.push(`${ns} fdb: ${await lines(['bridge', '-n', ns, 'fdb', 'show', 'dev', 'vxlan0'])}`);
    out.push(`${ns} neigh: ${await lines(['ip', '-n', ns, 'neigh', 'show', 'dev', 'vxlan0'])}`);
  }
  out.push(`c1 neigh: ${(await nodes()[0]!.docker.tryDocker(['exec', 'c1', 'ip', 'neigh'])).stdout.trim()}`);
  for (const n of nodes()) {
    const r = await n.docker.tryDocker(['network', 'inspect', 'weftnet', '-f', '{{range .Containers}}{{.Name}} {{.EndpointID}} {{.IPv4Address}} {{.MacAddress}}; {{end}}']);
    out.push(`${n.name} docker: ${r.stdout.trim()}`);
  }
  for (const [k, v] of await s.etcdPairs()) if (/endpoints\/|hosts\//.test(k)) out.push(`${k} ${v.slice(0, 200)}`);
  return out.join('\n');
}

const ip2 = async () => (await nodes()[1]!.docker.docker(['inspect', '-f', '{{.NetworkSettings.Networks.weftnet.IPAddress}}', 'c2'])).trim();
const flows = async () => (await nodes()[0]!.docker.tryDocker(['exec', 'c1', 'ping', '-c1', '-W2', await ip2()])).code === 0;

test('plugin lifecycle with running containers: disable/enable, reinstall (remove + create)', { skip }, async () => {
  const [n1, n2] = [nodes()[0]!, nodes()[1]!];
  await n1.docker.docker(['run', '-d', '--stop-timeout', '1', '--name', 'c1', '--network', 'weftnet', BUSYBOX, 'sleep', '100000']);
  await n2.docker.docker(['run', '-d', '--stop-timeout', '1', '--restart', 'always', '--name', 'c2', '--network', 'weftnet', BUSYBOX, 'sleep', '100000']);
  await until('c1 reaches c2', flows, 30_000);

  await n1.docker.docker(['plugin', 'disable', '-f', PLUGIN]);
  assert.ok(await flows(), 'traffic flows while the plugin is disabled');
  await n1.docker.docker(['plugin', 'enable', PLUGIN]);
  assert.ok(await flows(), 'traffic flows after enable');

  await n1.docker.docker(['plugin', 'disable', '-f', PLUGIN]);
  await n1.docker.docker(['plugin', 'rm', '-f', PLUGIN]);
  assert.ok(await flows(), 'traffic flows while the plugin is gone');
  await installManagedPlugin(n1.docker, pluginDir, PLUGIN, s.pluginEnv(1));
  assert.ok(await flows(), 'traffic flows after the reinstall');
  await n1.docker.docker(['run', '-d', '--stop-timeout', '1', '--name', 'c3', '--network', 'weftnet', BUSYBOX, 'sleep', '100000']);
  const ip3 = (await n1.docker.docker(['inspect', '-f', '{{.NetworkSettings.Networks.weftnet.IPAddress}}', 'c3'])).trim();
  assert.notEqual(ip3, await ip2(), 'state survived: no address handed out twice');
  // Other nodes program this node's new endpoints once its previous lease is gone (WEFT_LEASE_TTL).
  await until('the reinstalled plugin serves new containers', async () =>
    (await n2.docker.tryDocker(['exec', 'c2', 'ping', '-c1', '-W2', ip3])).code === 0);
  await n1.docker.docker(['rm', '-f', 'c3']);
});

test('dockerd restart with the plugin enabled: restored without Activate, the container comes back connected', {
  skip,
}, async (t) => {
  const n2 = nodes()[1]!;
  const running = async () => (await n2.docker.docker(['inspect', '-f', '{{.State.Running}}', 'c2'])).trim() === 'true';
  try {
    await n2.docker.restartDockerd();
    // dockerd restarts a --restart always container on an attachable swarm network only if swarm mode is
    // up when it restores containers; otherwise it leaves it exited and says nothing (moby/moby#32607; three
    // runs in four on this machine). The operator's answer is `docker start`; either way the container's
    // Join goes to the plugin that dockerd restored without Activate.
    const byDocker = await until('c2 restarted with dockerd', running, 30_000).then(() => true, () => false);
    if (!byDocker) {
      t.diagnostic('dockerd left c2 exited after its restart (moby/moby#32607); starting it as an operator would');
      const started = await n2.docker.tryDocker(['start', 'c2']);
      if (started.code !== 0) {
        // The plugin's own request lines reach dockerd's log as errors; what matters is dockerd's word on c2.
        const log = readFileSync(join(n2.docker.dir, 'dockerd.log'), 'utf8').split('\n')
          .filter((l) => /level=(error|warn)/.test(l) && !/kernel parameter|registry|plugin=/.test(l));
        assert.fail(`docker start c2 after the dockerd restart: ${started.stderr.trim()}\n${log.slice(-20).join('\n')}`);
      }
      await until('c2 running after docker start', running);
    }
    await until('c1 reaches c2 after the dockerd restart', flows).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await overlayState()}`);
    });
  } finally {
    await nodes()[0]!.docker.tryDocker(['rm', '-f', 'c1', 'c3']);
    await n2.docker.tryDocker(['rm', '-f', 'c2']);
  }
});

test('a node leaving the swarm takes its tasks with it; service and network removal leave nothing behind', { skip }, async () => {
  const h3 = nodes()[2]!;
  await waitReplicas('web', 6);
  await h3.docker.docker(['swarm', 'leave', '--force'], { timeoutMs: 60_000 });
  await until('h3 runs no task', async () => (await tasksOn(h3, 'web.')).length === 0);
  await until('h3 holds no endpoint in etcd', async () =>
    [...(await s.etcdPairs())].every(([k, v]) => !k.includes('endpoints/') || !v.includes('"host":"h3"')));
  await mgr().docker(['node', 'rm', '--force', h3.id]);
  await mgr().docker(['service', 'rm', 'web']);
  await until('web tasks gone', async () => (await allTasks('web.')).length === 0);
  // The manager drops tasks of removed services asynchronously; until then the network is "in use".
  await until('weftnet removed', async () => (await mgr().tryDocker(['network', 'rm', 'weftnet'])).code === 0);
  await until('nothing of weft left in etcd', async () => {
    const left = (await s.etcdKeys()).filter((k) => /(networks|endpoints|ipam|swarm|netids|vni)\//.test(k));
    if (left.length) throw new Error(`left: ${left.join(' ')}`);
    return true;
  });
  await until('no weft namespace left on any node', async () => s.weftNamespaces().length === 0);
});
