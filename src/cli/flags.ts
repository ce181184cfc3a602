/**
 * The one flag parser of the CLI. Every verb describes its flags in a table
 * (src/cli/verbs.ts); the same table drives parsing, `weft VERB --help` and
 * the bash completion, so the three cannot drift apart. Words that are not
 * flags (iproute2's `dev eth0`, a filter expression) stay positional, in
 * order.
 */
import { InvalidArgumentError } from '../errors.js';

export interface Flag {
  /** Long name with dashes: `--store`. */
  name: string;
  /** One-letter alias: `-j`. */
  short?: string;
  /** Placeholder of the value (`PATH`); absent for a boolean flag. */
  value?: string;
  /** May be given more than once (values collect into a list). */
  multi?: boolean;
  /** The only accepted values (also offered by completion). */
  choices?: readonly string[];
  help: string;
}

export interface VerbSpec {
  name: string;
  summary: string;
  /** Usage lines after `weft `. */
  usage: readonly string[];
  /** First words completion offers (subcommands). */
  subcommands?: readonly string[];
  flags: readonly Flag[];
  /** Paragraphs printed after the options. */
  notes?: readonly string[];
}

export const NETNS: Flag = { name: '--netns', short: '-n', value: 'NAME', help: 'run inside the named network namespace' };
export const JSON_FLAG: Flag = { name: '--json', short: '-j', help: 'print JSON' };
export const HELP: Flag = { name: '--help', short: '-h', help: 'show this help' };

export type FlagValue = string | string[] | boolean;

export interface Parsed {
  /** Values by long name without dashes (`store`, `dns-upstream`). */
  values: Map<string, FlagValue>;
  positionals: string[];
}

/**
 * Parses `args` against `flags`. `--name value`, `--name=value` and short
 * aliases are accepted anywhere; `--` ends flags. A dash word that is not
 * in the table is an error unless `allowUnknownDash` (filters like `-6`).
 */
export function parseFlags(flags: readonly Flag[], args: readonly string[], opts: { allowUnknownDash?: (word: string) => boolean } = {}): Parsed {
  const byName = new Map<string, Flag>();
  for (const f of flags) {
    byName.set(f.name, f);
    if (f.short) byName.set(f.short, f);
  }
  const out: Parsed = { values: new Map(), positionals: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const word = eq > 0 ? a.slice(0, eq) : a;
    const f = byName.get(word);
    if (!f) {
      if (a.length > 1 && a.startsWith('-') && !/^-\d/.test(a) && !opts.allowUnknownDash?.(a)) {
        throw new InvalidArgumentError(`unknown argument ${JSON.stringify(a)}`);
      }
      out.positionals.push(a);
      continue;
    }
    const key = f.name.slice(2);
    if (f.value === undefined) {
      if (eq > 0) throw new InvalidArgumentError(`${f.name} takes no value`);
      out.values.set(key, true);
      continue;
    }
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new InvalidArgumentError(`${f.name} needs a value (${f.value})`);
    if (f.choices && !f.choices.includes(v)) throw new InvalidArgumentError(`${f.name} must be ${f.choices.join(', ')}; got ${JSON.stringify(v)}`);
    if (f.multi) {
      const prev = out.values.get(key);
      out.values.set(key, [...(Array.isArray(prev) ? prev : []), v]);
    } else out.values.set(key, v);
  }
  return out;
}

/** Typed accessors over a parse result. */
export function str(p: Parsed, key: string): string | undefined {
  const v = p.values.get(key);
  return typeof v === 'string' ? v : undefined;
}

export function list(p: Parsed, key: string): string[] {
  const v = p.values.get(key);
  return Array.isArray(v) ? v : [];
}

export function bool(p: Parsed, key: string): boolean {
  return p.values.get(key) === true;
}

/** `weft VERB --help`. */
export function helpText(v: VerbSpec): string {
  const lines = [`weft ${v.name}: ${v.summary}`, '', 'usage:'];
  for (const u of v.usage) lines.push(`  weft ${u}`);
  const all = [...v.flags, HELP];
  lines.push('', 'options:');
  const cols = all.map((f) => `${f.short ? `${f.short}, ` : '    '}${f.name}${f.value ? ` ${f.value}` : ''}`);
  const w = Math.max(...cols.map((c) => c.length));
  all.forEach((f, i) => {
    const extra = f.choices ? ` (${f.choices.join('|')})` : '';
    lines.push(`  ${cols[i]!.padEnd(w)}  ${f.help}${extra}${f.multi ? ' (repeatable)' : ''}`);
  });
  for (const n of v.notes ?? []) lines.push('', n);
  return `${lines.join('\n')}\n`;
}

/** A bash completion script for every verb, generated from the tables. */
export function bashCompletion(verbs: readonly VerbSpec[]): string {
  const cases = verbs.map((v) => {
    const words = [...(v.subcommands ?? []), ...[...v.flags, HELP].flatMap((f) => (f.short ? [f.name, f.short] : [f.name]))];
    const valued = [...v.flags].filter((f) => f.value !== undefined);
    const choiceCases = valued.filter((f) => f.choices).map((f) => `        ${[f.name, f.short].filter(Boolean).join('|')}) COMPREPLY=($(compgen -W "${f.choices!.join(' ')}" -- "$cur")); return ;;`);
    const fileFlags = valued.filter((f) => !f.choices && /PATH|FILE|DIR/.test(f.value!)).map((f) => [f.name, f.short].filter(Boolean).join('|'));
    const otherFlags = valued.filter((f) => !f.choices && !/PATH|FILE|DIR/.test(f.value!)).map((f) => [f.name, f.short].filter(Boolean).join('|'));
    return [
      `    ${v.name})`,
      '      case "$prev" in',
      ...choiceCases,
      ...(fileFlags.length ? [`        ${fileFlags.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
      ...(otherFlags.length ? [`        ${otherFlags.join('|')}) return ;;`] : []),
      '      esac',
      `      COMPREPLY=($(compgen -W "${words.join(' ')}" -- "$cur")) ;;`,
    ].join('\n');
  });
  return [
    '# bash completion for weft (generated by `weft completion bash`)',
    '_weft() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    COMPREPLY=($(compgen -W "${verbs.map((v) => v.name).join(' ')} help --help --version" -- "$cur")); return`,
    '  fi',
    '  case "${COMP_WORDS[1]}" in',
    ...cases,
    '  esac',
    '}',
    'complete -F _weft weft',
    '',
  ].join('\n');
}
