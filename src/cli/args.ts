/**
 * Small argument helpers shared by every command: global flags (`--netns`,
 * `--json`) may appear anywhere; the rest keeps iproute2's word order.
 */
import { InvalidArgumentError } from '../errors.js';

export interface CommonFlags {
  netns?: string;
  json: boolean;
  rest: string[];
}

/** Pulls `--netns NAME` and `--json` (also `-j`) out of args, anywhere. */
export function commonFlags(args: string[]): CommonFlags {
  const rest: string[] = [];
  let netns: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json' || a === '-j') json = true;
    else if (a === '--netns' || a === '-n') {
      netns = args[++i];
      if (!netns) throw new InvalidArgumentError(`${a} needs a namespace name`);
    } else if (a.startsWith('--netns=')) netns = a.slice(8);
    else rest.push(a);
  }
  return netns === undefined ? { json, rest } : { netns, json, rest };
}

/** Parses a whole number in [min, max] or throws naming the option. */
export function intArg(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} needs a number, got ${JSON.stringify(value ?? '')}`);
  const n = Number(value);
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}
