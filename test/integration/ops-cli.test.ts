/**
 * Issue 18 with privileges, in lab namespaces: a closed pipe ends `weft
 * link ls` quietly; `weft service ls` changes nothing; the userspace VTEP's
 * metrics move by what the kernel's VTEP sent and pass promtool; the
 * systemd units pass `systemd-analyze verify` and socket activation hands
 * the plugin socket to the daemon; `npm pack` + `npm install -g` into a
 * temporary prefix gives a working `weft`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { Lab, rootSkipReason } from '../support/lab.js';
import { have, json, run, sh } from '../support/exec.js';
import { registerVtepMetrics } from '../../src/dataplane/vtep-metrics.js';
import { ControlServer } from '../../src/daemon/control.js';
import { httpGet } from '../../src/io/unix-http.js';
import { IP_A, vtepPair } from './vtep-lab.js';
import { REPO_ROOT } from '../support/kernel-lab.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
const skip = rootSkipReason();
if (skip) console.log(`# skip ops-cli: ${skip}`);

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('weft link ls | head -1: exit 0, one line, no stack trace (EPIPE ends quietly)', { skip }, async () => {
  const lab = await Lab.create();
  try {
    const ns = await lab.netns('epipe');
    // Far more output than a pipe holds, so the writer sees EPIPE once head exits.
    const batch = Array.from({ length: 1500 }, (_, i) => `link add b${i} type bridge`).join('\n');
    await sh(['ip', '-n', ns, '-batch', '-'], { input: `${batch}\n` });
    const r = await run(['bash', '-c', `set -o pipefail; ${JSON.stringify(process.execPath)} ${cli} link ls --netns ${ns} | head -1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1);
    assert.equal(r.stderr, '');
  } finally {
    await lab.destroy();
  }
});

test('weft service ls changes nothing: nft ruleset, ip_forward and the state file stay as they were', { skip: skip ?? (!(await have('nft')) ? 'nft is not installed' : undefined) }, async () => {
  const lab = await Lab.create();
  const dir = mkdtempSync(join(tmpdir(), 'weft-ops-svc-'));
  try {
    const ns = await lab.netns('svc');
    const weft = (...args: string[]) => run([process.execPath, cli, 'service', ...args, '--netns', ns, '--state-dir', dir, '--mesh-backend', 'nft']);
    const created = await weft('create', 'web', '--network', 'n1', '--publish', '8080:80');
    assert.equal(created.code, 0, created.stderr);
    // Undo what create did to the kernel: a reading verb must not put it back.
    await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
    await sh(['ip', 'netns', 'exec', ns, 'nft', 'flush', 'ruleset']);
    const file = join(dir, `mesh-${ns}.json`);
    const before = { rules: await sh(['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset']), fwd: await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.ip_forward']), text: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs };
    for (const extra of [[], ['--json']]) {
      const r = await run([process.execPath, cli, 'service', 'ls', '--netns', ns, '--state-dir', dir, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /web/);
    }
    assert.equal(await sh(['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset']), before.rules);
    assert.equal(await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.ip_forward']), before.fwd);
    assert.equal(readFileSync(file, 'utf8'), before.text);
    assert.equal(statSync(file).mtimeMs, before.mtime);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await lab.destroy();
  }
});

test('VTEP metrics: packets and drops move by what the kernel VTEP sent; promtool accepts the page', { skip: skip ?? (!(await have('promtool')) ? 'promtool is not installed (prometheus)' : !(await have('busybox')) ? 'busybox is not installed' : undefined) }, async () => {
  const pair = await vtepPair();
  let control: ControlServer | undefined;
  try {
    registerVtepMetrics(() => pair.vtep.stats().counters);
    control = await ControlServer.listen([{ host: '127.0.0.1', port: 0 }], { beforeScrape: async () => undefined, health: async () => ({ ok: true }), status: async () => ({}) });
    const port = control.tcpPort()!;
    const scrape = async () => (await httpGet({ host: '127.0.0.1', port }, '/metrics', 10_000)).body;
    const kernelTx = async () => (await json<{ stats64: { tx: { packets: number } } }[]>(['ip', '-n', pair.b.netns, '-s', '-j', 'link', 'show', 'vx0']))[0]!.stats64.tx.packets;
    const m0 = await scrape();
    const k0 = await kernelTx();
    await sh(['ip', 'netns', 'exec', pair.b.netns, 'busybox', 'ping', '-c', '5', '-W', '2', IP_A], { timeoutMs: 30_000 });
    // One datagram too short to be VXLAN, straight at A's VTEP port.
    await sh(['ip', 'netns', 'exec', pair.b.netns, '/usr/bin/python3', '-c', `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('${pair.a.address}', 4789))`]);
    const k1 = await kernelTx();
    let m1 = await scrape();
    for (let i = 0; i < 50 && sample(m1, 'weft_vtep_dropped_total{reason="short_header"}') === sample(m0, 'weft_vtep_dropped_total{reason="short_header"}'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      m1 = await scrape();
    }
    const rx = 'weft_vtep_packets_total{direction="rx"}';
    assert.equal(sample(m1, rx) - sample(m0, rx), k1 - k0, 'every datagram B\'s kernel VTEP sent was counted once');
    assert.ok(k1 - k0 >= 5);
    assert.ok(sample(m1, 'weft_vtep_packets_total{direction="tx"}') - sample(m0, 'weft_vtep_packets_total{direction="tx"}') >= 5, 'five echo replies went back');
    assert.equal(sample(m1, 'weft_vtep_dropped_total{reason="short_header"}') - sample(m0, 'weft_vtep_dropped_total{reason="short_header"}'), 1);
    const check = await run(['promtool', 'check', 'metrics'], { input: m1 });
    assert.equal(check.code, 0, `promtool: ${check.stdout}${check.stderr}`);
  } finally {
    await control?.close();
    await pair.close();
  }
});

test('systemd units pass systemd-analyze verify (a broken copy does not); socket activation hands the plugin socket to the daemon', { skip: skip ?? (!(await have('systemd-analyze')) ? 'systemd-analyze is not installed (systemd)' : undefined) }, async () => {
  const units = ['weft.service', 'weft.socket'].map((u) => join(REPO_ROOT, 'packaging', u));
  const ok = await run(['systemd-analyze', 'verify', '--man=no', ...units]);
  assert.equal(ok.code, 0, `${ok.stdout}${ok.stderr}`);
  assert.equal(ok.stderr.trim(), '');
  // The negative control shows verify really checks here (no running systemd is needed).
  const dir = mkdtempSync(join(tmpdir(), 'weft-ops-unit-'));
  try {
    copyFileSync(units[1]!, join(dir, 'weft.socket'));
    writeFileSync(join(dir, 'weft.service'), readFileSync(units[0]!, 'utf8').replace('ExecStart=/usr/bin/env weft daemon', 'ExecStart=weft-nowhere daemon'));
    const bad = await run(['systemd-analyze', 'verify', '--man=no', join(dir, 'weft.service')]);
    assert.notEqual(bad.code, 0, 'a unit whose command does not exist must fail verify');

    if (!(await have('systemd-socket-activate'))) {
      console.log('# skip socket activation: systemd-socket-activate is not installed');
      return;
    }
    const sock = join(dir, 'wopsact.sock');
    const state = join(dir, 'state');
    const child = spawn('systemd-socket-activate', ['-l', sock, '--fdname=wopsact.sock', process.execPath, cli, 'daemon', '--socket', sock, '--state-dir', state, '--no-dns', '--mesh', 'off', '--instance', 'opsact'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += String(c)));
    try {
      for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      // The first request reaches a socket systemd made; it is answered once the daemon took it.
      const r = await new Promise<string>((resolve, reject) => {
        const req = request({ socketPath: sock, path: '/Plugin.Activate', method: 'POST' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += String(c)));
          res.on('end', () => resolve(body));
        });
        req.setTimeout(60_000, () => req.destroy(new Error(`no answer; daemon log: ${log}`)));
        req.on('error', reject);
        req.end('{}');
      });
      assert.deepEqual(JSON.parse(r), { Implements: ['NetworkDriver', 'IpamDriver'] });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm pack + npm install -g of the tarball into a temporary prefix gives a working weft', { skip: skip ?? (!existsSync(join(REPO_ROOT, 'build/Release/weft_native.node')) ? 'the native addon is not built' : undefined), timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ops-pack-'));
  try {
    const packed = await run(['npm', 'pack', '--silent', '--pack-destination', dir, REPO_ROOT], { timeoutMs: 300_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
    assert.equal(packed.code, 0, packed.stderr);
    const tgz = join(dir, packed.stdout.trim().split('\n').at(-1)!);
    const inst = await run(['npm', 'install', '-g', '--prefix', join(dir, 'prefix'), '--prefer-offline', '--no-audit', '--no-fund', tgz], { timeoutMs: 300_000 });
    assert.equal(inst.code, 0, inst.stderr);
    const weft = join(dir, 'prefix', 'bin', 'weft');
    const v = await run([weft, '--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `weft ${(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    // The addon shipped in the tarball loads: a netlink dump of this namespace.
    const ls = await run([weft, 'link', 'ls', 'lo']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^1: lo:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
