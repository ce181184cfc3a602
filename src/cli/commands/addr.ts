/**
 * `weft addr ls|add|replace|del` with `ip addr` syntax:
 *   weft addr add 10.0.0.1/24 dev br0 --netns h1
 *   weft addr ls [dev DEV] --json     (fields as `ip -j addr`)
 */
import { InvalidArgumentError } from '../../errors.js';
import { type AddressSpec, addAddress, deleteAddress, listAddresses, replaceAddress } from '../../netlink/rtnetlink/addr.js';
import { addressesToJson } from '../iproute-json.js';
import { Words, runIprouteVerb } from '../iproute-verb.js';

export const summary = 'list and change addresses (ip addr syntax): ls | add | replace | del';

export function parseAddr(words: string[]): AddressSpec {
  const w = new Words(words);
  const s: Partial<AddressSpec> = {};
  while (!w.done) {
    const word = w.next();
    switch (word) {
      case 'dev': s.dev = w.value('dev'); break;
      case 'brd': case 'broadcast': s.broadcast = w.value('broadcast'); break;
      case 'label': s.label = w.value('label'); break;
      case 'nodad': s.nodad = true; break;
      case 'scope': {
        const v = w.value('scope');
        if (!['global', 'link', 'host'].includes(v)) throw new InvalidArgumentError('scope must be global, link or host');
        s.scope = v as AddressSpec['scope'];
        break;
      }
      case 'local': s.address = w.value('local'); break;
      default:
        if (s.address !== undefined) throw new InvalidArgumentError(`unknown addr option ${JSON.stringify(word)}`);
        s.address = word;
    }
  }
  if (s.address === undefined) throw new InvalidArgumentError('addr needs an address');
  if (s.dev === undefined) throw new InvalidArgumentError('addr needs `dev DEV`');
  return s as AddressSpec;
}

export function run(args: string[]): Promise<number> {
  return runIprouteVerb('addr', args, {
    async list(rtnl, words, json) {
      const dev = words[0] === 'dev' ? words[1] : words[0];
      const [addrs, links] = await Promise.all([listAddresses(rtnl), rtnl.links()]);
      const shown = dev !== undefined ? links.filter((l) => l.name === dev) : links;
      if (dev !== undefined && shown.length === 0) throw new InvalidArgumentError(`device ${JSON.stringify(dev)} does not exist`);
      const out = addressesToJson(shown, addrs, links);
      if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else for (const l of out) {
        process.stdout.write(`${l.ifindex}: ${l.ifname}: <${(l.flags as string[]).join(',')}> mtu ${l.mtu}\n`);
        for (const a of l.addr_info as Record<string, unknown>[]) {
          process.stdout.write(`    ${a.family} ${a.local}/${a.prefixlen}${a.broadcast ? ` brd ${a.broadcast}` : ''} scope ${a.scope}${a.label ? ` ${a.label}` : ''}\n`);
        }
      }
    },
    changes: {
      add: (rtnl, words) => addAddress(rtnl, parseAddr(words)),
      replace: (rtnl, words) => replaceAddress(rtnl, parseAddr(words)),
      del: (rtnl, words) => deleteAddress(rtnl, parseAddr(words)),
    },
  });
}
