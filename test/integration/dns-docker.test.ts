/**
 * DockerNameSource against a real, isolated dockerd running inside a lab
 * namespace (so its user-defined bridge network lives there, on
 * 198.18.88.0/24): names, aliases and service labels of real containers,
 * stop and disconnect events, and a dockerd restart (reconnect + resync).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason } from '../support/lab.js';
import { BUSYBOX, dockerSkipReason, startDocker } from '../support/docker.js';
import { DockerNameSource, MemoryDnsRecords } from '../../src/dns/index.js';

const skip = rootSkipReason() ?? (await dockerSkipReason());
if (skip) console.log(`# skipping dns-docker: ${skip}`);

test('docker names: a real dockerd feeds the record store', { skip, timeout: 240_000 }, async () => {
  const lab = await Lab.create();
  let d: Awaited<ReturnType<typeof startDocker>> | undefined;
  let src: DockerNameSource | undefined;
  try {
    const ns = await lab.netns('dk');
    d = await startDocker({ netns: ns, dns: '198.18.0.53' });
    const docker = d.docker.bind(d);
    await docker(['network', 'create', '-d', 'bridge', '--subnet', '198.18.88.0/24', 'wnet']);
    const run = async (...args: string[]) => (await docker(['run', '-d', ...args, BUSYBOX, 'sleep', '600'])).trim();
    const web = await run('--name', 'web', '--network', 'wnet', '--network-alias', 'www', '--label', 'weft.service=api');
    await run('--name', 'web2', '--network', 'wnet', '--label', 'weft.service=api');
    await run('--name', 'lonely', '--network', 'none', '--label', 'weft.service=api');
    const ip = async (name: string) => (await docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "wnet").IPAddress}}', name])).trim();
    const ipWeb = await ip('web');
    const ipWeb2 = await ip('web2');

    const records = new MemoryDnsRecords();
    const seen: string[] = [];
    src = new DockerNameSource({
      socketPath: d.socket, records, backoffMinMs: 100, backoffMaxMs: 1000, log: () => undefined,
      networkFilter: (id, name, driver) => {
        seen.push(`${id.length} ${name} ${driver}`);
        return name === 'wnet' && driver === 'bridge' ? 'front' : undefined;
      },
    });
    src.start();
    await src.ready();
    const list = () => records.list().map((r) => `${r.name} ${'address' in r ? r.address : ''}`).sort();
    const has = (entry: string) => list().includes(entry);
    const until = async (what: string, ok: () => boolean, ms = 30_000) => {
      for (const t0 = Date.now(); !ok() && Date.now() - t0 < ms;) await new Promise((r) => setTimeout(r, 50));
      assert.ok(ok(), `${what}: ${list().join(', ')}`);
    };
    for (const e of [`web ${ipWeb}`, `www ${ipWeb}`, `web2 ${ipWeb2}`, `api ${ipWeb}`, `api ${ipWeb2}`, `tasks.api ${ipWeb}`, `tasks.api ${ipWeb2}`]) {
      assert.ok(has(e), `${e} in ${list().join(', ')}`);
    }
    assert.ok(has(`${web.slice(0, 12)} ${ipWeb}`), 'the short container ID is an alias, as in Docker');
    assert.ok(!list().some((e) => e.startsWith('lonely')), 'no names for a container on no network');
    assert.ok(records.list().every((r) => r.network === 'front'));
    assert.ok(seen.some((s) => s === '64 wnet bridge'), `filter saw the network ID, name and driver: ${seen.join('; ')}`);

    await docker(['stop', '-t', '0', 'web2']);
    await until('stopped container removed', () => !list().some((e) => e.endsWith(` ${ipWeb2}`)));
    await docker(['network', 'disconnect', 'wnet', 'web']);
    await until('disconnected container removed', () => records.list().length === 0);

    await docker(['network', 'connect', '--alias', 'again', 'wnet', 'web']);
    await until('reconnected container back', () => list().some((e) => e.startsWith('again ')));

    // dockerd restarts (its containers stop with it); a new one starts afterwards.
    const syncs = src.syncs;
    await d.restartDockerd();
    await until('resynced after the restart', () => src!.syncs > syncs && src!.connected);
    await until('containers stopped by the restart removed', () => records.list().length === 0);
    await run('--name', 'late', '--network', 'wnet');
    const ipLate = await ip('late');
    await until('container started after the restart', () => has(`late ${ipLate}`));
  } finally {
    await src?.close();
    await d?.stop();
    await lab.destroy();
  }
});
