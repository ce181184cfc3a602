/**
 * The routing mesh across hosts (issue 10): three weft hosts share etcd;
 * a service's backends run on h1 and h3; its published port answers on
 * every host — including h2, which runs no backend — and traffic reaches
 * the backends through each host's ingress leg and the VXLAN overlay; a
 * host whose lease expires takes its backends out of the mesh.
 * Service records are written to the store as h1's Docker name source
 * writes them (that source is tested against a real dockerd elsewhere).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { recordKey, type NameRecord } from '../../src/dns/records.js';
import { rootSkipReason } from '../support/lab.js';
import { have, run, sh } from '../support/exec.js';
import { ETCD_ADDRESS, MultiHostLab, createEndpoint, createNetwork, sleep } from './multihost-lab.js';

const skip = rootSkipReason() ?? ((await have('etcd')) ? undefined : 'needs etcd (etcd-server)');
let m: MultiHostLab;

before(async () => {
  if (skip) return;
  m = await MultiHostLab.create(3, { leaseTtl: 4 });
});
after(async () => m?.destroy());

async function publish(host: string, r: NameRecord): Promise<void> {
  const key = `weft/dns/${encodeURIComponent(host)}/${encodeURIComponent(recordKey(r))}`;
  await sh(['ip', 'netns', 'exec', m.ul, 'etcdctl', `--endpoints=http://${ETCD_ADDRESS}:2379`, 'put', key, JSON.stringify(r)], { env: { ...process.env, ETCDCTL_API: '3' } });
}

test('a published port answers on every host, spread over backends on other hosts', { skip }, async () => {
  const [h1, h2, h3] = m.hosts as [typeof m.hosts[0], typeof m.hosts[0], typeof m.hosts[0]];
  // Docker on each host gives the network its own ID; weft adopts them onto h1's network.
  const net = await createNetwork(h1.socket, '198.19.50.0/24');
  await createNetwork(h2.socket, '198.19.50.0/24');
  const net3 = await createNetwork(h3.socket, '198.19.50.0/24');
  const backends = [
    { h: h1, net, name: 'be1' },
    { h: h3, net: net3, name: 'be3' },
  ];
  const client = await m.lab.host('client');
  for (const b of backends) {
    const ep = await createEndpoint(m.lab, b.h, b.net, `${b.name}-ctr`);
    await sh(['ip', 'netns', 'exec', ep.netns, 'sh', '-c', `mkdir -p /tmp/${m.lab.prefix}-${b.name} && echo ${b.name} > /tmp/${m.lab.prefix}-${b.name}/index.html`]);
    void run(['ip', 'netns', 'exec', ep.netns, 'busybox', 'httpd', '-f', '-p', '80', '-h', `/tmp/${m.lab.prefix}-${b.name}`], { timeoutMs: 600_000 });
    await publish(b.h.name, { network: net.id, name: 'tasks.web', type: 'A', address: ep.address });
  }
  await publish(h1.name, { network: net.id, name: 'web', type: 'TXT', text: ['weft.publish=8080:80'] });

  const fetchFrom = async (target: string) => {
    const r = await run(['ip', 'netns', 'exec', client.netns, 'busybox', 'timeout', '3', 'busybox', 'nc', target, '8080'], { input: 'GET /index.html HTTP/1.0\r\n\r\n' });
    return r.stdout.trim().split('\n').pop()?.trim() ?? '';
  };
  try {
    for (const h of [h2, h1, h3]) {
      const seen = new Set<string>();
      for (let i = 0; i < 80 && seen.size < 2; i++) {
        const who = await fetchFrom(h.host.address);
        if (who === 'be1' || who === 'be3') seen.add(who);
        else await sleep(250);
      }
      assert.deepEqual([...seen].sort(), ['be1', 'be3'], `${h.name}:8080 reaches backends on h1 and h3`);
    }
    // h3 dies: once its lease expires its backend leaves the mesh on the other hosts.
    await h3.daemon.kill();
    let onlyBe1 = 0;
    for (let i = 0; i < 120 && onlyBe1 < 6; i++) {
      const who = await fetchFrom(h2.host.address);
      onlyBe1 = who === 'be1' ? onlyBe1 + 1 : 0;
      if (who !== 'be1') await sleep(250);
    }
    assert.equal(onlyBe1, 6, 'after h3 lease expiry, h2 sends only to be1');
  } finally {
    for (const b of backends) await run(['rm', '-rf', `/tmp/${m.lab.prefix}-${b.name}`]);
  }
});
