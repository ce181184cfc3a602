/**
 * Small argument helpers shared by every command: global flags (`--netns`,
 * `--json`) may appear anywhere; the rest keeps iproute2's word order.
 */
import { InvalidArgumentError } from '../errors.js';
import { JSON_FLAG, NETNS, parseFlags, str } from './flags.js';

export interface CommonFlags {
  netns?: string;
  json: boolean;
  rest: string[];
}

/** Pulls `--netns NAME` (`-n`) and `--json` (`-j`) out of args, anywhere; other words stay in order. */
export function commonFlags(args: string[]): CommonFlags {
  const p = parseFlags([NETNS, JSON_FLAG], args, { allowUnknownDash: () => true });
  const netns = str(p, 'netns');
  const json = p.values.get('json') === true;
  return netns === undefined ? { json, rest: p.positionals } : { netns, json, rest: p.positionals };
}

/** Parses a whole number in [min, max] or throws naming the option. */
export function intArg(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} needs a number, got ${JSON.stringify(value ?? '')}`);
  const n = Number(value);
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}
