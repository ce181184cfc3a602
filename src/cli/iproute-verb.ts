/**
 * What the iproute2-style verbs (link, addr, route, neigh, fdb) share:
 * `VERB [ls|show|list] ...` prints and every other sub-verb changes, through
 * one rtnetlink handle in --netns (or ours) closed afterwards; a change
 * prints `{}` with --json; `delete` is `del`, as in iproute2. Words is the
 * cursor their option parsers read the command line with.
 */
import { InvalidArgumentError } from '../errors.js';
import { Rtnl } from '../netlink/rtnetlink/handle.js';
import { commonFlags, intArg } from './args.js';

export interface IprouteVerb {
  /** Prints the objects; `words` are those after ls/show/list. */
  list(rtnl: Rtnl, words: string[], json: boolean): Promise<void>;
  /** The changing sub-verbs by name, each parsing its words and applying them. */
  changes: Record<string, (rtnl: Rtnl, words: string[]) => Promise<void>>;
}

const LIST = new Set(['ls', 'show', 'list']);

/** Runs `weft OBJECT [SUB-VERB] WORDS... [--netns NS] [--json]`. */
export async function runIprouteVerb(object: string, args: string[], verb: IprouteVerb): Promise<number> {
  const { netns, json, rest } = commonFlags(args);
  const [sub = 'ls', ...words] = rest;
  const change = LIST.has(sub) ? undefined : verb.changes[sub === 'delete' ? 'del' : sub];
  if (!LIST.has(sub) && !change) {
    throw new InvalidArgumentError(`unknown ${object} verb '${sub}' (ls, ${Object.keys(verb.changes).join(', ')})`);
  }
  const rtnl = Rtnl.open(netns !== undefined ? { netns } : {});
  try {
    if (change) {
      await change(rtnl, words);
      if (json) process.stdout.write('{}\n');
    } else await verb.list(rtnl, words, json);
    return 0;
  } finally {
    rtnl.close();
  }
}

/** Dumped objects with the names of the links they refer to by index. */
export async function withLinkNames<T>(rtnl: Rtnl, objects: Promise<T[]>): Promise<[T[], Map<number, string>]> {
  const [list, links] = await Promise.all([objects, rtnl.links()]);
  return [list, new Map(links.map((l) => [l.index, l.name]))];
}

/** A cursor over the words of a command line. */
export class Words {
  i = 0;
  constructor(readonly w: string[]) {}
  get done(): boolean { return this.i >= this.w.length; }
  peek(): string | undefined { return this.w[this.i]; }
  next(): string { return this.w[this.i++]!; }
  value(what: string): string {
    const v = this.w[this.i++];
    if (v === undefined) throw new InvalidArgumentError(`${what} needs a value`);
    return v;
  }
  int(what: string, min: number, max: number): number { return intArg(what, this.value(what), min, max); }
}
