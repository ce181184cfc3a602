/**
 * `weft route ls|add|replace|del` with `ip route` syntax:
 *   weft route add 10.9.0.0/16 via 10.1.0.2 metric 5 --netns h1
 *   weft route ls [-6] [table N] --json     (fields as `ip -j route`)
 */
import { InvalidArgumentError } from '../../errors.js';
import { AF_INET, AF_INET6 } from '../../netlink/rtnetlink/constants.js';
import { type RouteSpec, ROUTE_TYPES, addRoute, deleteRoute, listRoutes, replaceRoute } from '../../netlink/rtnetlink/route.js';
import { intArg } from '../args.js';
import { routeToJson } from '../iproute-json.js';
import { Words, runIprouteVerb, withLinkNames } from '../iproute-verb.js';

export const summary = 'list and change routes (ip route syntax): ls | add | replace | del';

export function parseRoute(words: string[]): RouteSpec {
  const w = new Words(words);
  const s: Partial<RouteSpec> = {};
  while (!w.done) {
    const word = w.next();
    switch (word) {
      case 'via': s.gateway = w.value('via'); break;
      case 'dev': s.dev = w.value('dev'); break;
      case 'metric': case 'priority': s.metric = w.int('metric', 0, 0xffffffff); break;
      case 'table': s.table = w.int('table', 1, 0xffffffff); break;
      case 'src': s.prefsrc = w.value('src'); break;
      case 'proto': case 'protocol': {
        const p = w.value('proto');
        s.protocol = ['boot', 'static', 'kernel'].includes(p) ? (p as 'boot') : intArg('proto', p, 0, 255);
        break;
      }
      case 'scope': s.scope = w.value('scope') as RouteSpec['scope']; break;
      case '-6': s.family = 6; break;
      default:
        if (ROUTE_TYPES[word] !== undefined && s.dst === undefined) { s.type = word as RouteSpec['type']; break; }
        if (s.dst !== undefined) throw new InvalidArgumentError(`unknown route option ${JSON.stringify(word)}`);
        s.dst = word;
    }
  }
  if (s.dst === undefined) throw new InvalidArgumentError('route needs a destination (or default)');
  return s as RouteSpec;
}

export function run(args: string[]): Promise<number> {
  const six = args.includes('-6');
  const parse = (words: string[]) => parseRoute(six ? [...words, '-6'] : words);
  return runIprouteVerb('route', args.filter((a) => a !== '-6' && a !== '-4'), {
    async list(rtnl, words, json) {
      const ti = words.indexOf('table');
      const table = ti >= 0 ? (words[ti + 1] === 'all' ? 0 : intArg('table', words[ti + 1], 1, 0xffffffff)) : undefined;
      const [routes, names] = await withLinkNames(rtnl, listRoutes(rtnl, { family: six ? AF_INET6 : AF_INET, ...(table !== undefined ? { table } : {}) }));
      const out = routes.map((r) => routeToJson(r, names));
      if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else for (const r of out) {
        const parts = [...(r.type ? [String(r.type)] : []), String(r.dst)];
        for (const [k, label] of [['gateway', 'via'], ['dev', 'dev'], ['protocol', 'proto'], ['scope', 'scope'], ['prefsrc', 'src'], ['metric', 'metric']]) {
          if (r[k!] !== undefined) parts.push(label!, String(r[k!]));
        }
        process.stdout.write(`${parts.join(' ')}\n`);
      }
    },
    changes: {
      add: (rtnl, words) => addRoute(rtnl, parse(words)),
      replace: (rtnl, words) => replaceRoute(rtnl, parse(words)),
      del: (rtnl, words) => deleteRoute(rtnl, parse(words)),
    },
  });
}
