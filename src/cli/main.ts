#!/usr/bin/env node
/**
 * weft's command line. `weft <command> ...` loads src/cli/commands/<command>.js,
 * whose `run(args)` returns the exit code. Errors are one line on stderr and a
 * non-zero exit, never a stack trace (set WEFT_DEBUG=1 for one).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeftError } from '../errors.js';

export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<Command | undefined> {
  if (!commandNames().includes(name)) return undefined;
  return (await import(join(commandsDir, `${name}.js`))) as Command;
}

async function usage(): Promise<string> {
  const lines = ['usage: weft <command> [args...]', '', 'commands:'];
  for (const name of commandNames()) {
    const cmd = await load(name);
    lines.push(`  ${name.padEnd(10)} ${cmd?.summary ?? ''}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${await usage()}\n`);
    return name ? 0 : 2;
  }
  const cmd = await load(name);
  if (!cmd) {
    process.stderr.write(`weft: unknown command '${name}' (try 'weft help')\n`);
    return 2;
  }
  return cmd.run(args);
}

function report(err: unknown): number {
  if (process.env.WEFT_DEBUG) console.error(err);
  const msg = err instanceof Error ? err.message : String(err);
  const code = err instanceof WeftError ? ` [${err.code}]` : '';
  process.stderr.write(`weft: ${msg.split('\n')[0]}${code}\n`);
  return err instanceof WeftError && err.code === 'EINVALARG' ? 2 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.exitCode = report(err);
  },
);
