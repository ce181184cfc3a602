/**
 * `npm test` after the build: every compiled *.test.js under dist/test/{unit,
 * integration,e2e}, in one `node --test` run (dist/test/kernel runs inside
 * the kernel-lab VM, started by integration/kernel-lab.test.js).
 * Arguments narrow the run to files whose path below dist/test contains one of them.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const testRoot = dirname(dirname(fileURLToPath(import.meta.url)));

function collect(dir: string, out: string[]): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['unit', 'integration', 'e2e']
  .flatMap((tier) => collect(join(testRoot, tier), []))
  // Matched below the test root, so that a checkout's own path (a worktree named "tracestart") does not match every file.
  .filter((f) => filters.length === 0 || filters.some((s) => relative(testRoot, f).includes(s)));

// `node --test` without files would search the working directory and run everything.
if (files.length === 0) {
  process.stderr.write(`run-tests: no test file matches ${filters.join(', ')}\n`);
  process.exit(1);
}

const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
