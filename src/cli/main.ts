#!/usr/bin/env node
/**
 * weft's command line. `weft <verb> ...` loads src/cli/commands/<verb>.js,
 * whose `run(args)` returns the exit code. Help, version and completion come
 * from the flag tables (src/cli/verbs.ts) without loading any verb, so they
 * start fast; a verb loads only what it uses. Errors are one line on stderr
 * and a non-zero exit, never a stack trace (WEFT_DEBUG=1 prints one). A
 * closed pipe (`weft link ls | head -1`) ends quietly with exit 0, as `ip`.
 */
import { WeftError } from '../errors.js';
import { version } from '../version.js';
import { bashCompletion, helpText } from './flags.js';
import { VERBS, verb } from './verbs.js';

export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

function usage(): string {
  const lines = ['usage: weft <command> [args...]   (weft <command> --help for its options)', '', 'commands:'];
  for (const v of VERBS) lines.push(`  ${v.name.padEnd(10)} ${v.summary}`);
  lines.push('', 'weft --version prints the version.');
  return `${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`weft ${version()}\n`);
    return 0;
  }
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    const v = args[0] !== undefined ? verb(args[0]) : undefined;
    process.stdout.write(v ? helpText(v) : usage());
    return name ? 0 : 2;
  }
  const spec = verb(name);
  if (!spec) {
    process.stderr.write(`weft: unknown command '${name}' (try 'weft help')\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
    process.stdout.write(helpText(spec));
    return 0;
  }
  if (name === 'completion') {
    if (args[0] !== 'bash') {
      process.stderr.write("weft: completion supports 'bash'\n");
      return 2;
    }
    process.stdout.write(bashCompletion(VERBS));
    return 0;
  }
  const cmd = (await import(`./commands/${name}.js`)) as Command;
  return cmd.run(args);
}

/** One line on stderr with the error code (docs/errors.md); exit 2 for bad arguments. */
function report(err: unknown): number {
  if (process.env.WEFT_DEBUG) console.error(err);
  const msg = err instanceof Error ? err.message : String(err);
  const code = err instanceof WeftError ? ` [${err.code}]` : '';
  process.stderr.write(`weft: ${msg.split('\n')[0]}${code}\n`);
  return err instanceof WeftError && err.code === 'ERR_WEFT_INVALID_ARGUMENT' ? 2 : 1;
}

// A reader that went away (head, less quitting) ends the command, quietly and successfully.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    if ((err as NodeJS.ErrnoException)?.code === 'EPIPE') process.exit(0);
    process.exitCode = report(err);
  },
);
