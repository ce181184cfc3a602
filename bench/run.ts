/** `npm run bench -- NAME [args]`: see bench/lib.ts for the convention. */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Benchmark, type Row, currentStep } from './lib.js';

const distBench = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(distBench, '..', '..');

function table(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v ?? ''));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

/** On a terminal, a status line with the elapsed time (and the bench's own step, see progress() in lib.ts) while it runs. */
async function withProgress<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return fn();
  const t0 = Date.now();
  const draw = () => process.stderr.write(`\r\x1b[K${name}: ${Math.round((Date.now() - t0) / 1000)} s${currentStep() ? ` · ${currentStep()}` : ''}`);
  const timer = setInterval(draw, 1000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    process.stderr.write('\r\x1b[K');
  }
}

async function main(): Promise<number> {
  const [name, ...args] = process.argv.slice(2);
  if (name === 'report') {
    const { writeReport } = await import('./report.js');
    process.stdout.write(`wrote ${writeReport(repoRoot)}\n`);
    return 0;
  }
  if (!name || !/^[a-z0-9-]+$/.test(name) || !existsSync(join(distBench, `${name}.js`))) {
    process.stderr.write(`usage: npm run bench -- NAME   (NAME is a file in bench/, e.g. netlink-dump)\n`);
    return 2;
  }
  const bench = (await import(join(distBench, `${name}.js`))).default as Benchmark;
  process.stdout.write(`bench ${name}: ${bench.description}\n`);
  const result = await withProgress(name, () => bench.run(args));
  process.stdout.write(`${table(result.rows)}\n\nratios (weft ÷ peer, above 1 = weft better):\n`);
  for (const [k, v] of Object.entries(result.ratios)) process.stdout.write(`  ${k.padEnd(24)} ${v ?? 'n/a'}\n`);
  for (const n of result.notes ?? []) process.stdout.write(`note: ${n}\n`);
  const out = join(repoRoot, 'bench', 'results', `${name}.json`);
  mkdirSync(dirname(out), { recursive: true });
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memory: totalmem(), kernel: release(), node: process.version };
  writeFileSync(out, `${JSON.stringify({ name, date: new Date().toISOString(), machine, ...result }, null, 2)}\n`);
  process.stdout.write(`wrote ${out}\n`);
  const { writeReport } = await import('./report.js');
  process.stdout.write(`wrote ${writeReport(repoRoot)}\n`);
  return 0;
}

main().then((c) => (process.exitCode = c), (e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exitCode = 1;
});
