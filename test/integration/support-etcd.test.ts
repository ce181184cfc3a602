/**
 * The etcd test helper: a member on 127.0.0.1 that etcdctl can write to and
 * read from, that survives kill -9 + restart with its data, that stops
 * answering while paused, and that leaves no process or temp dir behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { have, run } from '../support/exec.js';
import { etcdSkipReason, startEtcd, sweepStaleEtcd } from '../support/etcd.js';

const skip = (await etcdSkipReason()) ?? ((await have('etcdctl')) ? undefined : 'etcdctl not on PATH (apt-get install etcd-client)');

function etcdctl(endpoints: string[], args: string[], timeoutMs = 10_000) {
  return run(['etcdctl', `--endpoints=${endpoints.join(',')}`, '--command-timeout=2s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeoutMs,
  });
}

test('etcd helper: put/get, pause/resume, kill/restart, clean stop', { skip, timeout: 90_000 }, async () => {
  const etcd = await startEtcd();
  const dir = etcd.dir;
  try {
    assert.match(etcd.endpoints[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await etcdctl(etcd.endpoints, ['put', '/weft/a', 'one'])).code, 0);
    const got = await etcdctl(etcd.endpoints, ['get', '/weft/a', '--print-value-only']);
    assert.equal(got.stdout.trim(), 'one');

    etcd.pause();
    const paused = await etcdctl(etcd.endpoints, ['get', '/weft/a']);
    assert.notEqual(paused.code, 0, 'a paused member must not answer');
    etcd.resume();
    assert.equal((await etcdctl(etcd.endpoints, ['get', '/weft/a', '--print-value-only'])).stdout.trim(), 'one');

    const oldPid = etcd.pid;
    await etcd.kill();
    assert.equal(etcd.pid, undefined);
    assert.notEqual((await etcdctl(etcd.endpoints, ['get', '/weft/a'])).code, 0, 'a killed member must not answer');
    await etcd.restart();
    assert.notEqual(etcd.pid, oldPid);
    assert.equal((await etcdctl(etcd.endpoints, ['get', '/weft/a', '--print-value-only'])).stdout.trim(), 'one',
      'data survives kill -9 and restart');
  } finally {
    await etcd.stop();
  }
  assert.equal(existsSync(dir), false, 'temp dir removed');
  assert.equal((await run(['pgrep', '-f', dir])).code, 1, 'no etcd left running');
});

test('etcd helper: two members side by side get distinct ports', { skip, timeout: 60_000 }, async () => {
  const [a, b] = await Promise.all([startEtcd(), startEtcd()]);
  try {
    assert.notDeepEqual(a.endpoints, b.endpoints);
    await etcdctl(a.endpoints, ['put', 'k', 'a']);
    await etcdctl(b.endpoints, ['put', 'k', 'b']);
    assert.equal((await etcdctl(a.endpoints, ['get', 'k', '--print-value-only'])).stdout.trim(), 'a');
    assert.equal((await etcdctl(b.endpoints, ['get', 'k', '--print-value-only'])).stdout.trim(), 'b');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('etcd helper: the sweep kills what a dead test process left', { skip, timeout: 30_000 }, async () => {
  // A dir named after a pid that cannot exist, holding a live "etcd" stand-in.
  const dir = mkdtempSync(join(tmpdir(), `weft-etcd-${(2 ** 22 + 1).toString(36)}-`));
  // The sweep only kills a pid whose command line names the dir.
  const stub = spawn('bash', ['-c', `exec -a "etcd --data-dir ${dir}/data" sleep 600`], { stdio: 'ignore' });
  const exited = new Promise((r) => stub.once('exit', r));
  await new Promise((r) => setTimeout(r, 200));
  writeFileSync(join(dir, 'etcd.pid'), `${stub.pid}\n`);
  const removed = sweepStaleEtcd();
  assert.ok(removed.includes(dir));
  await exited;
  assert.equal(existsSync(dir), false);
});
