/**
 * `weft neigh ls|add|replace|del` with `ip neigh` syntax:
 *   weft neigh add 198.19.0.2 lladdr 02:42:c6:13:00:02 dev vx0 nud permanent --netns h1
 *   weft neigh add proxy 198.19.0.9 dev br0
 *   weft neigh ls [dev DEV] [proxy] --json     (fields as `ip -j neigh`)
 */
import { InvalidArgumentError } from '../../errors.js';
import {
  type NeighbourSpec, type NudName, addNeighbour, deleteNeighbour, listNeighbours, replaceNeighbour,
} from '../../netlink/rtnetlink/neigh.js';
import { NUD_NOARP } from '../../netlink/rtnetlink/constants.js';
import { neighToJson } from '../iproute-json.js';
import { Words, runIprouteVerb, withLinkNames } from '../iproute-verb.js';

export const summary = 'list and change neighbour entries (ip neigh syntax): ls | add | replace | del';

const NUDS = ['permanent', 'noarp', 'reachable', 'stale'];

export function parseNeigh(words: string[]): NeighbourSpec {
  const w = new Words(words);
  const s: Partial<NeighbourSpec> = {};
  while (!w.done) {
    const word = w.next();
    switch (word) {
      case 'proxy': s.proxy = true; if (!w.done && w.peek() !== 'dev') s.dst = w.next(); break;
      case 'to': s.dst = w.value('to'); break;
      case 'lladdr': s.lladdr = w.value('lladdr'); break;
      case 'dev': s.dev = w.value('dev'); break;
      case 'router': s.router = true; break;
      case 'nud': {
        const n = w.value('nud');
        if (!NUDS.includes(n)) throw new InvalidArgumentError(`nud must be one of ${NUDS.join(', ')}`);
        s.state = n as NudName;
        break;
      }
      default:
        if (s.dst !== undefined) throw new InvalidArgumentError(`unknown neigh option ${JSON.stringify(word)}`);
        s.dst = word;
    }
  }
  if (s.dst === undefined) throw new InvalidArgumentError('neigh needs an address');
  if (s.dev === undefined) throw new InvalidArgumentError('neigh needs `dev DEV`');
  return s as NeighbourSpec;
}

export function run(args: string[]): Promise<number> {
  return runIprouteVerb('neigh', args, {
    async list(rtnl, words, json) {
      const di = words.indexOf('dev');
      const dev = di >= 0 ? words[di + 1] : undefined;
      const filter = { ...(dev !== undefined ? { dev } : {}), ...(words.includes('proxy') ? { proxy: true } : {}) };
      const [entries, names] = await withLinkNames(rtnl, listNeighbours(rtnl, filter));
      // As `ip neigh show`: NOARP entries (multicast mappings) only with `nud all`.
      const all = words.includes('all');
      const out = entries.filter((e) => all || e.state !== NUD_NOARP).map((e) => neighToJson(e, names));
      if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else for (const e of out) {
        const parts = [String(e.dst), 'dev', String(e.dev)];
        if (e.lladdr) parts.push('lladdr', String(e.lladdr));
        if ('router' in e) parts.push('router');
        if ('proxy' in e) parts.push('proxy');
        if (e.state) parts.push(...(e.state as string[]));
        process.stdout.write(`${parts.join(' ')}\n`);
      }
    },
    changes: {
      add: (rtnl, words) => addNeighbour(rtnl, parseNeigh(words)),
      replace: (rtnl, words) => replaceNeighbour(rtnl, parseNeigh(words)),
      del: (rtnl, words) => deleteNeighbour(rtnl, parseNeigh(words)),
    },
  });
}
