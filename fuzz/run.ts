/**
 * `npm run fuzz -- NAME [seconds]`: runs fuzz/targets/NAME.fuzz.ts (or
 * every target for NAME = all) for the given time (default 10 s each).
 * A target default-exports a FuzzTarget ({ seeds, run }, see engine.ts)
 * or a plain `(data) => void` (with an optional `export const seeds`).
 * Exit 1 with the failing input in hex when a target throws anything but
 * DecodeError.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzz, type FuzzReport, type FuzzTarget } from './engine.js';

const targetsDir = join(dirname(fileURLToPath(import.meta.url)), 'targets');

/** Names of every compiled target. */
export function targetNames(): string[] {
  return readdirSync(targetsDir).filter((f) => f.endsWith('.fuzz.js')).map((f) => f.slice(0, -'.fuzz.js'.length)).sort();
}

export async function runTarget(name: string, ms: number, seed?: number): Promise<FuzzReport> {
  const mod = (await import(join(targetsDir, `${name}.fuzz.js`))) as { default: FuzzTarget | ((data: Uint8Array) => void); seeds?: Uint8Array[] };
  // Targets either default-export a FuzzTarget or a plain function (optionally with `export const seeds`).
  const target: FuzzTarget = typeof mod.default === 'function' ? { seeds: mod.seeds ?? [], run: mod.default } : mod.default;
  return fuzz(name, target, ms, seed);
}

async function main(): Promise<number> {
  const [name, secs] = process.argv.slice(2);
  const names = targetNames();
  if (!name || (name !== 'all' && !names.includes(name))) {
    process.stderr.write(`usage: npm run fuzz -- NAME|all [seconds]   targets: ${names.join(', ')}\n`);
    return 2;
  }
  const seconds = secs === undefined ? 10 : Number(secs);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86400) {
    process.stderr.write(`seconds must be a positive number, got ${JSON.stringify(secs)}\n`);
    return 2;
  }
  let failed = 0;
  for (const n of name === 'all' ? names : [name]) {
    const r = await runTarget(n, seconds * 1000, Date.now() & 0x7fffffff);
    process.stdout.write(`${n.padEnd(10)} runs ${r.runs}  rejected ${r.rejected}${r.failure ? '  FAILED' : ''}\n`);
    if (r.failure) {
      failed++;
      process.stdout.write(`  input: ${r.failure.input}\n  ${r.failure.error.split('\n').join('\n  ')}\n`);
    }
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then((c) => (process.exitCode = c), (e) => {
    process.stderr.write(`fuzz failed: ${e instanceof Error ? e.stack : e}\n`);
    process.exitCode = 1;
  });
}
