/**
 * Boots the kernel lab ONCE and runs every compiled kernel test in it:
 * `node --test dist/test/kernel/**\/*.test.js` with WEFT_KLAB=1. The VM's
 * console streams to stderr as it runs; this test fails when any in-VM test
 * fails (node --test exits non-zero and the lab passes the code through).
 * To add kernel tests, drop `test/kernel/NAME.test.ts` files that skip unless
 * WEFT_KLAB=1; they run as root in a VM with a Debian kernel, iproute2,
 * ipvsadm and nft, and no network device.
 * WEFT_KLAB_TIMEOUT (seconds, default 600) bounds the whole VM run.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { kernelLabSkipReason, REPO_ROOT, runInKernelLab } from '../support/kernel-lab.js';

function kernelTests(dir: string, out: string[] = []): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) kernelTests(p, out);
    else if (name.endsWith('.test.js')) out.push(relative(REPO_ROOT, p));
  }
  return out;
}

const files = kernelTests(join(REPO_ROOT, 'dist/test/kernel'));
const skip = kernelLabSkipReason() ?? (files.length === 0 ? 'no compiled tests in dist/test/kernel' : undefined);
if (skip) console.log(`# skipping kernel lab: ${skip}`);

test('kernel lab: every test in dist/test/kernel passes inside the VM', { skip, timeout: 20 * 60_000 }, async () => {
  const timeoutMs = Number(process.env.WEFT_KLAB_TIMEOUT ?? 600) * 1000;
  const started = Date.now();
  const command = [
    'echo "klab: kernel $(uname -r), $(nproc) cpus, node $(node -v)"',
    `node --test --test-reporter=spec ${files.map((f) => `'${f}'`).join(' ')}`,
  ].join('\n');
  const { code, output } = await runInKernelLab(command, {
    timeoutMs,
    env: { WEFT_KLAB: '1' },
    onOutput: (s) => process.stderr.write(s),
  });
  process.stderr.write(`klab: ${files.length} file(s), VM run ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${code}\n`);
  const tail = output.split('\n').slice(-40).join('\n');
  assert.notEqual(code, 124, `the VM timed out after ${timeoutMs / 1000} s:\n${tail}`);
  assert.equal(code, 0, `in-VM tests failed (exit ${code}):\n${tail}`);
  assert.match(output, /ℹ pass [1-9]/, `no in-VM test passed:\n${tail}`);
  assert.match(output, /ℹ fail 0/);
});
