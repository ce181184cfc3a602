/**
 * A small mutation fuzzer for the wire decoders (no dependency, bounded
 * by time). Each target in fuzz/targets/NAME.fuzz.ts default-exports a
 * FuzzTarget; its `run(bytes)` may throw DecodeError (the decoder
 * rejected the input, fine) and nothing else. Inputs are seeds (real
 * frames), their mutations (bit flips, byte sets, truncations, splices,
 * length-field bumps) and plain random bytes. Deterministic for a seed.
 */
import { DecodeError } from '../src/errors.js';

export interface FuzzTarget {
  /** Seed inputs: real, valid packets of this protocol. */
  seeds: Uint8Array[];
  run(data: Uint8Array): void;
}

export interface FuzzReport {
  name: string;
  runs: number;
  rejected: number;
  /** The first input that threw something other than DecodeError. */
  failure?: { input: string; error: string };
}

/** xorshift32: deterministic and allocation-free. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x40, 0x45, 0x60, 0x08, 0x11, 0x2c, 0x3c, 0x3a];

function mutate(seed: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const kind = pick(8);
  if (kind === 0 || seed.length === 0) {
    const out = new Uint8Array(pick(128));
    for (let i = 0; i < out.length; i++) out[i] = pick(256);
    return out;
  }
  let out = Uint8Array.from(seed);
  const edits = 1 + pick(4);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const i = pick(out.length);
    switch (pick(6)) {
      case 0: out[i] = out[i]! ^ (1 << pick(8)); break;
      case 1: out[i] = INTERESTING[pick(INTERESTING.length)]!; break;
      case 2: out[i] = pick(256); break;
      case 3: out = out.subarray(0, pick(out.length + 1)); break;
      case 4: { const grow = new Uint8Array(out.length + 1 + pick(16)); grow.set(out); out = grow; break; }
      default: out[i] = (out[i]! + (r() < 0.5 ? 1 : 255)) & 0xff; break; // nudge a length field
    }
  }
  return out;
}

/** Runs a target for `ms` milliseconds (at least `minRuns` inputs). */
export function fuzz(name: string, target: FuzzTarget, ms: number, seed = 0x5eed, minRuns = 200): FuzzReport {
  const r = rng(seed);
  const report: FuzzReport = { name, runs: 0, rejected: 0 };
  const deadline = Date.now() + ms;
  const inputs = target.seeds;
  while (report.runs < minRuns || Date.now() < deadline) {
    for (let k = 0; k < 64; k++) {
      const base = inputs.length ? inputs[Math.floor(r() * inputs.length)]! : new Uint8Array();
      const data = report.runs < inputs.length ? inputs[report.runs]! : mutate(base, r);
      report.runs++;
      try {
        target.run(data);
      } catch (err) {
        if (err instanceof DecodeError) {
          report.rejected++;
          continue;
        }
        report.failure = { input: Buffer.from(data).toString('hex'), error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
        return report;
      }
    }
  }
  return report;
}
