/**
 * Stale records with etcd, against real dockerds (docs/state.md): two
 * hosts, each with its own dockerd, run `docker network create` for one
 * global network (h2's Docker ID is adopted onto h1's). On h2, weft is
 * killed while Docker removes containers, so some DeleteEndpoint and
 * ReleaseAddress replies are lost and Docker moves on. h2's reconciliation
 * with its own Docker (under h2's ID for the network) deletes its endpoint
 * records Docker no longer has and releases their addresses, so etcd, which
 * every other host programs its peers and DNS from, keeps nothing of the
 * removed containers; h2's container that stays keeps its record through
 * both hosts' reconciliation.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSYBOX, dockerSkipReason } from '../support/docker.js';
import { etcdSkipReason } from '../support/etcd.js';
import { rootSkipReason } from '../support/lab.js';
import { MultiHostLab, sleep, until } from './multihost-lab.js';

const SUBNET = '198.19.72.0/24';
const skip = rootSkipReason() ?? (await etcdSkipReason()) ?? (await dockerSkipReason());

let m: MultiHostLab;

before(async () => {
  if (skip) return;
  m = await MultiHostLab.create(2, { docker: true, weftArgs: ['--docker-reconcile', '2'] });
});

after(async () => {
  await m?.destroy();
});

test("kill -9 while Docker removes containers, 10 rounds: the host's endpoint records and addresses in etcd follow its Docker", { skip }, async (t) => {
  const [h1, h] = [m.hosts[0]!, m.hosts[1]!];
  const docker = h.docker!;
  const net = 'sburst';
  for (const x of [h1, h]) await x.docker!.docker(['network', 'create', '-d', x.driver, '--ipam-driver', x.driver, '--subnet', SUBNET, net]);
  await docker.docker(['run', '-d', '--name', 'stays', '--network', net, BUSYBOX, 'sleep', '600']);
  const stays = (await docker.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").EndpointID}}`, 'stays'])).trim();
  const staysIp = (await docker.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, 'stays'])).trim();
  // What etcd holds for this network's containers besides `stays`: endpoint records and address claims
  // (not the gateway's or a host's own ingress leg's).
  const left = async () => [...(await m.etcdPairs())].filter(([k, v]) =>
    (k.includes('endpoints/') && !v.includes('"ingress":true') && !k.endsWith(stays))
    || (k.includes('ipam/addrs/') && k.includes('198.19.72.0') && !k.endsWith(`/${staysIp}`) && !/"owner":"(gateway|ingress)/.test(v))).map(([k]) => k);
  try {
    for (let round = 0; round < 10; round++) {
      const names = Array.from({ length: 6 }, (_, i) => `s${round}x${i}`);
      await Promise.all(names.map((n) => docker.docker(['run', '-d', '--name', n, '--network', net, BUSYBOX, 'sleep', '600'])));
      const rm = Promise.all(names.map((n) => docker.tryDocker(['rm', '-f', n], { timeoutMs: 120_000 })));
      await sleep(Math.random() * 1500);
      await h.daemon.kill();
      await h.daemon.start();
      await rm;
      // An address whose ReleaseAddress was lost goes after the longer grace (30 s with --docker-reconcile 2).
      let rest: string[] = [];
      await until(`round ${round}: etcd holds only what Docker has`, async () => (rest = await left()).length === 0, 90_000, 250)
        .catch((err: Error) => { throw new Error(`${err.message}: ${rest.join(' ')}`); });
    }
    const pairs = await m.etcdPairs();
    assert.ok([...pairs.keys()].some((k) => k.endsWith(`endpoints/${stays}`)), 'the endpoint of the container that stays');
    assert.ok([...pairs.keys()].some((k) => k.includes('ipam/addrs/') && k.endsWith(`/${staysIp}`)), 'and its address');
  } finally {
    const ctrs = (await docker.tryDocker(['ps', '-aq', '--filter', `network=${net}`])).stdout.split('\n').filter(Boolean);
    if (ctrs.length) await docker.tryDocker(['rm', '-f', ...ctrs]);
    for (const x of [h, h1]) await x.docker!.tryDocker(['network', 'rm', net]);
  }
  const released = h.daemon.log().split('\n').filter((l) => l.includes('released what Docker no longer has')).length;
  t.diagnostic(`reconciliation runs on h2 that released stale records: ${released}`);
});
