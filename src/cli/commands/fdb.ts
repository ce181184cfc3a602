/**
 * `weft fdb ls|add|append|replace|del` with bridge(8)'s syntax:
 *   weft fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.2 --netns h1
 *   weft fdb ls dev vx0 --json          (fields as `bridge -j fdb show`)
 */
import { InvalidArgumentError } from '../../errors.js';
import type { Rtnl } from '../../netlink/rtnetlink/handle.js';
import { type FdbOp, type FdbSpec, fdbBatch, listFdb } from '../../netlink/rtnetlink/fdb.js';
import { fdbToJson } from '../iproute-json.js';
import { Words, runIprouteVerb, withLinkNames } from '../iproute-verb.js';

export const summary = 'list and change FDB entries (bridge fdb syntax): ls | add | append | replace | del';

export function parseFdb(words: string[]): FdbSpec {
  const w = new Words(words);
  if (w.done) throw new InvalidArgumentError('fdb needs a MAC address');
  const mac = w.next();
  const s: Partial<FdbSpec> & { mac: string } = { mac };
  while (!w.done) {
    const word = w.next();
    switch (word) {
      case 'dev': s.dev = w.value('dev'); break;
      case 'dst': s.dst = w.value('dst'); break;
      case 'vni': s.vni = w.int('vni', 0, 0xffffff); break;
      case 'port': s.port = w.int('port', 1, 65535); break;
      case 'via': s.via = w.value('via'); break;
      case 'vlan': s.vlan = w.int('vlan', 1, 4094); break;
      case 'self': s.self = true; break;
      case 'master': s.master = true; break;
      case 'sticky': s.sticky = true; break;
      case 'permanent': s.state = 'permanent'; break;
      case 'static': s.state = 'static'; break;
      case 'dynamic': s.state = 'dynamic'; break;
      default: throw new InvalidArgumentError(`unknown fdb option ${JSON.stringify(word)}`);
    }
  }
  if (s.dev === undefined) throw new InvalidArgumentError('fdb needs `dev DEV`');
  return s as FdbSpec;
}

const change = (op: FdbOp) => (rtnl: Rtnl, words: string[]) => fdbBatch(rtnl, op, [parseFdb(words)]);

export function run(args: string[]): Promise<number> {
  return runIprouteVerb('fdb', args, {
    async list(rtnl, words, json) {
      const dev = words[0] === 'dev' ? words[1] : undefined;
      const [entries, names] = await withLinkNames(rtnl, listFdb(rtnl, dev !== undefined ? { dev } : {}));
      const out = entries.map((e) => fdbToJson(e, names));
      if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else for (const e of out) {
        const parts = [e.mac, 'dev', e.ifname];
        for (const k of ['vlan', 'master', 'dst', 'port', 'vni', 'via']) if (e[k] !== undefined) parts.push(k, String(e[k]));
        parts.push(...(e.flags as string[]));
        if (e.state) parts.push(String(e.state));
        process.stdout.write(`${parts.join(' ')}\n`);
      }
    },
    changes: { add: change('add'), append: change('append'), replace: change('replace'), del: change('del') },
  });
}
