/** `weft dns add|rm|ls` against a temp state dir: exit codes and the record file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const weft = (...args: string[]) => spawnSync(process.execPath, [cli, 'dns', ...args], { encoding: 'utf8' });

test('weft dns: bad records and arguments exit 2 with one line; good ones persist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-dnscli-'));
  try {
    const ok = weft('add', '--state-dir', dir, '--network', 'front', '--name', 'web', '--address', '198.18.1.2', '--ptr', '--json');
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { changed: true });
    const again = weft('add', '--state-dir', dir, '--network', 'front', '--name', 'WEB', '--address', '198.18.1.2', '--ptr', '--json');
    assert.deepEqual(JSON.parse(again.stdout), { changed: false });
    const file = JSON.parse(readFileSync(join(dir, 'dns-records.json'), 'utf8')) as { records: unknown[] };
    assert.equal(file.records.length, 1);
    for (const bad of [
      ['--name', 'a..b', '--address', '198.18.1.3'],
      ['--name', 'x'.repeat(64), '--address', '198.18.1.3'],
      ['--name', 'ok', '--address', '198.18.1.999'],
      ['--name', 'ok', '--address', 'zz::1::2'],
      ['--name', 'ok', '--srv', '1:2:70000:web'],
      ['--name', 'ok', '--txt', 'y'.repeat(300)],
      ['--name', 'ok'],
      ['--name', 'ok', '--address', '198.18.1.3', '--bogus'],
    ]) {
      const r = weft('add', '--state-dir', dir, '--network', 'front', ...bad);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^weft: .*\[ERR_WEFT_INVALID_ARGUMENT\]/);
    }
    assert.equal(weft('serve', '--listen', '127.0.0.1:0', '--hosts', join(dir, 'missing')).status, 2);
    const ls = weft('ls', '--state-dir', dir, '--json');
    assert.equal(ls.status, 0);
    assert.deepEqual(JSON.parse(ls.stdout), [{ network: 'front', name: 'web', type: 'A', address: '198.18.1.2', ptr: true }]);
    const rm = weft('rm', '--state-dir', dir, '--network', 'front', '--name', 'web', '--address', '198.18.1.2', '--ptr', '--json');
    assert.deepEqual(JSON.parse(rm.stdout), { changed: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
