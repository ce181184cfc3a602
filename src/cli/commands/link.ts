/** `weft link ls [--netns NAME] [--json]`: links through weft's own netlink code. */
import { InvalidArgumentError } from '../../errors.js';
import { Rtnl } from '../../netlink/rtnetlink/handle.js';
import type { Link } from '../../netlink/rtnetlink/link.js';
import { commonFlags } from '../args.js';
import { linkToJson, linkToText } from '../iproute-json.js';

export const summary = 'list and change links (ip link syntax): ls';

async function list(netns: string | undefined, json: boolean, names: string[]): Promise<number> {
  const rtnl = Rtnl.open(netns !== undefined ? { netns } : {});
  try {
    const links = await rtnl.links();
    const byIndex = new Map<number, Link>(links.map((l) => [l.index, l]));
    const shown = names.length ? links.filter((l) => names.includes(l.name)) : links;
    if (names.length && shown.length === 0) throw new InvalidArgumentError(`device ${JSON.stringify(names[0])} does not exist`);
    if (json) process.stdout.write(`${JSON.stringify(shown.map((l) => linkToJson(l, byIndex)))}\n`);
    else for (const l of shown) process.stdout.write(`${linkToText(l, byIndex)}\n`);
    return 0;
  } finally {
    rtnl.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const { netns, json, rest } = commonFlags(args);
  const [verb = 'ls', ...more] = rest;
  switch (verb) {
    case 'ls':
    case 'list':
    case 'show': {
      const names = more[0] === 'dev' ? more.slice(1, 2) : more.slice(0, 1);
      return list(netns, json, names);
    }
    default:
      throw new InvalidArgumentError(`unknown link verb '${verb}' (ls)`);
  }
}
