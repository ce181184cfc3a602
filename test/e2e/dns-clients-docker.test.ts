/**
 * Daemon mode against Docker's own embedded DNS (issue 13 item 8): a real,
 * isolated dockerd and a weft daemon share a lab host; containers on a weft
 * network (bridge and overlay mode) are asked, from inside a container's
 * network namespace, `c1.<network>` and the PTR of c1's address, once of
 * Docker's resolver at 127.0.0.11 and once of weft on the gateway. The
 * answer sections must be the same: names under the network's name, not
 * Docker's 64-hex network ID. glibc's getent and dnspython, run in the
 * container's network namespace with a resolv.conf naming weft (bind-mounted
 * in a private mount namespace), accept weft's answers for `c1.<network>`.
 * Containers' `--dns` is a lab address where nothing answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootSkipReason } from '../support/lab.js';
import { have, run } from '../support/exec.js';
import { BUSYBOX, type DockerDaemon, dockerSkipReason } from '../support/docker.js';
import { DockerWeft } from '../support/docker-weft.js';

const skip = rootSkipReason() ?? (await dockerSkipReason()) ?? ((await have('dig')) ? undefined : 'dig not installed (bind9-dnsutils)');
if (skip) console.log(`# skipping dns-clients-docker: ${skip}`);

let docker: DockerDaemon;
let driver: string;

let env: DockerWeft | undefined;

before(async () => {
  if (skip) return;
  env = await DockerWeft.start('d1');
  ({ docker, driver } = env);
});

after(async () => {
  await env?.destroy();
});

const d = (args: string[]) => docker.docker(args);

/** dig's answer section from inside a container's network namespace: "name type data" lines, sorted (TTL aside). */
async function answers(pid: string, server: string, ...q: string[]): Promise<string[]> {
  const r = await run(['nsenter', `--net=/proc/${pid}/ns/net`, 'dig', '+tries=2', '+time=2', '+noall', '+answer', `@${server}`, ...q]);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => {
    const [name, , , type, ...data] = l.split(/\s+/);
    return `${name} ${type} ${data.join(' ')}`;
  }).sort();
}

/** getent in a container's network namespace, resolving through `server` only (files bind-mounted in a private mount namespace). */
async function getent(pid: string, server: string, ...args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-getent-'));
  try {
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${server}\noptions timeout:2 attempts:2\n`);
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: dns\n');
    return await run(['nsenter', `--net=/proc/${pid}/ns/net`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
      `mount --bind ${dir}/resolv.conf /etc/resolv.conf && mount --bind ${dir}/nsswitch.conf /etc/nsswitch.conf && exec getent "$@"`, 'getent', ...args]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasDnspython = (await run(['/usr/bin/python3', '-c', 'import dns.resolver'])).code === 0;

for (const [mode, subnet] of [['bridge', '198.19.52'], ['overlay', '198.19.53']] as const) {
  test(`${mode} network: weft answers c1.<network> and the PTR of c1 as Docker's embedded DNS does`, { skip, timeout: 180_000 }, async () => {
    const net = `dn${mode.slice(0, 2)}`;
    const gw = `${subnet}.1`;
    await d(['network', 'create', '-d', driver, '--ipam-driver', driver, '--subnet', `${subnet}.0/24`, '-o', `weft.mode=${mode}`, net]);
    const names = [`${net}-c1`, `${net}-c2`];
    try {
      for (const n of names) await d(['run', '-d', '--name', n, '--network', net, '--network-alias', `${n}-alias`, BUSYBOX, 'sleep', '600']);
      const [c1, c2] = names as [string, string];
      const ip1 = (await d(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c1])).trim();
      const pid = (await d(['inspect', '-f', '{{.State.Pid}}', c2])).trim();
      const questions: string[][] = [[`${c1}.${net}`, 'A'], [`${c1.toUpperCase()}.${net}`, 'A'], [`${c1}-alias.${net}`, 'A'], ['-x', ip1]];
      // weft learns names from Docker's events: wait until the last one answers.
      let weftPtr: string[] = [];
      for (let i = 0; i < 60 && weftPtr.length === 0; i++) {
        weftPtr = await answers(pid, gw, '-x', ip1);
        if (weftPtr.length === 0) await new Promise((r) => setTimeout(r, 250));
      }
      assert.deepEqual(weftPtr, [`${ip1.split('.').reverse().join('.')}.in-addr.arpa. PTR ${c1}.${net}.`]);
      for (const q of questions) {
        const docker = await answers(pid, '127.0.0.11', ...q);
        const ours = await answers(pid, gw, ...q);
        assert.ok(docker.length > 0, `Docker answers ${q.join(' ')}`);
        assert.deepEqual(ours, docker, `${q.join(' ')}: weft as Docker`);
      }
      const g = await getent(pid, gw, 'ahostsv4', `${c1}.${net}`);
      assert.equal(g.code, 0, `getent ahostsv4 ${c1}.${net} through weft: ${g.stderr}`);
      assert.equal(g.stdout.split(/\s+/)[0], ip1);
      if (hasDnspython) {
        const py = `import dns.resolver, dns.reversename
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['${gw}']
print(r.resolve('${c1}.${net}', 'A')[0].to_text(), r.resolve(dns.reversename.from_address('${ip1}'), 'PTR')[0].to_text())`;
        const p = await run(['nsenter', `--net=/proc/${pid}/ns/net`, '/usr/bin/python3', '-c', py]);
        assert.equal(p.stdout.trim(), `${ip1} ${c1}.${net}.`, p.stderr);
      }
    } finally {
      await docker.tryDocker(['rm', '-f', ...names]);
      await d(['network', 'rm', net]);
    }
  });
}
