/**
 * `weft route ls|add|replace|del` with `ip route` syntax:
 *   weft route add 10.9.0.0/16 via 10.1.0.2 metric 5 --netns h1
 *   weft route ls [-6] [table N] --json     (fields as `ip -j route`)
 */
import { InvalidArgumentError } from '../../errors.js';
import { Rtnl } from '../../netlink/rtnetlink/handle.js';
import { AF_INET, AF_INET6 } from '../../netlink/rtnetlink/constants.js';
import { type RouteSpec, ROUTE_TYPES, addRoute, deleteRoute, listRoutes, replaceRoute } from '../../netlink/rtnetlink/route.js';
import { commonFlags, intArg } from '../args.js';
import { routeToJson } from '../iproute-json.js';
import { Words } from './link.js';

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

export async function run(args: string[]): Promise<number> {
  const { netns, json, rest } = commonFlags(args);
  const six = rest.includes('-6');
  const words = rest.filter((a) => a !== '-6' && a !== '-4');
  const [verb = 'ls', ...more] = words;
  const rtnl = Rtnl.open(netns !== undefined ? { netns } : {});
  try {
    if (verb === 'ls' || verb === 'show' || verb === 'list') {
      const ti = more.indexOf('table');
      const table = ti >= 0 ? (more[ti + 1] === 'all' ? 0 : intArg('table', more[ti + 1], 1, 0xffffffff)) : undefined;
      const [routes, links] = await Promise.all([
        listRoutes(rtnl, { family: six ? AF_INET6 : AF_INET, ...(table !== undefined ? { table } : {}) }), rtnl.links(),
      ]);
      const names = new Map(links.map((l) => [l.index, l.name]));
      const out = routes.map((r) => routeToJson(r, names));
      if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else for (const r of out) {
        const parts = [...(r.type ? [String(r.type)] : []), String(r.dst)];
        for (const [k, label] of [['gateway', 'via'], ['dev', 'dev'], ['protocol', 'proto'], ['scope', 'scope'], ['prefsrc', 'src'], ['metric', 'metric']]) {
          if (r[k!] !== undefined) parts.push(label!, String(r[k!]));
        }
        process.stdout.write(`${parts.join(' ')}\n`);
      }
      return 0;
    }
    const spec = parseRoute(six ? [...more, '-6'] : more);
    if (verb === 'add') await addRoute(rtnl, spec);
    else if (verb === 'replace') await replaceRoute(rtnl, spec);
    else if (verb === 'del' || verb === 'delete') await deleteRoute(rtnl, spec);
    else throw new InvalidArgumentError(`unknown route verb '${verb}' (ls, add, replace, del)`);
    if (json) process.stdout.write('{}\n');
    return 0;
  } finally {
    rtnl.close();
  }
}
