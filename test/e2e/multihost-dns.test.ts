/**
 * DNS across hosts (issue 8): two lab hosts, each with its own real dockerd
 * and weft daemon, one etcd. Containers on one global weft network, on
 * different hosts, resolve each other by name and alias through weft on the
 * network's gateway, directly and through Docker's own resolver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSYBOX, dockerSkipReason } from '../support/docker.js';
import { rootSkipReason } from '../support/lab.js';
import { have } from '../support/exec.js';
import { MultiHostLab, sleep } from './multihost-lab.js';

const skip = rootSkipReason() ?? (await dockerSkipReason()) ?? ((await have('etcd')) ? undefined : 'needs etcd (etcd-server)');
let m: MultiHostLab;

before(async () => {
  if (skip) return;
  m = await MultiHostLab.create(2, { docker: true });
});
after(async () => m?.destroy());

test('containers on different hosts resolve each other by name and alias', { skip }, async () => {
  const [h1, h2] = m.hosts as [typeof m.hosts[0], typeof m.hosts[0]];
  const d1 = h1.docker!;
  const d2 = h2.docker!;
  for (const h of [h1, h2]) {
    await h.docker!.docker(['network', 'create', '-d', h.driver, '--ipam-driver', h.driver, '--subnet', '198.19.80.0/24', 'gdns']);
  }
  await d1.docker(['run', '-d', '--name', 'dns-a', '--network', 'gdns', '--network-alias', 'alpha', BUSYBOX, 'sleep', '900']);
  await d2.docker(['run', '-d', '--name', 'dns-b', '--network', 'gdns', '--network-alias', 'beta', BUSYBOX, 'sleep', '900']);
  const ipOf = async (d: typeof d1, c: string) => (await d.docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "gdns").IPAddress}}', c])).trim();
  const a = await ipOf(d1, 'dns-a');
  const b = await ipOf(d2, 'dns-b');
  assert.notEqual(a, b, 'one address space across hosts');

  /** nslookup from a container, retried while the names travel (Docker events -> etcd -> the other host). */
  const resolves = async (d: typeof d1, ctr: string, name: string, server: string, want: string) => {
    for (let i = 0; i < 60; i++) {
      const r = await d.tryDocker(['exec', ctr, 'nslookup', name, server]);
      if (r.code === 0 && (r.stdout.split(/Name:/)[1] ?? '').includes(want)) return true;
      await sleep(250);
    }
    return false;
  };
  assert.ok(await resolves(d2, 'dns-b', 'dns-a', '198.19.80.1', a), 'h2 resolves h1\'s container by name');
  assert.ok(await resolves(d2, 'dns-b', 'alpha', '198.19.80.1', a), 'and by alias');
  assert.ok(await resolves(d1, 'dns-a', 'beta', '198.19.80.1', b), 'h1 resolves h2\'s container by alias');
  // The name resolves and the address answers: across hosts through the overlay.
  await d2.docker(['exec', 'dns-b', 'ping', '-c', '1', '-W', '2', a]);
  // Through Docker's own resolver, which forwards what it does not know to --dns (weft).
  await d2.docker(['run', '-d', '--name', 'dns-c', '--network', 'gdns', '--dns', '198.19.80.1', BUSYBOX, 'sleep', '900']);
  assert.ok(await resolves(d2, 'dns-c', 'dns-a', '127.0.0.11', a), 'Docker forwards the other host\'s name to weft');
  for (const [d, names] of [[d1, ['dns-a']], [d2, ['dns-b', 'dns-c']]] as const) await d.tryDocker(['rm', '-f', ...names]);
  for (const h of [h1, h2]) await h.docker!.docker(['network', 'rm', 'gdns']);
});
