/**
 * The benchmark convention. `npm run bench -- NAME` loads dist/bench/NAME.js,
 * whose default export is a Benchmark. Its run() returns raw rows and a
 * `ratios` object (weft ÷ peer, so above 1 means weft is better; for
 * latencies, peer ÷ weft). The runner prints the rows as a table and writes
 * bench/results/NAME.json together with a description of the machine.
 */
export type Row = Record<string, string | number | boolean | null>;

export interface BenchResult {
  rows: Row[];
  ratios: Record<string, number | null>;
  /** What limits the result, what was skipped and why. */
  notes?: string[];
}

export interface Benchmark {
  description: string;
  run(args: string[]): Promise<BenchResult>;
}

/** Median of a list of numbers (NaN when empty). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The p-th percentile (0..100), nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

/** Wall time of fn in milliseconds (high resolution). */
export async function timeMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A ratio rounded for reading, or null when either side is missing. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return Math.round((a / b) * 1000) / 1000;
}

let step = '';

/**
 * Names the step a long benchmark is on ("dnsmasq run 2/3"); on a terminal
 * the runner shows it beside the elapsed time. Costs nothing otherwise.
 */
export function progress(what: string): void {
  step = what;
}

export function currentStep(): string {
  return step;
}
